"""The working memory of one computation, estimated before it starts (issue 24, item 3).

`/clusters?k=1000` on 100,000 × 64 took +1.5 GB (and 174 s) before anything said it
would: the exact kNN graph alone is N × k int32 indices + float64 distances (1,144 MB).
queries/rules.py `check_work_memory` compares these estimates with the budget
(tb_embedanalysis/budget.py) and refuses, saying what fits, before any job starts.

Each estimate is the bytes the computation's numpy arrays hold at their peak (what
tracemalloc counts), made of the arrays the kernels allocate, each at its largest; the
kernels measured stay below it (tests/test_work_memory.py: 1.2-2.7 × below on small
inputs, where the bounded blocks weigh most; within 1.7 × where the graph dominates):

* the kNN graph for k (built for its bucket K = space.graph_k(k, n)): the graph itself,
  N × K × (index + distance) bytes (neighbors.graph_distance_dtype: float64, float32 above
  256 MB of distances; 800 MB at 100,000 × 1,000, not 1.2 GB); per worker thread (neighbors.GRAPH_THREADS) one chunk of
  CHUNK_ROWS queries with K' = neighbors.candidates(K) candidates each in about
  CANDIDATE_ARRAYS int64/float64 (CHUNK_ROWS, K') arrays (proposal, exact distances,
  orders, the proof's bounds: neighbors.finish retries no wider than that), a key block
  (propose.block_rows × N float32, at most BLOCK_ELEMENTS, with its selection's copies)
  and exact.py's float64 blocks; from symmetric_graph.MIN_ROWS valid rows every row's heap
  for the plain graph (N × K' × 12 bytes, counted at its cap where it does not apply: the
  estimate grows with k); per-row arrays (norms, the partition, positions). Not
  counted: the prepared matrix (kept in the result cache, bounded by its own flag; N × D
  float32 when frame.py copies W) and the rows a certified block gathers (the open cells':
  about 1 % of the rows at 1,000,000 × 128);
* the label analysis on top (clusters.label_context, statistics, hardness): no (N, k)
  array of its own since issue 25.3 (neighbour codes and distances are read from the graph
  by row blocks): the vote's (row, label) sums N × min(k, L) × 24 bytes, one vote block,
  and per-row arrays;
* a history holds every step's neighbours (N × k int64) and votes; churn two graphs'
  indices; duplicates the graph for k = 10 and at most MAX_PAIRS pairs.

The total is the peak of the phases that coexist (the graph lives on while the labels are
analysed); what the result caches keep afterwards is bounded by their own flags.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict

from tb_embedanalysis.analysis import (clusters, exact, geometry, hardness, labels as labels_mod, neighbors, propose,
                                       symmetric_graph)
from tb_embedanalysis.analysis.duplicates import MAX_PAIRS, SCAN_ELEMENTS
from tb_embedanalysis.analysis.space import graph_k

#: Queries per chunk of a graph (neighbors.GRAPH_CHUNK_ROWS, certified.QUERY_BLOCK).
CHUNK_ROWS = 1024
#: (CHUNK_ROWS, K') arrays of 8 bytes a chunk holds at once, at most.
CANDIDATE_ARRAYS = 8
#: A key block and what its selection holds beside it (partition copies, masks): 1.25 blocks.
KEY_BLOCK_FACTOR = 1.25
#: exact.py's float64 temporaries of one block (rows, differences, squares).
EXACT_BLOCKS = 3
#: Per-row arrays of 8 bytes beside the graph (norms, positions, partition, scores...).
ROW_ARRAYS = 16
#: float64 arrays of one block of the label statistics (silhouette, centroid distances).
LABEL_BLOCK_ARRAYS = 2
#: (hardness.HARDNESS_BLOCK_ROWS, k) float64 arrays one block of cleaned_knn_margin holds.
HARDNESS_BLOCK_ARRAYS = 4
#: 8-byte arrays of one vote block (its keys, weights, order, sums; the gathered neighbour rows and codes).
VOTE_BLOCK_ARRAYS = 7
#: For what the model leaves out (small arrays, Python objects): 10 % on top.
MARGIN = 1.1


@dataclasses.dataclass(frozen=True)
class Estimate:
    """bytes: the whole computation at its peak; graph_bytes: its kNN graph alone (built
    for graph_k neighbours a row), the part that grows with k."""

    bytes: int
    graph_bytes: int
    graph_k: int


@dataclasses.dataclass(frozen=True)
class Shape:
    """What an estimate depends on: rows (all, N), valid (the finite rows analysed), d
    columns, k neighbours asked for, n_labels, steps (a history's or churn's embeddings)."""

    rows: int
    valid: int
    d: int
    k: int
    n_labels: int = 1
    steps: int = 1


def graph_bytes(rows: int, k: int) -> int:
    """The kNN graph of `rows` rows with k neighbours each: indices + distances."""
    return rows * k * (neighbors.graph_index_dtype(rows).itemsize + neighbors.graph_distance_dtype(rows, k).itemsize)


def graph_work_bytes(rows: int, valid: int, d: int, k: int, *, threads: int = neighbors.GRAPH_THREADS) -> int:
    """What building the exact kNN graph with k (its bucket) neighbours per valid row of a
    rows × d matrix holds beside the graph itself: each worker thread's chunk (module
    docstring), and every row's heap of symmetric_graph (its bound). Freed when the graph is
    done."""
    kk = min(neighbors.candidates(k), max(1, valid - 1))
    heaps = symmetric_graph.heaps_bound(rows, valid, k)
    chunk_rows = min(CHUNK_ROWS, valid)
    keys = int(min(min(propose.block_rows(rows), valid) * rows, propose.BLOCK_ELEMENTS) * 4 * KEY_BLOCK_FACTOR)
    exact_rows = min(chunk_rows, max(1, exact.BLOCK_ELEMENTS // max(1, kk * d)))
    return heaps + threads * (chunk_rows * kk * 8 * CANDIDATE_ARRAYS + EXACT_BLOCKS * exact_rows * kk * d * 8 + keys)


def _votes_bytes(shape: Shape) -> int:
    """labels.vote's (row, label) sums (rows, classes int64, sums float64: at most one per
    neighbour and label) and its per-row arrays."""
    return shape.valid * (min(shape.k, max(1, shape.n_labels)) * 24 + 5 * 8)


def _labels_bytes(shape: Shape) -> int:
    """The label context over a graph of k neighbours (clusters.py: every row's code, the
    votes and the vote's sort, a block of VOTE_BLOCK_ELEMENTS keys, weights and orders with
    the neighbour codes gathered for it), then the larger of the statistics' blocks (silhouette: at
    most SILHOUETTE_BLOCK_ELEMENTS distances of the rows it takes; centroid distances:
    geometry.BLOCK rows × labels) and the default hardness score's weighted vote."""
    sampled = shape.valid if shape.valid <= clusters.SILHOUETTE_EXACT_MAX else clusters.SILHOUETTE_SAMPLE
    silhouette = 8 * (LABEL_BLOCK_ARRAYS * min(geometry.SILHOUETTE_BLOCK_ELEMENTS, sampled * sampled)
                      + 2 * sampled * shape.d)  # the block's distances; the rows in float64, centred
    block = min(geometry.BLOCK, shape.valid)
    centroids = 8 * block * (LABEL_BLOCK_ARRAYS * max(1, shape.n_labels) + 2 * shape.d)
    vote_block = min(labels_mod.VOTE_BLOCK_ELEMENTS, shape.valid * shape.k) * 8 * VOTE_BLOCK_ARRAYS
    # hardness.cleaned_knn_margin (the default score), one block of HARDNESS_BLOCK_ROWS at a
    # time: its weights and the chain that makes them (HARDNESS_BLOCK_ARRAYS arrays of rows × k),
    # the block's weighted vote; the margins of every row.
    block_rows = min(hardness.HARDNESS_BLOCK_ROWS, shape.valid)
    weighted = (HARDNESS_BLOCK_ARRAYS * 8 * block_rows * shape.k
                + _votes_bytes(dataclasses.replace(shape, valid=block_rows)) + shape.valid * 8)
    # One vote's sums exist twice while its blocks are joined (the context's, or the weighted one).
    context = shape.rows * 4 + 2 * _votes_bytes(shape) + vote_block
    return context + max(silhouette, centroids, weighted)


