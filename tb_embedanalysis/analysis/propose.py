"""Float32 proposals: the K' rows with the smallest ranking keys per query, in blocks of
bounded memory, ordered by (key, row).

Keys (neighbors.py's module docstring) come from one matrix product on the working matrix W
(frame.py): cosine −(w·q)/‖w‖, euclidean ‖w‖² − 2 w·q. They only *propose*: neighbors.finish
makes the answer exact (exact.py). Two paths return the same rows in the same order:
smallest_k over whole key rows, and the column sweep (a running K'-th key per query) that
blocks of many queries take; merge_topk merges top-k lists by (key, row) for certified.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Tuple

import numpy as np

from tb_embedanalysis.analysis import numba_cache, tie_order

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
#: (1,024 × 512 float32 products = 2 MB: they stay in a core's L2 cache until topk_fold has
#: read them), for K' up to SWEEP_MAX_CANDIDATES (k ≤ 1,000; each query's heap or buffer takes any K';
#: the numpy sweep before it merged survivors and stopped at 64: its merges peaked at 257 MB
#: at K' = 250 on rows with 1,000 copies) and N ≥ SWEEP_MIN_RATIO · K': one core, 1,024
#: queries × 20,000 × 128 unclustered, sweep / whole rows: K' = 250 0.20 / 0.37 s, K' = 1,250
#: 0.69 / 0.56 s (the heap's pushes grow with K'); half the rows one point: 0.45 / 1.41 s.
SWEEP_ROWS = 1024
SWEEP_COLUMNS = 512
SWEEP_MAX_CANDIDATES = 2048
SWEEP_MIN_RATIO = 32
#: Against fewer rows than this the sweep is taken only once its numba kernel has been compiled
#: in this process (topk_fold.compiled): `import numba` and the compile cost ~1.5 CPU-s, more
#: than the sweep saves at small N (10,000 × 32 graph, one core: sweep 0.33 CPU-s, whole rows
#: 0.8; the metric choice's 2,000-row graphs 0.05 s against 0.08 s), and a cold tab paid them
#: on its critical path: 1.2 s of a 2.4 s cold cluster table at 10,000 points (issue 25.4).
#: From here on the pass is long enough to pay for the compile (certified_graph.MIN_ROWS).
SWEEP_COLD_MIN_ROWS = 20_000


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
            order = tie_order.by_group_key_row(r, block[rows[r], c], c)
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
    ascending by (key, row); `exclude` (m,) row left out per query, −1 = none."""
    return propose_keyed(prep, wq, kk, exclude)[0]


