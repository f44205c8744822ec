"""k = 1,000 (issue 25.3): the graph at large k orders every tie by row, as the float64 oracle
does, through every path: whole key rows (smallest_k), the column sweep (topk_fold's buffer and
its cuts), the certified search (merge_topk) and the compiled distances (pair_kernel).

Rows on an integer grid make the oracle's distances exact whatever the summation order (sums
of small integers; cosine's √ and ÷ are single roundings of the same exact operands), so the
graph's indices must equal the oracle's (distance, row) order place for place: thousands of
exact ties (each point has ~4 identical copies and many rows at each distance) at every k-th
place, which a wrong tie rule anywhere (a heap, a selection, a merge, a sort) gets wrong."""

from __future__ import annotations

import numpy as np
import pytest

from tb_embedanalysis.analysis import certified, certified_graph, exact, neighbors, propose
from test_topk_fold import sweep_columns

N, D, K = 2600, 4, 1000


def grid(seed=0):
    """N × D float32 rows with coordinates in −2 … 2 (625 points: every row has copies)."""
    return np.random.default_rng(seed).integers(-2, 3, size=(N, D)).astype(np.float32)


def oracle(x, metric):
    """(indices (N, K), distances (N, K)): each row's K nearest others by (float64 distance, row)."""
    x64 = x.astype(np.float64)
    sq = (x64 * x64).sum(axis=1)
    if metric == "euclidean":
        full = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * (x64 @ x64.T), 0.0))  # integers: exact
    else:
        norms = np.sqrt(sq)[:, None] * np.sqrt(sq)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            full = np.clip(1.0 - np.where(norms > 0, (x64 @ x64.T) / np.where(norms > 0, norms, 1.0), 0.0), 0.0, 2.0)
    np.fill_diagonal(full, np.inf)
    order = np.lexsort((np.broadcast_to(np.arange(N), full.shape), full), axis=1)[:, :K]
    return order, np.take_along_axis(full, order, axis=1)


def graphs(prep):
    """The exact graph at K through each path, by name."""
    yield "whole key rows", neighbors.knn_graph(prep, K, threads=1)
    with sweep_columns(64):
        yield "column sweep", neighbors.knn_graph(prep, K, threads=2)
    index = certified.CertifiedIndex(prep, n_cells=12)
    yield "certified", certified_graph.knn_graph(index, K, threads=2)


@pytest.mark.parametrize("kernel", [False, True], ids=["numpy distances", "compiled distances"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_graph_at_k_1000_is_the_oracles_order_with_every_tie_by_row(metric, kernel, monkeypatch):
    x = grid()
    want_idx, want_dist = oracle(x, metric)
    assert (want_dist[:, :-1] == want_dist[:, 1:]).mean() > 0.9  # ties nearly everywhere
    monkeypatch.setattr(exact, "KERNEL_COLD_MIN_ROWS", 0 if kernel else 10 ** 12)
    monkeypatch.setattr(exact, "KERNEL_COLD_MIN_CANDIDATES", 0)
    if not kernel:  # the kernel, once compiled in this process, is taken regardless
        monkeypatch.setattr(exact, "_kernel_pays", lambda n, width: False)
    prep = neighbors.prepare(x, metric)
    assert neighbors.candidates(K) <= propose.SWEEP_MAX_CANDIDATES
    for name, graph in graphs(prep):
        np.testing.assert_array_equal(graph.indices, want_idx, err_msg=name)
        np.testing.assert_array_equal(graph.distances, want_dist, err_msg=name)


def test_propose_at_large_k_cuts_the_sweeps_buffer_and_keeps_the_order():
    """K' = 1,250 proposals through the sweep (its buffer of 2 K' cut many times per query) equal
    smallest_k over whole key rows, rows and keys, on rows with many exact ties."""
    x = grid(1)
    prep = neighbors.prepare(x, "euclidean")
    rows = np.arange(0, N, 3)
    kk = neighbors.candidates(K)
    whole = propose._propose_whole(prep, prep.work[rows], kk, rows)
    with sweep_columns(32):
        swept = propose.propose_keyed(prep, prep.work[rows], kk, rows)
    np.testing.assert_array_equal(swept[0], whole[0])
    np.testing.assert_array_equal(swept[1], whole[1])
