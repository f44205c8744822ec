"""The plain exact kNN graph with each pair's product computed once: w_i · w_j is both i's key
for j and j's key for i, so the products of the upper triangle of tiles (chunks I ≤ J of
CHUNK_ROWS rows) feed every row's running K' best (pair_fold.py), half the products of
neighbors.knn_graph, which computes every row against all N. Then, chunk by chunk, the same
exact finish (neighbors.finish): the graph equals neighbors.knn_graph's in indices and
distances (both are the float64 oracle's), though a proposal's float32 key may come from the
other product of its pair (any float32 product of D terms keeps exact.py's rounding bound).

Tiles touching the same chunk never run at once: a round-robin schedule (the circle method)
pairs the chunks into rounds of disjoint tiles, shared out over the threads, round after
round; so each heap has one writer at a time and the schedule, hence the answer, is the same
every run. Holds every row's heap, N × K' × 12 bytes (neighbors.knn_graph holds a chunk's):
used only where that stays under MAX_HEAP_BYTES, K' ≤ MAX_CANDIDATES (large k: the heaps'
pushes grow with K'), the working matrix in float32 and at least MIN_ROWS valid rows, or
COLD_MIN_ROWS until pair_fold's kernels are compiled in this process (their compile, ~1.5
CPU-s once per process or a load from numba's cache, pays from there). Unclustered
100,000 × 128, k = 10, 2 threads: 9.1 s against 13.6 s (bench/README.md).
"""

from __future__ import annotations

import sys
import threading
from typing import Iterator, List, Tuple

import numpy as np

from tb_embedanalysis.analysis import neighbors, propose
from tb_embedanalysis.analysis.blas import one_blas_thread, share_out
from tb_embedanalysis.analysis.neighbors import KnnGraph, PreparedMatrix, ProgressFn

CHUNK_ROWS = 1024
#: Columns per product block inside a tile (1,024 × 512 float32 = 2 MB, propose's sweep's).
BLOCK_COLUMNS = propose.SWEEP_COLUMNS
MIN_ROWS = 20_000
COLD_MIN_ROWS = 60_000
MAX_CANDIDATES = 64
#: Every row's heap: 1,000,000 rows at K' = 15 take 180 MB.
MAX_HEAP_BYTES = 192 * 1024 * 1024
#: The share of progress the tiles take; the finish takes the rest.
TILES_SHARE = 0.9


def applies(prep: PreparedMatrix, k: int) -> bool:
    """Whether the plain graph of prep with k neighbours is knn_graph's below (module docstring)."""
    if not (prep.work.dtype == np.float32 and fits(prep.matrix.shape[0], prep.n_valid, k)):
        return False
    if prep.n_valid >= COLD_MIN_ROWS:
        return True
    fold = sys.modules.get(__name__.rpartition(".")[0] + ".pair_fold")  # without importing numba
    compiled = getattr(fold, "compiled", None)  # a module still importing has none yet
    return compiled is not None and compiled()


def fits(rows: int, valid: int, k: int) -> bool:
    """Whether a graph of `valid` of `rows` rows with k neighbours may be knn_graph's below
    (its heaps, K' and size; the working matrix's dtype and the compile aside)."""
    return valid >= MIN_ROWS and neighbors.candidates(k) <= MAX_CANDIDATES and heap_bytes(rows, k) <= MAX_HEAP_BYTES


def heaps_bound(rows: int, valid: int, k: int) -> int:
    """Bytes the heaps may take for a graph with k neighbours (estimates.py): heap_bytes where
    knn_graph may take it, and its cap beyond (K' above MAX_CANDIDATES, heaps above
    MAX_HEAP_BYTES), so that the estimate never falls as k or the rows grow (the largest k
    that fits is searched as if it grew with k)."""
    if valid < MIN_ROWS:
        return 0
    return min(rows * min(neighbors.candidates(k), MAX_CANDIDATES) * 12, MAX_HEAP_BYTES)


def heap_bytes(n: int, k: int) -> int:
    """Bytes of every row's heap (float32 keys, int64 rows) for a graph with k neighbours."""
    return n * neighbors.candidates(k) * 12


