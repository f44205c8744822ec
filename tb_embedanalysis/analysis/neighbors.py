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
from tb_embedanalysis.analysis.graph_form import graph_distance_dtype, graph_index_dtype  # home: graph_form
from tb_embedanalysis.analysis.progress import ProgressFn
from tb_embedanalysis.analysis.propose import propose, propose_keyed

METRICS = ("cosine", "euclidean")
#: knn_graph searches row chunks of GRAPH_CHUNK_ROWS on up to GRAPH_THREADS threads, BLAS on
#: one thread each (numpy releases the GIL in the product and the selection).
GRAPH_THREADS = min(2, os.cpu_count() or 1)
GRAPH_CHUNK_ROWS = 1024
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
    distances: (N, k) graph_distance_dtype(N, k) (float64, or float32 for big graphs: the
    exact values rounded), ascending per row; NaN on invalid rows.
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
    # the stored rows' squared norms first; they decide the frame (frame.build's shortcuts)
    # and are W's own when W is the stored matrix: one pass over N × D, not two
    sq = _squared_norms(matrix)
    frame = frame_mod.build(matrix, valid, metric, sq=sq)
    work = frame.work
    if sq is None or frame.copied:
        sq = _squared_norms(work)
    sq[~valid] = 0
    if metric == "cosine":
        with np.errstate(divide="ignore"):
            scale = np.where(sq > 0, -1.0 / np.sqrt(sq), 0.0).astype(work.dtype)
    else:
        scale = sq
    return PreparedMatrix(matrix, metric, valid, scale, np.flatnonzero(~valid), frame)










def _squared_norms(work: np.ndarray) -> np.ndarray:
    """(N,) squared norms of the rows of `work` in its own dtype, in blocks (no (N, D) temporary)."""
    sq = np.zeros(work.shape[0], dtype=work.dtype)
    with np.errstate(over="ignore", under="ignore"):  # invalid rows (NaN, Inf) when W is the stored matrix
        for start in range(0, work.shape[0], 65536):
            block = work[start:start + 65536]
            sq[start:start + 65536] = np.einsum("ij,ij->i", block, block)
    return sq


def available(prep: PreparedMatrix, exclude: np.ndarray) -> np.ndarray:
    """(m,) how many rows a query can have as neighbours: the valid rows but its own."""
    ex = np.asarray(exclude)
    own = (ex >= 0) & prep.valid[np.maximum(ex, 0)]
    return prep.n_valid - own.astype(np.int64)


def finish(prep: PreparedMatrix, queries: np.ndarray, wq: np.ndarray, cand: np.ndarray, k: int,
           exclude: np.ndarray, *, proposer=None, keys=None) -> Tuple[np.ndarray, np.ndarray]:
    """Exact (indices (m, k) int64, distances (m, k) float64) from proposed candidates `cand`
    (m, K'): with their float32 `keys` (m, K'), the queries exact.gap_proven clears take their
    first k candidates; the rest exact.refine; for the queries it cannot prove, a larger
    float32 proposal (by `proposer(wq, kk, exclude)`, default propose: the certified index
    passes its own), then a float64 one (exact.propose64), then the float64 scan. queries:
    stored-space values; wq: the same in W."""
    avail = available(prep, exclude)
    m = cand.shape[0]
    idx = np.empty((m, k), dtype=np.int64)
    dist = np.empty((m, k))
    sure = np.zeros(m, dtype=bool)
    if keys is not None and cand.shape[1] > k:
        sure = exact.gap_proven(prep, wq, keys, k)
        if sure.any():
            idx[sure], dist[sure] = exact.top_of(prep, queries[sure], cand[sure, :k], k)
    rest = np.flatnonzero(~sure)
    proven = np.ones(m, dtype=bool)
    if rest.size:
        idx[rest], dist[rest], proven[rest] = exact.refine(prep, queries[rest], cand[rest], k,
                                                           cand.shape[1] >= avail[rest])
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
    cand, keys = propose_keyed(prep, wq, kk, exclude)
    return finish(prep, queries, wq, cand, k, exclude, keys=keys)


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
    distances = np.full((n, k), np.nan, dtype=graph_distance_dtype(n, k))
    kk = min(candidates(k), rows.size - 1)
    lock, done = threading.Lock(), [0]

    def chunks(starts):
        for start in starts:
            block = rows[start:start + GRAPH_CHUNK_ROWS]
            wq = prep.work[block]
            cand, keys = propose_keyed(prep, wq, kk, block)
            indices[block], distances[block] = finish(prep, prep.matrix[block], wq, cand, k, block, keys=keys)
            with lock:
                done[0] += block.size
                if on_progress is not None:
                    on_progress(min(1.0, done[0] / rows.size))

    with one_blas_thread():
        share_out(range(0, rows.size, GRAPH_CHUNK_ROWS), chunks, threads if rows.size > GRAPH_CHUNK_ROWS else 1,
                  name="knn-graph")
    return KnnGraph(indices, distances, prep.metric, k, exact=True)
