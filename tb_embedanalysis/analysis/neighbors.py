"""Exact k-nearest-neighbour search on raw vectors, in row blocks of bounded memory.

Distances (no hidden normalisation of the stored vectors), as exact.py's float64 oracle:

* ``cosine``:    d(a, b) = 1 − a·b / (‖a‖ ‖b‖), range [0, 2]; a zero vector is at distance
  exactly 1 from everything (cos taken as 0), never NaN.
* ``euclidean``: d(a, b) = ‖a − b‖₂, range [0, ∞).

Search *proposes* by a float32 key that orders like the distance but needs only one matrix
product (cosine: −cos·‖q‖; euclidean: ‖w‖² − 2 w·q), computed on the working matrix W of
frame.py (translated and scaled so that keys neither cancel nor overflow), and keeps the K'
best (K' > k: candidates()). exact.py then computes their distances in float64 from the
stored rows and proves that no other row can rank; a query it cannot prove (a near-tie
beyond float32's resolution) is proposed again with a larger K', then scanned in float64.
So every answer is the float64 oracle's, for any finite input. The query row itself and
rows outside ``valid`` are never returned; ties (equal distances) are ordered by row index.
All returned indices are indices into the original matrix.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Tuple

import numpy as np

from tb_embedanalysis.analysis import exact, frame as frame_mod
from tb_embedanalysis.analysis.blas import one_blas_thread, share_out
from tb_embedanalysis.analysis.progress import ProgressFn

METRICS = ("cosine", "euclidean")
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
#: knn_graph searches row chunks of GRAPH_CHUNK_ROWS on up to GRAPH_THREADS threads, BLAS on
#: one thread each (numpy releases the GIL in the product and the selection).
GRAPH_THREADS = min(2, os.cpu_count() or 1)
GRAPH_CHUNK_ROWS = 1024
#: propose() sweeps blocks of SWEEP_ROWS queries over column blocks of SWEEP_COLUMNS rows
#: (1,024 × 1,024 float32 keys = 4 MB, CACHE_ELEMENTS), for K' up to SWEEP_MAX_CANDIDATES
#: (beyond, too many keys survive each block to gain). One core, 1,024 queries × 50,000 ×
#: 128, best of 4: 0.210 s; 256 × 2,048: 0.239 s (4× the merges); the product alone 0.155 s.
#: 64, not 256: at K' = 250 on rows with 1,000 copies each the sweep's merges peaked at 257 MB
#: against the working-memory estimate's 105 MB (tests/test_work_memory.py); k ≤ 50 sweeps.
SWEEP_ROWS = 1024
SWEEP_COLUMNS = 1024
SWEEP_MAX_CANDIDATES = 64
#: A query exact.refine cannot prove is proposed again with max(RETRY_FACTOR·K', RETRY_MIN)
#: candidates before it is scanned in float64.
RETRY_FACTOR = 8
RETRY_MIN = 256


def candidates(k: int) -> int:
    """K': how many rows the float32 keys propose for an exact top k (a margin for exact.py's
    proof: the K'-th key must clear the k-th distance by the keys' rounding bound). On
    100,000 × 64 in tight clusters K' = 12 for k = 10 proved 85-92 % of the rows (the rest
    need a wider proposal), K' = 15 99.9-100 %."""
    return k + max(5, k // 4)


def graph_index_dtype(n: int) -> np.dtype:
    """dtype of a kNN graph's indices over n rows: int32 while every index and −1 fit."""
    return np.dtype(np.int32) if n < 2 ** 31 else np.dtype(np.int64)


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError("unknown metric %r; metrics: %s" % (metric, ", ".join(METRICS)))
    return metric


def as_matrix(vectors) -> np.ndarray:
    """(N, D) float32/float64 view of `vectors` (other dtypes are converted to float32)."""
    matrix = np.asarray(vectors)
    if matrix.ndim != 2:
        raise ValueError("vectors must be a 2-D (N, D) array, got shape %s" % (matrix.shape,))
    if matrix.dtype not in (np.float32, np.float64):
        matrix = matrix.astype(np.float32)
    return matrix


@dataclasses.dataclass(frozen=True)
class NeighborResult:
    """k neighbours of one point: indices (k,) int64 into the original matrix, distances (k,)
    float64 ascending (ties by index), exact = False when the approximate index answered."""

    indices: np.ndarray
    distances: np.ndarray
    exact: bool


@dataclasses.dataclass(frozen=True)
class KnnGraph:
    """k neighbours of every valid row (query row excluded).

    indices: (N, k) graph_index_dtype(N) (int32 below 2**31 rows: half the bytes of int64
    in memory and in the disk cache) into the original matrix, rows of invalid points are −1.
    distances: (N, k) float64, ascending per row; NaN on invalid rows.
    """

    indices: np.ndarray
    distances: np.ndarray
    metric: str
    k: int
    exact: bool


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedMatrix:
    """The matrix plus what every query reuses: computed once per (fingerprint, metric).

    matrix: (N, D) float32/float64, the stored rows, not copied (distances come from them).
    frame: the working matrix W that keys are computed on (frame.py; W is `matrix` itself
    unless offsets or magnitudes need otherwise). valid: (N,) bool. key_scale (N,) of W's
    rows: cosine −1/‖w‖ (0 for zero or invalid rows), euclidean ‖w‖² (0 for invalid rows).
    invalid_rows: indices whose key is forced to +inf.
    """

    matrix: np.ndarray
    metric: str
    valid: np.ndarray
    key_scale: np.ndarray
    invalid_rows: np.ndarray
    frame: frame_mod.Frame

    @property
    def work(self) -> np.ndarray:
        """W (N, D) float32: the rows keys are computed on."""
        return self.frame.work

    @property
    def n_valid(self) -> int:
        return int(self.valid.size - self.invalid_rows.size)

    @property
    def nbytes(self) -> int:
        """Bytes this object adds: the matrix itself belongs to the loaded embedding."""
        return int(self.valid.nbytes + self.key_scale.nbytes + self.invalid_rows.nbytes + self.frame.nbytes)


def prepare(vectors, metric: str, valid=None) -> PreparedMatrix:
    """Row norms of `vectors` (N, D) for `metric`; `valid` (N,) bool, default all rows."""
    check_metric(metric)
    matrix = as_matrix(vectors)
    n = matrix.shape[0]
    valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if valid.shape != (n,):
        raise ValueError("valid must have shape (%d,), got %s" % (n, valid.shape))
    frame = frame_mod.build(matrix, valid, metric)
    work = frame.work
    sq = np.zeros(n, dtype=work.dtype)
    with np.errstate(over="ignore", under="ignore"):  # invalid rows (NaN, Inf) when W is the stored matrix
        for start in range(0, n, 65536):  # blocks: no (N, D) temporary
            block = work[start:start + 65536]
            sq[start:start + 65536] = np.einsum("ij,ij->i", block, block)
    sq[~valid] = 0
    if metric == "cosine":
        with np.errstate(divide="ignore"):
            scale = np.where(sq > 0, -1.0 / np.sqrt(sq), 0.0).astype(work.dtype)
    else:
        scale = sq
    return PreparedMatrix(matrix, metric, valid, scale, np.flatnonzero(~valid), frame)


def _keys(prep: PreparedMatrix, queries: np.ndarray) -> np.ndarray:
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
        keys = _keys_excluding(prep, wq[start:start + step], exclude[start:start + step])
        out[start:start + step] = smallest_k(keys, kk)
    return out


def _sweep(prep: PreparedMatrix, wq: np.ndarray, kk: int, exclude: np.ndarray) -> np.ndarray:
    """propose() for one block of queries `wq` (m, D), m ≥ MIN_BLOCK_ROWS, in column blocks of
    SWEEP_COLUMNS rows: each query keeps its kk best (key, row) so far, and of each new key
    block only the keys below its current kk-th key survive (a compare and a nonzero, no
    partition over N: on unclustered data a few per block do). A key equal to the kk-th
    with a larger row would rank after it, so "below" is exact for (key, row) order. Keys
    are _keys' own bit for bit (each product ≥ MIN_BLOCK_ROWS × SWEEP_COLUMNS). A query
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


def _keys_excluding(prep: PreparedMatrix, wq: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """_keys with each query's `exclude` row (−1 = none) at +inf."""
    keys = _keys(prep, wq)
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


def available(prep: PreparedMatrix, exclude: np.ndarray) -> np.ndarray:
    """(m,) how many rows a query can have as neighbours: the valid rows but its own."""
    ex = np.asarray(exclude)
    own = (ex >= 0) & prep.valid[np.maximum(ex, 0)]
    return prep.n_valid - own.astype(np.int64)


def finish(prep: PreparedMatrix, queries: np.ndarray, wq: np.ndarray, cand: np.ndarray, k: int,
           exclude: np.ndarray, *, proposer=None) -> Tuple[np.ndarray, np.ndarray]:
    """Exact (indices (m, k) int64, distances (m, k) float64) from proposed candidates `cand`
    (m, K'): exact.refine; for the queries it cannot prove, a larger float32 proposal (by
    `proposer(wq, kk, exclude)`, default propose: the certified index passes its own), then
    a float64 one (exact.propose64), then the float64 scan. queries: stored-space values;
    wq: the same in W."""
    avail = available(prep, exclude)
    idx, dist, proven = exact.refine(prep, queries, cand, k, cand.shape[1] >= avail)
    todo = np.flatnonzero(~proven)
    if todo.size:  # a wider float32 proposal: near-ties, more duplicates than K'
        kk = int(min(avail[todo].min(), max(RETRY_FACTOR * cand.shape[1], RETRY_MIN)))
        if kk > cand.shape[1]:
            # In groups of rows no bigger than the first proposal (rows are independent): all
            # of a 1,024-row chunk at K' = 1,250 unproven (2,000 copies of a row) made its
            # (m, 10,000) arrays take +1.2 GB at once.
            step = max(1, cand.size // kk)
            unproven = []
            for start in range(0, todo.size, step):
                part = todo[start:start + step]
                if proposer is None:
                    wider = propose(prep, wq[part], kk, exclude[part])
                else:
                    wider = proposer(wq[part], kk, exclude[part])
                idx[part], dist[part], ok = exact.refine(prep, queries[part], wider, k, kk >= avail[part])
                unproven.append(part[~ok])
            todo = np.concatenate(unproven)
    if todo.size:  # float64 keys: distances below float32's resolution
        kk = int(min(avail[todo].min(), cand.shape[1]))
        wider = exact.propose64(prep, queries[todo], kk, exclude[todo])
        idx[todo], dist[todo], ok = exact.refine(prep, queries[todo], wider, k, kk >= avail[todo], unit=exact.U64)
        todo = todo[~ok]
    if todo.size:  # the oracle itself
        idx[todo], dist[todo] = exact.scan(prep, queries[todo], k, exclude[todo])
    return idx, dist


def search(prep: PreparedMatrix, queries, k: int, *, exclude=None) -> Tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows for each of `queries` (m, D), stored-space values (a stored row,
    or a free vector).

    exclude: (m,) int row index to leave out per query (the query itself), −1 = none.
    Returns (indices (m, k) int64, distances (m, k) float64): exact.py's oracle answer.
    """
    queries = np.asarray(queries, dtype=prep.matrix.dtype).reshape(-1, prep.matrix.shape[1])
    m = queries.shape[0]
    exclude = np.full(m, -1, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64).reshape(m)
    avail = available(prep, exclude)
    if not 1 <= k <= int(avail.min(initial=prep.n_valid)):
        raise ValueError("k must be between 1 and %d (valid rows%s), got %d"
                         % (int(avail.min(initial=prep.n_valid)), "" if (exclude < 0).all() else " minus the query", k))
    wq = work_queries(prep, queries, exclude)
    kk = int(min(candidates(k), avail.min()))
    return finish(prep, queries, wq, propose(prep, wq, kk, exclude), k, exclude)


def work_queries(prep: PreparedMatrix, queries: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """W-space queries: the W row itself where a query is a stored row (exclude ≥ 0), else
    frame.to_work of the free vector."""
    if not prep.frame.copied:
        return queries.astype(prep.work.dtype, copy=False)
    wq = prep.frame.to_work(queries)
    rows = np.flatnonzero(exclude >= 0)
    wq[rows] = prep.work[exclude[rows]]
    return wq


def knn_graph(prep: PreparedMatrix, k: int, *, on_progress: ProgressFn = None,
              threads: int = GRAPH_THREADS) -> KnnGraph:
    """Exact kNN graph of all valid rows (each row's own index excluded), in row chunks
    searched on `threads` threads with BLAS on one thread (one_blas_thread). Each row's
    answer is search()'s, whichever thread and chunk computes it."""
    n = prep.matrix.shape[0]
    rows = np.flatnonzero(prep.valid)
    if not 1 <= k <= rows.size - 1:
        raise ValueError("k must be between 1 and %d (valid rows − 1), got %d" % (rows.size - 1, k))
    indices = np.full((n, k), -1, dtype=graph_index_dtype(n))
    distances = np.full((n, k), np.nan)
    kk = min(candidates(k), rows.size - 1)
    lock, done = threading.Lock(), [0]

    def chunks(starts):
        for start in starts:
            block = rows[start:start + GRAPH_CHUNK_ROWS]
            wq = prep.work[block]
            cand = propose(prep, wq, kk, block)
            indices[block], distances[block] = finish(prep, prep.matrix[block], wq, cand, k, block)
            with lock:
                done[0] += block.size
                if on_progress is not None:
                    on_progress(min(1.0, done[0] / rows.size))

    with one_blas_thread():
        share_out(range(0, rows.size, GRAPH_CHUNK_ROWS), chunks, threads if rows.size > GRAPH_CHUNK_ROWS else 1,
                  name="knn-graph")
    return KnnGraph(indices, distances, prep.metric, k, exact=True)


def point_distances(a: np.ndarray, b: np.ndarray, metric: str, *, dtype=np.float64, centre=None) -> np.ndarray:
    """Distances (len(a), len(b)) between vectors `a` (m, D) and `b` (n, D), computed and
    returned in `dtype` (float32 halves the cost of large blocks). Worked in place on the
    product: one more (m, n) array at most (the cosine denominators, the euclidean sums).

    Euclidean distances are translation invariant: both sides are first moved by `centre`
    (D,) (default: the mean of `b`), in float64, so ‖a‖² + ‖b‖² − 2 a·b does not cancel on
    rows that share an offset (logits around +3,000 are 3 apart, not 0 or 5)."""
    if metric == "euclidean":
        a64 = np.asarray(a, dtype=np.float64)
        b64 = np.asarray(b, dtype=np.float64)
        if centre is None:
            centre = b64.mean(axis=0) if b64.shape[0] else 0.0
        a, b = a64 - centre, b64 - centre
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    dots = a @ b.T
    na = np.einsum("ij,ij->i", a, a)
    nb = np.einsum("ij,ij->i", b, b)
    if metric == "cosine":  # 1 − a·b / (‖a‖ ‖b‖), cos = 0 where a denominator is 0
        denom = np.outer(np.sqrt(na), np.sqrt(nb))
        zero = ~(denom > 0)
        denom[zero] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(dots, denom, out=dots)
        del denom
        dots[zero] = 0.0
        np.subtract(1.0, dots, out=dots)
        return np.clip(dots, 0.0, 2.0, out=dots)
    sums = np.add(na[:, None], nb[None, :])  # ‖a‖² + ‖b‖² − 2 a·b, clipped at 0
    dots *= 2.0
    sums -= dots
    del dots
    np.maximum(sums, 0.0, out=sums)
    # The expansion errs by ≤ 4 (D + 2) u (‖a‖ + ‖b‖)² in d²: where d² is within 1e8 times
    # that, d would lose more than ~1e-4 of itself (an exact duplicate comes out at 3e-8,
    # not 0), so those pairs are recomputed from their differences.
    u = float(np.finfo(dtype).eps) / 2
    ra, rb = np.sqrt(na), np.sqrt(nb)
    close = sums <= 1e8 * 4 * (a.shape[1] + 2) * u * np.square(ra[:, None] + rb[None, :])
    i, j = np.nonzero(close)
    del close
    # exact.BLOCK_ELEMENTS differences at a time: a block of exact duplicates is all close
    # (2**21 pairs × D = 64 made a 1 GB difference array at once).
    step = max(1, exact.BLOCK_ELEMENTS // max(1, a.shape[1]))
    for start in range(0, i.size, step):
        ii, jj = i[start:start + step], j[start:start + step]
        diff = a[ii] - b[jj]
        sums[ii, jj] = np.einsum("ij,ij->i", diff, diff)
    return np.sqrt(sums, out=sums)
