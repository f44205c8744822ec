"""The exact kNN graph at large N: the certified search (certified.py) over every row, its
blocks shared out over threads, or the plain blocked search when a pilot shows that the
cells would not pay (unclustered data). Either way both propose the same candidates
(float32 keys on W) and neighbors.finish makes them exact: the graph equals
neighbors.knn_graph bit for bit, and both equal the float64 oracle (exact.py)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Optional

import numpy as np

from tb_embedanalysis.analysis import neighbors, partition, symmetric_graph
from tb_embedanalysis.analysis.blas import one_blas_thread, share_out
from tb_embedanalysis.analysis.certified import QUERY_BLOCK, CertifiedIndex, SearchStats
from tb_embedanalysis.analysis.neighbors import KnnGraph, PreparedMatrix, ProgressFn

#: Below this many valid rows the partition is not worth building (bench/bench_exact_large.py).
MIN_ROWS = 20_000
#: knn_graph_exact_fast samples PILOT_QUERIES rows first and takes the plain blocked search
#: when the certified one would still compute more than PILOT_MAX_SEARCHED of all pairs.
PILOT_QUERIES = 512
PILOT_MAX_SEARCHED = 0.25
#: The pilot searches every 4th of its rows first and stops there when they searched more than
#: PILOT_CLEAR of all pairs: then the rest cannot bring the whole under PILOT_MAX_SEARCHED
#: (it would need them at ≤ 0.17), and on unclustered data a quarter of the pilot is saved
#: (about 100 % of pairs per query there: 128 full-row queries instead of 512).
PILOT_CLEAR = 0.5
#: Before the cells of all rows are built, a pilot of SAMPLE_PILOT_QUERIES rows on the k-means
#: sample alone (its own cells after EARLY_STEPS of partition.ITERATIONS Lloyd steps): when it
#: searches more than PILOT_CLEAR of the sample's pairs, the plain search at once, without the
#: remaining steps, the cells of all rows and the pilot above (unclustered 100,000 × 128:
#: 1.35 s of partition and pilot before the plain graph, quiet machine).
EARLY_STEPS = 2
SAMPLE_PILOT_QUERIES = 32


def knn_graph(index: CertifiedIndex, k: int, *, on_progress: ProgressFn = None,
              stats: Optional[SearchStats] = None, threads: int = neighbors.GRAPH_THREADS) -> KnnGraph:
    """Exactly neighbors.knn_graph(index.prep, k): every valid row's k nearest, itself excluded.

    One block per cell (split at QUERY_BLOCK rows), shared out to `threads` threads (each
    takes the next block when it is done with one; a row belongs to exactly one block).
    Almost all the time goes to products that release the GIL; call it with BLAS on one
    thread (graph_with does)."""
    prep, p = index.prep, index.part
    n = prep.matrix.shape[0]
    stats = SearchStats() if stats is None else stats
    total = index.valid_rows.size
    if not 1 <= k <= total - 1:
        raise ValueError("k must be between 1 and %d (valid rows − 1), got %d" % (total - 1, k))
    indices = np.full((n, k), -1, dtype=neighbors.graph_index_dtype(n))
    distances = np.full((n, k), np.nan, dtype=neighbors.graph_distance_dtype(n, k))
    kk = min(neighbors.candidates(k), total - 1)
    blocks = [rows[start:start + QUERY_BLOCK] for rows in [p.zero_rows] + [p.members(j) for j in range(p.n_cells)]
              for start in range(0, rows.size, QUERY_BLOCK)]
    lock, done = threading.Lock(), [0]

    def store(where, cand, keys):  # from every worker thread: the exact answer of these rows
        indices[where], distances[where] = neighbors.finish(prep, prep.matrix[where], prep.work[where], cand, k, where,
                                                            proposer=index.propose, keys=keys)

    def on_block(rows):  # from every worker thread
        with lock:
            done[0] += rows
            if on_progress is not None:
                on_progress(done[0] / max(1, total))

    def work(shared_blocks):
        part = SearchStats()
        index.run_blocks(shared_blocks, lambda rows: prep.work[rows], lambda rows: rows, kk, part, store, on_block)
        return part

    for part in share_out(blocks, work, threads, name="knn-certified"):
        stats.add(part)
    return KnnGraph(indices, distances, prep.metric, k, exact=True)


def pilot(index: CertifiedIndex, k: int, *, queries: int = PILOT_QUERIES) -> SearchStats:
    """Search an evenly spaced sample of rows; the fraction of row pairs it had to compute
    predicts the cost of the whole certified graph (deterministic: counts, not times). Every
    4th row first: when those alone searched more than PILOT_CLEAR, the rest are skipped."""
    valid = index.valid_rows
    rows = valid[np.linspace(0, valid.size - 1, min(queries, valid.size)).astype(int)]
    stats = SearchStats()
    with one_blas_thread():
        for part in (rows[::4], np.delete(rows, np.s_[::4])):
            if part.size:
                index.search(index.prep.matrix[part], k, exclude=part, stats=stats)
            if stats.searched_fraction(index.prep.matrix.shape[0]) > PILOT_CLEAR:
                break  # the rest cannot bring it under PILOT_MAX_SEARCHED
    return stats


def knn_graph_exact_fast(prep: PreparedMatrix, k: int, *, on_progress: ProgressFn = None) -> KnnGraph:
    """The exact kNN graph, identical to neighbors.knn_graph(prep, k) in indices and distances.

    Below MIN_ROWS valid rows, or when a pilot of PILOT_QUERIES rows shows that the cells
    would leave more than PILOT_MAX_SEARCHED of all row pairs to compute (unclustered data,
    or clusters as wide as their distance apart), the plain blocked search (each pair's
    product once where symmetric_graph applies); otherwise the
    certified search, with BLAS on one thread. The partition is built here and dropped; keep
    a CertifiedIndex to reuse it for single queries.
    """
    if prep.n_valid < MIN_ROWS:
        return neighbors.knn_graph(prep, k, on_progress=on_progress)
    report = (lambda f: on_progress(0.1 * f)) if on_progress is not None else None
    index = certified_index(prep, k, on_progress=report)
    if index is None:
        return symmetric_graph.plain_graph(prep, k, on_progress=on_progress)
    report = (lambda f: on_progress(0.1 + 0.9 * f)) if on_progress is not None else None
    with one_blas_thread():
        return knn_graph(index, k, on_progress=report)


def certified_index(prep: PreparedMatrix, k: int, *, on_progress: ProgressFn = None) -> Optional[CertifiedIndex]:
    """The certified index of `prep` (partition.build's cells) when its pilot says the cells
    pay for a graph with k neighbours, else None: the plain blocked search. The k-means
    sample's own pilot after EARLY_STEPS Lloyd steps can say None first; it is only a
    shortcut for data where no cell prunes, never a different partition (the remaining steps
    continue from the same state). on_progress: the cells of all rows."""
    lloyd = partition.Lloyd(prep)
    _steps(lloyd, EARLY_STEPS, on_progress)
    if sample_pilot(lloyd, k) > PILOT_CLEAR:
        return None
    _steps(lloyd, partition.ITERATIONS - EARLY_STEPS, on_progress)
    index = CertifiedIndex(prep, part=lloyd.partition(on_progress=on_progress))
    if pilot(index, k).searched_fraction(prep.matrix.shape[0]) > PILOT_MAX_SEARCHED:
        return None
    return index


def _steps(lloyd: partition.Lloyd, count: int, on_progress: ProgressFn) -> None:
    """`count` Lloyd steps, one at a time (the same centroids), each followed by a report at
    progress 0: where a graph waits while the tab's estimate computes (estimate_jobs.pausing;
    at 1,000,000 rows the steps and pilots ran ~3 s beside it) or stops at exit."""
    for _ in range(count):
        lloyd.step(1)
        if on_progress is not None:
            on_progress(0.0)


def sample_pilot(lloyd: partition.Lloyd, k: int) -> float:
    """The fraction of row pairs a pilot of SAMPLE_PILOT_QUERIES rows searches among the k-means
    sample alone, in cells of the sample from its current centroids, for its k · S / N nearest
    (about as near as the k nearest among all N rows). Keys as the whole matrix's: the sample's
    rows of W, key scales and frame."""
    prep, rows = lloyd.prep, lloyd.sample
    if rows.size < 2:
        return 0.0
    sub = PreparedMatrix(prep.matrix[rows], prep.metric, np.ones(rows.size, dtype=bool), prep.key_scale[rows],
                         np.empty(0, dtype=np.int64), dataclasses.replace(prep.frame, work=prep.work[rows]))
    cells = partition.cells(sub, np.arange(rows.size), np.empty(0, dtype=np.int64), lloyd.centroids,
                            nearest=lloyd.assignment())  # the next step's own first assignment
    k_sample = int(min(rows.size - 1, max(1, round(k * rows.size / max(1, prep.n_valid)))))
    stats = pilot(CertifiedIndex(sub, part=cells), k_sample, queries=SAMPLE_PILOT_QUERIES)
    return stats.searched_fraction(rows.size)




def graph_with(index: CertifiedIndex, k: int, *, on_progress: ProgressFn = None) -> KnnGraph:
    """The exact kNN graph of index.prep: certified if the pilot says it pays, else plain."""
    if pilot(index, k).searched_fraction(index.prep.matrix.shape[0]) > PILOT_MAX_SEARCHED:
        return symmetric_graph.plain_graph(index.prep, k, on_progress=on_progress)
    with one_blas_thread():
        return knn_graph(index, k, on_progress=on_progress)