def _with_graph(shape: Shape, *, after: int = 0, held: int = 0) -> Estimate:
    """The peak of a question on the kNN graph for shape.k: the graph and per-row arrays,
    what the question holds throughout (`held`: earlier steps' results), and the larger of
    the graph's building chunks and what the question computes once the graph is built
    (`after`): those two never coexist."""
    size = graph_k(shape.k, shape.valid)
    building = graph_work_bytes(shape.rows, shape.valid, shape.d, size)
    total = graph_bytes(shape.rows, size) + shape.rows * 8 * ROW_ARRAYS + held + max(building, after)
    return Estimate(int(MARGIN * total), graph_bytes(shape.rows, size), size)


def labels(shape: Shape) -> Estimate:
    """/clusters, /hard_examples, /compare (each step on its own)."""
    return _with_graph(shape, after=_labels_bytes(shape))


#: label_errors.analyse's transients of one step: confident_labels' sparse (row, label)
#: pairs, N × k × 8 bytes each (keys, their sort, counts, rows, labels, shares, order, mask).
LABEL_ERROR_PAIR_ARRAYS = 8


def history(shape: Shape) -> Estimate:
    """/history and the history ranking: one step's graph and labels at a time, and every
    step's neighbours (N × k int64) and votes held until the score is computed; then the
    label-error analysis (label_errors.py): per step a fit, a logit margin and a confident
    label per row held, and one step's sparse label pairs or two float64 copies of its
    logits (N × L) at a time."""
    per_step = shape.valid * shape.k * 8 + _votes_bytes(shape) + shape.valid * 20  # + fitted, margin, likely
    transient = max(LABEL_ERROR_PAIR_ARRAYS * shape.valid * shape.k * 8, 2 * shape.valid * shape.n_labels * 8)
    return _with_graph(shape, after=max(_labels_bytes(shape), transient), held=shape.steps * per_step)