def rounds(chunks: int) -> List[List[Tuple[int, int]]]:
    """Tiles (I, J), I ≤ J, of `chunks` chunks in rounds whose tiles share no chunk: first the
    diagonal, then the circle method's rounds (a chunk out when their number is odd)."""
    out = [[(c, c) for c in range(chunks)]]
    ring = list(range(chunks)) + ([-1] if chunks % 2 else [])
    size = len(ring)
    for _ in range(size - 1):
        pairs = [(ring[i], ring[size - 1 - i]) for i in range(size // 2)]
        out.append([(min(a, b), max(a, b)) for a, b in pairs if a >= 0 and b >= 0])
        ring = [ring[0], ring[-1]] + ring[1:-1]
    return [r for r in out if r]


def plain_graph(prep: PreparedMatrix, k: int, *, on_progress: ProgressFn = None) -> KnnGraph:
    """The plain exact graph (no partition): knn_graph below where it applies, else
    neighbors.knn_graph; the same indices and distances either way."""
    if applies(prep, k):
        return knn_graph(prep, k, on_progress=on_progress)
    return neighbors.knn_graph(prep, k, on_progress=on_progress)


def knn_graph(prep: PreparedMatrix, k: int, *, on_progress: ProgressFn = None,
              threads: int = neighbors.GRAPH_THREADS) -> KnnGraph:
    """Exactly neighbors.knn_graph(prep, k) (indices and distances), each pair's product once."""
    from tb_embedanalysis.analysis import pair_fold  # numba: imported when the first graph runs

    n = prep.matrix.shape[0]
    valid_rows = np.flatnonzero(prep.valid)
    if not 1 <= k <= valid_rows.size - 1:
        raise ValueError("k must be between 1 and %d (valid rows − 1), got %d" % (valid_rows.size - 1, k))
    kk = min(neighbors.candidates(k), valid_rows.size - 1)
    heap_keys = np.full((n, kk), np.inf, dtype=np.float32)
    heap_rows = np.full((n, kk), n, dtype=np.int64)  # n: a padding row after every real one
    invalid = ~prep.valid
    euclidean = prep.metric == "euclidean"
    starts = list(range(0, n, CHUNK_ROWS))
    schedule = rounds(len(starts))
    tiles_total = sum(len(r) for r in schedule)

    def tiles(shared: Iterator[Tuple[int, int]]) -> None:
        out = np.empty((CHUNK_ROWS, BLOCK_COLUMNS), dtype=np.float32)
        for a, b in shared:
            r0, c_start = starts[a], starts[b]
            wq = prep.work[r0:r0 + CHUNK_ROWS]
            c_stop = min(n, c_start + CHUNK_ROWS)
            for c0 in range(c_start, c_stop, BLOCK_COLUMNS):
                c1 = min(c_stop, c0 + BLOCK_COLUMNS)
                if c1 - c0 == BLOCK_COLUMNS:  # C-contiguous either way: the kernels' one compiled layout
                    dots = np.matmul(wq, prep.work[c0:c1].T, out=out[:wq.shape[0]])
                else:
                    dots = wq @ prep.work[c0:c1].T
                pair_fold.fold_block(dots, prep.key_scale, euclidean, invalid, r0, c0, heap_keys, heap_rows,
                                     both=a != b)

    done = 0
    with one_blas_thread():
        for tiles_of_round in schedule:
            share_out(tiles_of_round, tiles, threads if len(tiles_of_round) > 1 else 1, name="knn-pairs")
            done += len(tiles_of_round)
            if on_progress is not None:
                on_progress(TILES_SHARE * done / tiles_total)
        return _finish(prep, k, heap_keys, heap_rows, valid_rows, on_progress=on_progress, threads=threads)


def _finish(prep: PreparedMatrix, k: int, heap_keys: np.ndarray, heap_rows: np.ndarray, valid_rows: np.ndarray,
            *, on_progress: ProgressFn, threads: int) -> KnnGraph:
    """The exact graph from every valid row's K' best by key, in chunks over the threads."""
    n, kk = heap_keys.shape
    indices = np.full((n, k), -1, dtype=neighbors.graph_index_dtype(n))
    distances = np.full((n, k), np.nan, dtype=neighbors.graph_distance_dtype(n, k))
    lock, finished = threading.Lock(), [0]

    def chunks(shared: Iterator[int]) -> None:
        for start in shared:
            block = valid_rows[start:start + CHUNK_ROWS]
            wq = prep.work[block]
            order = np.lexsort((heap_rows[block], heap_keys[block]), axis=1)
            cand = np.take_along_axis(heap_rows[block], order, axis=1)
            keys = np.take_along_axis(heap_keys[block], order, axis=1)
            short = np.flatnonzero((cand == n).any(axis=1))
            if short.size:  # fewer than K' non-NaN keys: propose's own answer for these rows
                cand[short], keys[short] = propose.propose_keyed(prep, wq[short], kk, block[short])
            indices[block], distances[block] = neighbors.finish(prep, prep.matrix[block], wq, cand, k, block, keys=keys)
            with lock:
                finished[0] += block.size
                if on_progress is not None:
                    on_progress(TILES_SHARE + (1 - TILES_SHARE) * finished[0] / valid_rows.size)

    share_out(range(0, valid_rows.size, CHUNK_ROWS), chunks, threads, name="knn-pairs-finish")
    return KnnGraph(indices, distances, prep.metric, k, exact=True)