def propose_keyed(prep: PreparedMatrix, wq: np.ndarray, kk: int, exclude: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """propose()'s rows (m, kk) int64 and their float32 keys (m, kk). Memory: one block of
    at most BLOCK_ELEMENTS keys, so any N works.

    Blocks of at least MIN_BLOCK_ROWS queries against N ≥ 2·SWEEP_COLUMNS rows go through
    _sweep (a running threshold per query, no partition over N) when N ≥ SWEEP_COLD_MIN_ROWS
    or its kernel is compiled already; the rest through smallest_k on whole key rows. Both
    return the same rows in the same order."""
    m, n = wq.shape[0], prep.work.shape[0]
    if (m >= MIN_BLOCK_ROWS and n >= 2 * SWEEP_COLUMNS and kk <= SWEEP_MAX_CANDIDATES
            and n >= SWEEP_MIN_RATIO * kk and prep.work.dtype == np.float32 and _sweep_pays(n)):
        out = np.empty((m, kk), dtype=np.int64)
        out_keys = np.empty((m, kk), dtype=prep.work.dtype)
        for start in range(0, m, SWEEP_ROWS):
            stop = min(m, start + SWEEP_ROWS)
            if m - stop < MIN_BLOCK_ROWS:  # no tail block under MIN_BLOCK_ROWS (a product's bits
                stop = m                   # depend on its shape below that: certified_keys.PAD)
            out[start:stop], out_keys[start:stop] = _sweep(prep, wq[start:stop], kk, exclude[start:stop])
            if stop == m:
                break
        return out, out_keys
    return _propose_whole(prep, wq, kk, exclude)


def _sweep_pays(n: int) -> bool:
    """Whether a sweep against n rows pays (SWEEP_COLD_MIN_ROWS): without importing numba."""
    # A warm-up thread (kernel_warmup) may be importing it right now: a partly initialised
    # module has no `compiled` yet (an AttributeError there was a 500 / a CLI bug).
    return n >= SWEEP_COLD_MIN_ROWS or numba_cache.compiled(__name__.rpartition(".")[0] + ".topk_fold")


def _propose_whole(prep: PreparedMatrix, wq: np.ndarray, kk: int, exclude: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """propose_keyed() by smallest_k over whole key rows, in blocks of block_rows(N) queries."""
    m, n = wq.shape[0], prep.work.shape[0]
    out = np.empty((m, kk), dtype=np.int64)
    out_keys = np.empty((m, kk), dtype=prep.work.dtype)
    step = block_rows(n)
    for start in range(0, m, step):
        keys = keys_excluding(prep, wq[start:start + step], exclude[start:start + step])
        sel = smallest_k(keys, kk)
        out[start:start + step] = sel
        out_keys[start:start + step] = np.take_along_axis(keys, sel, axis=1)
    return out, out_keys


def _sweep(prep: PreparedMatrix, wq: np.ndarray, kk: int, exclude: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """propose() for one block of queries `wq` (m, D), m ≥ MIN_BLOCK_ROWS, in column blocks of
    SWEEP_COLUMNS rows: the product of each block goes to topk_fold.fold, which keeps each
    query's kk best (key, row) in a buffer and lets in only keys below its current worst (no
    partition over N, no (m × N) keys: on unclustered data a few per block enter). Keys are
    row_keys()' own bit for bit (each product ≥ MIN_BLOCK_ROWS × SWEEP_COLUMNS, scaled with
    the same single rounding). A query left with fewer than kk non-NaN keys is redone by
    smallest_k (NaN ranks last there)."""
    from tb_embedanalysis.analysis import topk_fold  # numba: imported when a sweep first runs

    m, n = wq.shape[0], prep.work.shape[0]
    best = topk_fold.Running.start(m, kk, n)  # padding row n: after every real one
    invalid = ~prep.valid
    exclude = np.ascontiguousarray(exclude, dtype=np.int64)
    wq = np.ascontiguousarray(wq, dtype=np.float32)
    out = np.empty((m, SWEEP_COLUMNS), dtype=np.float32)
    bounds = list(range(0, n - SWEEP_COLUMNS, SWEEP_COLUMNS))  # the last block takes the rest (≥ SWEEP_COLUMNS)
    for c0, c1 in zip(bounds, bounds[1:] + [n]):
        if c1 - c0 == SWEEP_COLUMNS:
            dots = np.matmul(wq, prep.work[c0:c1].T, out=out)
        else:
            dots = wq @ prep.work[c0:c1].T
        topk_fold.fold(dots, prep.key_scale[c0:c1], prep.metric == "euclidean", invalid[c0:c1], exclude, c0, best)
    best_idx, best_keys = topk_fold.ordered(best)
    short = np.flatnonzero((best_idx == n).any(axis=1))
    if short.size:  # fewer than kk non-NaN keys: the whole row as smallest_k ranks it, in a
        # product of at least MIN_BLOCK_ROWS rows (the block's first rows fill it) for its bits
        redo = np.union1d(short, np.arange(min(m, MIN_BLOCK_ROWS)))
        found, found_keys = _propose_whole(prep, wq[redo], kk, exclude[redo])
        best_idx[short] = found[np.searchsorted(redo, short)]
        best_keys[short] = found_keys[np.searchsorted(redo, short)]
    return best_idx, best_keys


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
    order = tie_order.by_group_key_row(q, all_keys, all_idx)
    q, all_idx, all_keys = q[order], all_idx[order], all_keys[order]
    rank = np.arange(q.size) - np.searchsorted(q, np.arange(m))[q]
    keep = rank < k  # every query has its k (padded) best entries, so k kept each
    return all_idx[keep].reshape(m, k), all_keys[keep].reshape(m, k)
