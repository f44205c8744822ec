"""Float32 proposals: the K' rows with the smallest ranking keys per query, in blocks of
bounded memory, ordered by (key, row).

Keys (neighbors.py's module docstring) come from one matrix product on the working matrix W
(frame.py): cosine −(w·q)/‖w‖, euclidean ‖w‖² − 2 w·q. They only *propose*: neighbors.finish
makes the answer exact (exact.py). Two paths return the same rows in the same order:
smallest_k over whole key rows, and the column sweep (a running K'-th key per query) that
blocks of many queries take; merge_topk merges top-k lists by (key, row) for certified.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # neighbors imports this module: the type only, no import cycle
    from tb_embedanalysis.analysis.neighbors import PreparedMatrix

#: Elements of one (query block × N) key matrix at most: 2**24 float32 ≈ 64 MB, whatever N is.
BLOCK_ELEMENTS = 1 << 24
#: Elements of a key block when N allows: 2**20 float32 = 4 MB stays in the CPU's caches
#: through the product, scaling and selection (10,000 × 32 graph: 0.35 CPU-s vs 0.83 CPU-s
#: with 64 MB blocks), but never fewer than MIN_BLOCK_ROWS rows (fewer make the product slow).
CACHE_ELEMENTS = 1 << 20
MIN_BLOCK_ROWS = 64
#: smallest_k partitions a copy of at most this many keys at a time (4 MB of float32).
PARTITION_ELEMENTS = 1 << 20
#: smallest_k sorts at most this many candidate keys per row (more: the row alone, stably).
TIE_CANDIDATES = 1024
#: propose() sweeps blocks of SWEEP_ROWS queries over column blocks of SWEEP_COLUMNS rows
#: (1,024 × 1,024 float32 keys = 4 MB, CACHE_ELEMENTS), for K' up to SWEEP_MAX_CANDIDATES
#: (beyond, too many keys survive each block to gain). One core, 1,024 queries × 50,000 ×
#: 128, best of 4: 0.210 s; 256 × 2,048: 0.239 s (4× the merges); the product alone 0.155 s.
#: 64, not 256: at K' = 250 on rows with 1,000 copies each the sweep's merges peaked at 257 MB
#: against the working-memory estimate's 105 MB (tests/test_work_memory.py); k ≤ 50 sweeps.
SWEEP_ROWS = 1024
SWEEP_COLUMNS = 1024
SWEEP_MAX_CANDIDATES = 64


def row_keys(prep: PreparedMatrix, queries: np.ndarray) -> np.ndarray:
    """(m, N) ranking keys of W-space `queries` (m, D) against every row: smaller = nearer."""
    if queries.shape[0] == 1:  # one matrix-vector product (sgemv), the single-query fast path
        keys = (prep.work @ queries[0])[None, :]
    else:
        keys = queries @ prep.work.T
    if prep.metric == "cosine":
        keys *= prep.key_scale  # −cos·‖q‖: ranks like −cos
    else:
        keys *= -2
        keys += prep.key_scale  # ‖x‖² − 2 x·q
    if prep.invalid_rows.size:
        keys[:, prep.invalid_rows] = np.inf
    return keys


def smallest_k(keys: np.ndarray, k: int) -> np.ndarray:
    """(m, k) column indices of the k smallest keys per row of `keys` (m, N), ascending,
    equal keys ordered by index (NaN counts as the largest key).

    The k-th smallest key of each row comes from np.partition of a copy of a few rows at a
    time (PARTITION_ELEMENTS: argpartition of the whole block made an (m, N) int64 array,
    twice the keys' own bytes); the keys ≤ it are then sorted by (key, index). A row where
    that leaves more than TIE_CANDIDATES keys (many ties at the cut) or fewer than k (NaN)
    is sorted stably on its own.
    """
    m, n = keys.shape
    if k >= n:
        return np.argsort(keys, axis=1, kind="stable")[:, :k]
    out = np.empty((m, k), dtype=np.int64)
    step = max(1, PARTITION_ELEMENTS // n)
    limit = max(TIE_CANDIDATES, 4 * k)
    for start in range(0, m, step):
        block = keys[start:start + step]
        kth = np.partition(block, k - 1, axis=1)[:, k - 1]
        below = block <= kth[:, None]
        count = np.count_nonzero(below, axis=1)
        plain = (count >= k) & (count <= limit)
        rows = np.flatnonzero(plain)
        if rows.size:
            r, c = np.nonzero(below[rows])
            order = np.lexsort((c, block[rows[r], c], r))
            r, c = r[order], c[order]
            rank = np.arange(r.size) - np.searchsorted(r, r)
            out[start + rows] = c[rank < k].reshape(rows.size, k)
        for row in np.flatnonzero(~plain):  # ties at the cut or NaN: this row stably
            out[start + row] = np.argsort(block[row], kind="stable")[:k]
    return out


def block_rows(n: int) -> int:
    """Query rows per block of keys against n rows (see CACHE_ELEMENTS, BLOCK_ELEMENTS)."""
    rows = max(CACHE_ELEMENTS // max(n, 1), MIN_BLOCK_ROWS)
    return max(1, min(rows, BLOCK_ELEMENTS // max(n, 1)))


def propose(prep: PreparedMatrix, wq: np.ndarray, kk: int, exclude: np.ndarray) -> np.ndarray:
    """(m, kk) int64: the kk best rows of each W-space query `wq` (m, D) by float32 key,
    ascending by (key, row); `exclude` (m,) row left out per query, −1 = none. Memory: one
    block of at most BLOCK_ELEMENTS keys, so any N works.

    Blocks of at least MIN_BLOCK_ROWS queries against N ≥ 2·SWEEP_COLUMNS rows go through
    _sweep (a running threshold per query, no partition over N); the rest through smallest_k
    on whole key rows. Both return the same rows in the same order."""
    m, n = wq.shape[0], prep.work.shape[0]
    if (m >= MIN_BLOCK_ROWS and n >= 2 * SWEEP_COLUMNS and kk <= SWEEP_MAX_CANDIDATES
            and prep.work.dtype == np.float32):
        out = np.empty((m, kk), dtype=np.int64)
        for start in range(0, m, SWEEP_ROWS):
            stop = min(m, start + SWEEP_ROWS)
            if m - stop < MIN_BLOCK_ROWS:  # no tail block under MIN_BLOCK_ROWS (a product's bits
                stop = m                   # depend on its shape below that: certified_keys.PAD)
            out[start:stop] = _sweep(prep, wq[start:stop], kk, exclude[start:stop])
            if stop == m:
                break
        return out
    return _propose_whole(prep, wq, kk, exclude)


def _propose_whole(prep: PreparedMatrix, wq: np.ndarray, kk: int, exclude: np.ndarray) -> np.ndarray:
    """propose() by smallest_k over whole key rows, in blocks of block_rows(N) queries."""
    m, n = wq.shape[0], prep.work.shape[0]
    out = np.empty((m, kk), dtype=np.int64)
    step = block_rows(n)
    for start in range(0, m, step):
        keys = keys_excluding(prep, wq[start:start + step], exclude[start:start + step])
        out[start:start + step] = smallest_k(keys, kk)
    return out


def _sweep(prep: PreparedMatrix, wq: np.ndarray, kk: int, exclude: np.ndarray) -> np.ndarray:
    """propose() for one block of queries `wq` (m, D), m ≥ MIN_BLOCK_ROWS, in column blocks of
    SWEEP_COLUMNS rows: each query keeps its kk best (key, row) so far, and of each new key
    block only the keys below its current kk-th key survive (a compare and a nonzero, no
    partition over N: on unclustered data a few per block do). A key equal to the kk-th
    with a larger row would rank after it, so "below" is exact for (key, row) order. Keys
    are row_keys()' own bit for bit (each product ≥ MIN_BLOCK_ROWS × SWEEP_COLUMNS). A query
    left with fewer than kk non-NaN keys is redone by smallest_k (NaN ranks last there)."""
    m, n = wq.shape[0], prep.work.shape[0]
    best_idx = np.full((m, kk), n, dtype=np.int64)  # n: a padding row after every real one
    best_keys = np.full((m, kk), np.inf, dtype=prep.work.dtype)
    invalid = prep.invalid_rows
    bounds = list(range(0, n - SWEEP_COLUMNS, SWEEP_COLUMNS))  # the last block takes the rest (≥ SWEEP_COLUMNS)
    for c0, c1 in zip(bounds, bounds[1:] + [n]):
        keys = wq @ prep.work[c0:c1].T
        if prep.metric == "cosine":
            keys *= prep.key_scale[c0:c1]
        else:
            keys *= -2
            keys += prep.key_scale[c0:c1]
        if invalid.size:
            lo, hi = np.searchsorted(invalid, (c0, c1))
            keys[:, invalid[lo:hi] - c0] = np.inf
        mine = np.flatnonzero((exclude >= c0) & (exclude < c1))
        keys[mine, exclude[mine] - c0] = np.inf
        if c0 == 0:  # the first block by partition (a sort of all its keys costs more)
            first = smallest_k(keys, kk)
            best_keys = np.take_along_axis(keys, first, axis=1)
            nan = np.isnan(best_keys)  # NaN ranks last: padding instead, so later keys can pass
            best_idx = np.where(nan, n, first)
            best_keys[nan] = np.inf
            continue
        # Below the kk-th key (strictly: nextafter), or anything but NaN while padding remains.
        thr = np.nextafter(best_keys[:, -1], -np.inf)
        thr[(best_idx == n).any(axis=1)] = np.inf
        # flatnonzero + divmod: 2-D np.nonzero took 0.7 of the product's time on a 256 × 2,048
        # block where none passed, flatnonzero 0.01.
        flat = np.flatnonzero(keys <= thr[:, None])
        if flat.size:
            r, c = np.divmod(flat, c1 - c0)
            # Only the queries that have survivors are merged (after a few blocks, most have none).
            hit, r = np.unique(r, return_inverse=True)
            best_idx[hit], best_keys[hit] = _merge_after(best_idx[hit], best_keys[hit], r, c + c0,
                                                         keys[hit[r], c])
    short = np.flatnonzero((best_idx == n).any(axis=1))
    if short.size:  # fewer than kk non-NaN keys: the whole row as smallest_k ranks it, in a
        # product of at least MIN_BLOCK_ROWS rows (the block's first rows fill it) for its bits
        redo = np.union1d(short, np.arange(min(m, MIN_BLOCK_ROWS)))
        found = _propose_whole(prep, wq[redo], kk, exclude[redo])
        best_idx[short] = found[np.searchsorted(redo, short)]
    return best_idx


def _sortable(keys: np.ndarray) -> np.ndarray:
    """uint64 of float32 `keys` (non-NaN) that orders as the floats do, −0.0 equal to +0.0."""
    bits = (keys + np.float32(0)).view(np.uint32).astype(np.uint64)  # + 0: −0.0 becomes +0.0
    return np.where(bits >= 1 << 31, (1 << 32) - 1 - bits, bits | (1 << 31))


def _merge_after(best_idx, best_keys, rows, idx, keys):
    """merge_topk where every survivor's row `idx` comes after the real rows of `best` (the
    sweep's column blocks ascend, and `idx` ascends per query): one stable sort by (query,
    key) then orders by (query, key, row), in place of merge_topk's three-key lexsort. The
    padding row n may end before a real +inf key: then the query ends padded and is redone
    by smallest_k (_sweep's `short`)."""
    m, k = best_idx.shape
    q = np.concatenate([np.repeat(np.arange(m, dtype=np.uint64), k), rows.astype(np.uint64)])
    all_idx = np.concatenate([best_idx.ravel(), idx])
    all_keys = np.concatenate([best_keys.ravel(), keys])
    order = np.argsort((q << np.uint64(32)) | _sortable(all_keys), kind="stable")
    q = q[order].astype(np.int64)
    rank = np.arange(q.size) - np.searchsorted(q, np.arange(m))[q]
    keep = order[rank < k]
    return all_idx[keep].reshape(m, k), all_keys[keep].reshape(m, k)


def keys_excluding(prep: PreparedMatrix, wq: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """row_keys with each query's `exclude` row (−1 = none) at +inf."""
    keys = row_keys(prep, wq)
    rows = np.flatnonzero(exclude >= 0)
    keys[rows, exclude[rows]] = np.inf
    return keys


def merge_topk(best_idx, best_keys, rows, idx, keys):
    """The k smallest by (key, row index) per query of `best` (m, k) plus the survivors
    (query row `rows`, row index `idx`, key `keys`), as (m, k) arrays."""
    m, k = best_idx.shape
    q = np.concatenate([np.repeat(np.arange(m), k), rows])
    all_idx = np.concatenate([best_idx.ravel(), idx])
    all_keys = np.concatenate([best_keys.ravel(), keys])
    order = np.lexsort((all_idx, all_keys, q))
    q, all_idx, all_keys = q[order], all_idx[order], all_keys[order]
    rank = np.arange(q.size) - np.searchsorted(q, np.arange(m))[q]
    keep = rank < k  # every query has its k (padded) best entries, so k kept each
    return all_idx[keep].reshape(m, k), all_keys[keep].reshape(m, k)
