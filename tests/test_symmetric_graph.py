"""The plain graph with each pair's product once (analysis/symmetric_graph.py, pair_fold.py)
equals neighbors.knn_graph in indices and distances, and both the float64 oracle, on the
awkward inputs of test_exact_oracle.py (offsets, huge and tiny magnitudes, exact ties,
duplicates, zero rows) plus invalid rows; chunks and product blocks shrunk so a hundred rows
make many tiles, uneven last chunks and blocks, and rounds shared by two threads."""

from __future__ import annotations

import contextlib
import itertools
from typing import List

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tb_embedanalysis.analysis import certified_graph, estimates, neighbors, pair_fold, symmetric_graph
from test_exact_oracle import assert_same_knn, matrices

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)


@contextlib.contextmanager
def tiles_of(rows: int, columns: int):
    """symmetric_graph's chunks of `rows` rows and product blocks of `columns` for a block
    (Hypothesis runs many examples per test call: no monkeypatch fixture)."""
    kept = symmetric_graph.CHUNK_ROWS, symmetric_graph.BLOCK_COLUMNS
    symmetric_graph.CHUNK_ROWS, symmetric_graph.BLOCK_COLUMNS = rows, columns
    try:
        yield
    finally:
        symmetric_graph.CHUNK_ROWS, symmetric_graph.BLOCK_COLUMNS = kept


@SETTINGS
@given(x=matrices(min_rows=30, max_rows=140), metric=st.sampled_from(("cosine", "euclidean")),
       k=st.integers(1, 8), rows=st.sampled_from([7, 16, 33]), columns=st.sampled_from([5, 8, 64]),
       invalid=st.sampled_from([0.0, 0.1, 0.5]), threads=st.sampled_from([1, 2]), seed=st.integers(0, 2 ** 31))
def test_graph_equals_the_plain_graph_and_the_float64_oracle(x, metric, k, rows, columns, invalid, threads, seed):
    valid = np.random.default_rng(seed).random(x.shape[0]) >= invalid
    if valid.sum() <= k:
        valid[:k + 1] = True
    prep = neighbors.prepare(x, metric, valid)
    with tiles_of(rows, columns):
        got = symmetric_graph.knn_graph(prep, k, threads=threads)
    want = neighbors.knn_graph(prep, k, threads=1)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.distances, want.distances)
    assert_same_knn(got.indices, got.distances, x, metric, k, valid=valid)


def test_every_pair_once_and_no_chunk_twice_in_a_round():
    for chunks in range(1, 10):
        schedule = symmetric_graph.rounds(chunks)
        tiles = [tile for r in schedule for tile in r]
        assert sorted(tiles) == [(a, b) for a in range(chunks) for b in range(a, chunks)]
        for r in schedule:
            touched = list(itertools.chain.from_iterable({a, b} for a, b in r))
            assert len(touched) == len(set(touched)), (chunks, r)


def test_fold_keeps_each_sides_smallest_keys_by_key_then_row():
    """The kernels alone, against a stable sort of every pair's key: ties (rounded products),
    −0.0 and +0.0, invalid rows, a tile on the diagonal and one off it folded in blocks of
    uneven width, in an order that is not the rows': the later tiles bring smaller rows with
    keys equal to a heap's root, which must enter (a later diagonal tile for queries 0..44, a
    later column side for queries 45..89)."""
    rng = np.random.default_rng(0)
    n, kk, half = 90, 12, 45
    w = np.round(rng.normal(size=(n, 3)), 0).astype(np.float32)
    dots = w @ w.T  # small integers: many exact ties
    scale = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)
    scale[::7] = 0.0
    invalid = rng.random(n) < 0.1
    for euclidean in (False, True):
        hk = np.full((n, kk), np.inf, dtype=np.float32)
        hr = np.full((n, kk), n, dtype=np.int64)
        blocks = [(half, n, half, n, False), (0, half, half, n, True), (0, half, 0, half, False)]
        for r0, r1, c_start, c_stop, both in blocks:
            for c0 in range(c_start, c_stop, 13):
                c1 = min(c_stop, c0 + 13)
                pair_fold.fold_block(np.ascontiguousarray(dots[r0:r1, c0:c1]), scale, euclidean, invalid, r0, c0,
                                     hk, hr, both=both)
        keys = scale[None, :] + np.float32(-2) * dots if euclidean else dots * scale[None, :]
        for q in range(n):
            cand = np.flatnonzero(~invalid & (np.arange(n) != q))
            order = np.lexsort((cand, keys[q, cand]))[:kk]
            mine = np.lexsort((hr[q], hk[q]))
            np.testing.assert_array_equal(hr[q, mine], cand[order], err_msg="query %d" % q)
            np.testing.assert_array_equal(hk[q, mine], keys[q, cand[order]])