def churn(shape: Shape) -> Estimate:
    """/churn: both graphs' indices of the valid rows (int32), one graph built at a time."""
    return _with_graph(shape, held=2 * shape.valid * shape.k * 4)


def outliers(shape: Shape) -> Estimate:
    """/outliers: the graph and a score per row."""
    return _with_graph(shape)


def duplicates(shape: Shape) -> Estimate:
    """/duplicates (k: duplicates.GRAPH_K): the graph, then its candidate pairs and at most
    MAX_PAIRS scanned ones (i, j int64, distance, np.unique's copies), the scan's blocks."""
    possible = shape.valid * (shape.valid - 1) // 2
    pairs = (min(MAX_PAIRS, possible) + shape.valid * shape.k) * 8 * 6
    scan = EXACT_BLOCKS * 8 * min(SCAN_ELEMENTS, shape.valid * shape.valid)
    return _with_graph(shape, after=pairs + scan)


#: question name → its estimate.
QUESTIONS: Dict[str, Callable[[Shape], Estimate]] = {
    "labels": labels, "history": history, "churn": churn, "outliers": outliers, "duplicates": duplicates,
}


def estimate(question: str, shape: Shape) -> Estimate:
    """The working memory of `question` (a QUESTIONS name) on `shape`."""
    if question not in QUESTIONS:
        raise ValueError("unknown question %r; questions: %s" % (question, ", ".join(QUESTIONS)))
    return QUESTIONS[question](shape)
