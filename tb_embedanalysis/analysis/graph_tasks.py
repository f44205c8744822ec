"""The exact kNN graph cut into independent tasks, for an engine that runs them in other
processes or on other machines (tb_embedanalysis/precompute/).

`plan(prep, k)` makes the choice certified_graph.knn_graph_exact_fast makes (the plain blocked
search below certified_graph.MIN_ROWS valid rows, or when the pilot says the cells don't pay;
else the certified search over k-means cells) and cuts the rows into tasks of about TASK_ROWS
rows: the plain graph's chunks of neighbors.GRAPH_CHUNK_ROWS valid rows, or the certified
graph's blocks (one cell's members, split at certified.QUERY_BLOCK). `run(plan, i)` computes
task i as the in-process graph computes those rows (the same chunks and blocks, BLAS on one
thread), and every row's answer is the float64 oracle's whichever chunk, block or process
computes it (neighbors.finish), so `assemble` of all tasks equals knn_graph_exact_fast bit
for bit. The plan is what each worker needs (the prepared matrix, the partition, the task
rows): an engine ships it to each worker once, and each task is then only its number.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, List, Optional, Tuple

import numpy as np

from tb_embedanalysis.analysis import certified_graph, neighbors
from tb_embedanalysis.analysis import heap
from tb_embedanalysis.analysis.blas import one_blas_thread
from tb_embedanalysis.analysis.certified import QUERY_BLOCK, CertifiedIndex, SearchStats
from tb_embedanalysis.analysis.neighbors import KnnGraph, PreparedMatrix
from tb_embedanalysis.analysis.propose import propose_keyed
from tb_embedanalysis.analysis.progress import ProgressFn

#: Rows per task: at 1,000,000 rows about 60 tasks, enough for a scheduler to balance a few
#: dozen workers and to retry a lost one cheaply; few enough that per-task overhead (a
#: scheduler round trip, ~ms) is nothing next to a task's seconds of products.
TASK_ROWS = 16_384

#: (rows (m,) int64, indices (m, k), distances (m, k) float64): one task's answer.
TaskResult = Tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclasses.dataclass(frozen=True, eq=False)
class GraphPlan:
    """What every task of one graph needs. prep: the prepared matrix; index: the certified
    index (None: the plain blocked search); k: neighbours per row; tasks: per task, its
    row blocks (int64 index arrays, each one chunk or one certified block)."""

    prep: PreparedMatrix
    index: Optional[CertifiedIndex]
    k: int
    tasks: Tuple[Tuple[np.ndarray, ...], ...]

    @property
    def method(self) -> str:
        return "plain" if self.index is None else "certified"

    @property
    def nbytes(self) -> int:
        """Bytes a worker receives: the stored and working matrices (once if they are the
        same array), the row norms, the partition and the task rows."""
        prep = self.prep
        arrays = [prep.matrix, prep.work] if prep.work is not prep.matrix else [prep.matrix]
        total = sum(a.nbytes for a in arrays) + prep.valid.nbytes + prep.key_scale.nbytes + prep.invalid_rows.nbytes
        if self.index is not None:
            total += self.index.nbytes
        return int(total + sum(block.nbytes for task in self.tasks for block in task))


def plan(prep: PreparedMatrix, k: int, *, on_progress: ProgressFn = None) -> GraphPlan:
    """The tasks of the exact graph with k neighbours of `prep` (see the module docstring);
    the partition and the pilot run here, in the caller's process (on_progress: the partition)."""
    rows = np.flatnonzero(prep.valid)
    if not 1 <= k <= rows.size - 1:
        raise ValueError("k must be between 1 and %d (valid rows − 1), got %d" % (rows.size - 1, k))
    index: Optional[CertifiedIndex] = None
    if prep.n_valid >= certified_graph.MIN_ROWS:
        index = certified_graph.certified_index(prep, k, on_progress=on_progress)
    if index is None:
        blocks = [rows[start:start + neighbors.GRAPH_CHUNK_ROWS]
                  for start in range(0, rows.size, neighbors.GRAPH_CHUNK_ROWS)]
    else:
        p = index.part
        blocks = [cell[start:start + QUERY_BLOCK] for cell in [p.zero_rows] + [p.members(j) for j in range(p.n_cells)]
                  for start in range(0, cell.size, QUERY_BLOCK)]
    return GraphPlan(prep, index, int(k), tuple(_grouped(blocks, TASK_ROWS)))


def _grouped(blocks: Iterable[np.ndarray], rows: int) -> List[Tuple[np.ndarray, ...]]:
    """Consecutive blocks grouped into tasks of at least `rows` rows (the last may be fewer)."""
    tasks: List[Tuple[np.ndarray, ...]] = []
    current: List[np.ndarray] = []
    size = 0
    for block in blocks:
        if block.size == 0:
            continue
        current.append(np.asarray(block, dtype=np.int64))
        size += block.size
        if size >= rows:
            tasks.append(tuple(current))
            current, size = [], 0
    if current:
        tasks.append(tuple(current))
    return tasks


def run(graph_plan: GraphPlan, task: int) -> TaskResult:
    """Task `task` of the plan: its rows' exact k nearest (indices, distances), with BLAS on
    one thread (as the in-process graphs run their products)."""
    prep, k, blocks = graph_plan.prep, graph_plan.k, graph_plan.tasks[task]
    rows = np.concatenate(blocks)
    kk = min(neighbors.candidates(k), prep.n_valid - 1)
    indices = np.empty((rows.size, k), dtype=neighbors.graph_index_dtype(prep.matrix.shape[0]))
    distances = np.empty((rows.size, k))
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]

    def put(where, found):  # this task's answer for rows `where` (global indices)
        at = order[np.searchsorted(sorted_rows, where)]
        indices[at], distances[at] = found

    index = graph_plan.index
    with one_blas_thread(), heap.reusing():  # in a Dask worker: temporaries reused, not faulted in anew
        if index is None:
            for block in blocks:  # neighbors.knn_graph's chunks
                wq = prep.work[block]
                cand, keys = propose_keyed(prep, wq, kk, block)
                put(block, neighbors.finish(prep, prep.matrix[block], wq, cand, k, block, keys=keys))
        else:
            def store(where, cand, keys):  # certified_graph.knn_graph's store
                put(where, neighbors.finish(prep, prep.matrix[where], prep.work[where], cand, k, where,
                                            proposer=index.propose, keys=keys))

            index.run_blocks(blocks, lambda r: prep.work[r], lambda r: r, kk, SearchStats(), store)
    return rows, indices, distances


def assemble(graph_plan: GraphPlan, results: Iterable[TaskResult]) -> KnnGraph:
    """The whole graph from every task's result (in any order); raises if a row is missing."""
    prep, k = graph_plan.prep, graph_plan.k
    n = prep.matrix.shape[0]
    indices = np.full((n, k), -1, dtype=neighbors.graph_index_dtype(n))
    distances = np.full((n, k), np.nan, dtype=neighbors.graph_distance_dtype(n, k))
    filled = np.zeros(n, dtype=bool)
    for rows, idx, dist in results:
        indices[rows], distances[rows] = idx, dist
        filled[rows] = True
    if not np.array_equal(filled, prep.valid):
        raise RuntimeError("the tasks answered %d of %d valid rows" % (int(np.count_nonzero(filled & prep.valid)),
                                                                    prep.n_valid))
    return KnnGraph(indices, distances, prep.metric, k, exact=True)