@pytest.mark.parametrize("k, fits", [(10, True), (50, True), (60, False)])
def test_fits_by_candidates_and_rows(k, fits):
    assert symmetric_graph.fits(100_000, 100_000, k) is fits
    assert not symmetric_graph.fits(19_999, 19_999, 10)  # below MIN_ROWS: neighbors.knn_graph
    assert not symmetric_graph.fits(2_000_000, 2_000_000, 10)  # heaps above MAX_HEAP_BYTES


def test_working_memory_counts_every_rows_heap():
    """The same chunks and key blocks; below MIN_ROWS valid rows neighbors.knn_graph's alone;
    the heaps' bound never falls as k or the rows grow (capped where knn_graph is not taken)."""
    with_heaps = estimates.graph_work_bytes(100_000, 100_000, 128, 10)
    without = estimates.graph_work_bytes(100_000, symmetric_graph.MIN_ROWS - 1, 128, 10)
    assert with_heaps - without == symmetric_graph.heap_bytes(100_000, 10) == 100_000 * 15 * 12
    bounds = [symmetric_graph.heaps_bound(rows, rows, k) for rows in (20_000, 10 ** 6, 10 ** 7) for k in (1, 51, 52, 1000)]
    assert bounds == sorted(bounds) and bounds[-1] == symmetric_graph.MAX_HEAP_BYTES
    for rows in (20_000, 100_000, 10 ** 6, 2 * 10 ** 6):
        for k in (10, 50, 60):
            if symmetric_graph.fits(rows, rows, k):
                assert symmetric_graph.heaps_bound(rows, rows, k) == symmetric_graph.heap_bytes(rows, k)


def test_unprunable_rows_take_it_through_the_engines_path(monkeypatch):
    """knn_graph_exact_fast on unclustered rows (the pilot says "plain") takes this graph
    once its kernels are compiled, from MIN_ROWS rows; the answer is neighbors.knn_graph's."""
    pair_fold.warm()
    x = np.random.default_rng(3).normal(size=(symmetric_graph.MIN_ROWS, 8)).astype(np.float32)
    prep = neighbors.prepare(x, "cosine")
    taken: List[int] = []
    real = symmetric_graph.knn_graph

    def spy(*args, **kwargs):
        taken.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(symmetric_graph, "knn_graph", spy)
    graph = certified_graph.knn_graph_exact_fast(prep, 5)
    assert taken == [1]
    want = neighbors.knn_graph(prep, 5)
    np.testing.assert_array_equal(graph.indices, want.indices)
    np.testing.assert_array_equal(graph.distances, want.distances)


def test_progress_rises_to_one_and_a_raise_stops_the_graph():
    x = np.random.default_rng(4).normal(size=(300, 4)).astype(np.float32)
    prep = neighbors.prepare(x, "euclidean")
    seen: List[float] = []
    with tiles_of(32, 16):
        symmetric_graph.knn_graph(prep, 3, on_progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) > 10

    class Stop(Exception):
        pass

    def stop(fraction):
        if fraction > 0.3:
            raise Stop
    with tiles_of(32, 16), pytest.raises(Stop):
        symmetric_graph.knn_graph(prep, 3, on_progress=stop)
