"""The column sweep's numba kernel (analysis/topk_fold.py) proposes exactly what smallest_k over
whole key rows proposes, and the graph it feeds is the float64 oracle's, on the awkward
inputs of test_exact_oracle.py (offsets, huge and tiny magnitudes, exact ties, duplicates,
zero rows: −0.0 and +0.0 keys) plus invalid rows, excluded rows and NaN queries.

The sweep only runs on blocks of ≥ MIN_BLOCK_ROWS queries against ≥ 2 · SWEEP_COLUMNS rows,
so these tests shrink SWEEP_COLUMNS and SWEEP_MIN_RATIO (not MIN_BLOCK_ROWS: a product's bits depend on its
shape below it) to reach it with a hundred rows.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from tb_embedanalysis.analysis import exact, neighbors, propose, topk_fold
from test_exact_oracle import assert_same_knn, matrices

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)


@contextlib.contextmanager
def sweep_columns(columns: int):
    """propose.SWEEP_COLUMNS set for a block, and the sweep taken whatever N / K' is
    (Hypothesis runs many examples per test call: no monkeypatch fixture)."""
    kept = propose.SWEEP_COLUMNS, propose.SWEEP_MIN_RATIO, propose.SWEEP_COLD_MIN_ROWS
    propose.SWEEP_COLUMNS, propose.SWEEP_MIN_RATIO, propose.SWEEP_COLD_MIN_ROWS = columns, 1, 0
    try:
        yield
    finally:
        propose.SWEEP_COLUMNS, propose.SWEEP_MIN_RATIO, propose.SWEEP_COLD_MIN_ROWS = kept


@SETTINGS
@given(x=matrices(min_rows=64, max_rows=140), metric=st.sampled_from(("cosine", "euclidean")),
       kk=st.integers(1, 40), columns=st.sampled_from([8, 16, 32]), data=st.data())
def test_sweep_proposes_what_whole_rows_propose(x, metric, kk, columns, data):
    n = x.shape[0]
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 31)))
    valid = rng.random(n) > data.draw(st.sampled_from([0.0, 0.1, 0.6]))
    prep = neighbors.prepare(x, metric, valid)
    queries = prep.work[rng.integers(0, n, 70)].copy()
    if data.draw(st.booleans()):
        queries[3] = np.nan  # every key NaN: fewer than K' ranked keys, redone whole
    exclude = rng.integers(-1, n, 70)
    with sweep_columns(columns):
        assert n >= 2 * propose.SWEEP_COLUMNS and kk <= propose.SWEEP_MAX_CANDIDATES  # the sweep runs
        swept = propose.propose(prep, queries, kk, exclude)
    whole = propose._propose_whole(prep, queries, kk, exclude)
    with sweep_columns(columns):
        keyed = propose.propose_keyed(prep, queries, kk, exclude)
    np.testing.assert_array_equal(swept, whole[0])
    np.testing.assert_array_equal(keyed[0], whole[0])
    np.testing.assert_array_equal(keyed[1], whole[1])  # the same keys, bit for bit (NaN where NaN)


@SETTINGS
@given(x=matrices(min_rows=66, max_rows=120), metric=st.sampled_from(("cosine", "euclidean")),
       k=st.integers(1, 6))
def test_graph_through_the_sweep_equals_the_float64_oracle(x, metric, k):
    with sweep_columns(16):
        graph = neighbors.knn_graph(neighbors.prepare(x, metric), k, threads=1)
    assert_same_knn(graph.indices, graph.distances, x, metric, k)


def test_fold_keeps_the_smallest_keys_by_key_then_row():
    """The kernel alone: keys with signed zeros, many ties, +inf and NaN, invalid columns and
    an excluded column, folded in blocks of uneven width, against a stable sort."""
    rng = np.random.default_rng(0)
    m, n, kk = 9, 700, 25
    dots = np.round(rng.normal(size=(m, n)), 1).astype(np.float32)
    dots[rng.random((m, n)) < 0.2] = 0.0
    scale = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)  # −0.0 and +0.0 keys
    dots[1, ::3] = np.inf
    dots[2, :] = np.nan
    dots[2, 5:30] = 1.0  # fewer than kk ranked keys: padding left (row n)
    invalid = rng.random(n) < 0.1
    exclude = rng.integers(-1, n, m)
    for euclidean in (False, True):
        keys = (scale + np.float32(-2) * dots) if euclidean else dots * scale
        keys = keys.astype(np.float32)
        keys[:, invalid] = np.inf
        keys[np.flatnonzero(exclude >= 0), exclude[exclude >= 0]] = np.inf
        best = topk_fold.Running.start(m, kk, n)
        for c0, c1 in [(0, 100), (100, 101), (101, 450), (450, 700)]:
            topk_fold.fold(np.ascontiguousarray(dots[:, c0:c1]), scale[c0:c1], euclidean, invalid[c0:c1],
                           exclude, c0, best)
        got, got_keys = topk_fold.ordered(best)
        real = got < n
        np.testing.assert_array_equal(got_keys[real], np.take_along_axis(keys, np.minimum(got, n - 1), axis=1)[real])
        want = np.argsort(keys, axis=1, kind="stable")[:, :kk]  # NaN last
        for r in range(m):
            ranked = np.count_nonzero(~np.isnan(keys[r]))
            if ranked >= kk:
                np.testing.assert_array_equal(got[r], want[r], err_msg="row %d" % r)
            else:  # the ranked keys, then padding: propose redoes such a row by smallest_k
                np.testing.assert_array_equal(got[r, :ranked], want[r, :ranked], err_msg="row %d" % r)
                assert (got[r, ranked:] == n).all()


def test_gap_proof_takes_separated_rows_and_leaves_near_ties_to_refine():
    """exact.gap_proven: on random rows most queries are proven from their float32 keys (the
    fast path is used), a query whose k-th and (k+1)-th rows are closer than the keys' rounding
    is not, and either way the graph is the float64 oracle's."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    k = 5
    # row 0's 5th and 6th nearest rows: one direction, and it moved by 1e-7 (their float32
    # keys one ulp apart, 4.8e-7, inside the rounding bound 1.6e-5: a zero margin would take them)
    direction = x[0] + 0.05 * rng.normal(size=16).astype(np.float32)
    x[1:5] = x[0] * np.float32(1.5) + 0.01 * rng.normal(size=(4, 16)).astype(np.float32)
    x[5] = direction
    x[6] = direction + np.float32(1e-7) * rng.normal(size=16).astype(np.float32)
    prep = neighbors.prepare(x, "cosine")
    cand, keys = propose.propose_keyed(prep, prep.work, neighbors.candidates(k), np.arange(300))
    proven = exact.gap_proven(prep, prep.work, keys, k)
    assert proven.mean() > 0.8
    assert keys[0, k] > keys[0, k - 1] and not proven[0]
    graph = neighbors.knn_graph(prep, k, threads=1)
    assert_same_knn(graph.indices, graph.distances, x, "cosine", k)
    assert exact.gap_proven(neighbors.prepare(x, "euclidean"), prep.work, keys, k).sum() == 0  # cosine only


def test_small_graphs_never_wait_for_the_kernels_compile():
    """Below SWEEP_COLD_MIN_ROWS a fresh process answers from whole key rows without importing
    numba (its compile cost a cold tab 1.2 s at 10,000 points); once the kernel is compiled,
    the same graph goes through the sweep, and both graphs are the same."""
    child = textwrap.dedent("""
        import sys
        import numpy as np
        from tb_embedanalysis.analysis import metric_choice, neighbors, propose
        rng = np.random.default_rng(0)
        x = rng.normal(size=(3000, 16)).astype(np.float32)
        assert 3000 < propose.SWEEP_COLD_MIN_ROWS
        before = neighbors.knn_graph(neighbors.prepare(x, "cosine"), 10)
        metric_choice.choose_for(x, np.ones(3000, dtype=bool), rng.integers(0, 4, 3000), 4)
        print("numba" in sys.modules)
        from tb_embedanalysis.analysis import topk_fold
        topk_fold.warm()
        calls = []
        fold = topk_fold.fold
        topk_fold.fold = lambda *args: calls.append(1) or fold(*args)
        after = neighbors.knn_graph(neighbors.prepare(x, "cosine"), 10)
        print(len(calls) > 0, np.array_equal(before.indices, after.indices),
              np.array_equal(before.distances, after.distances))
    """)
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["False", "True", "True", "True"], out.stdout + out.stderr


def test_a_kernel_module_still_being_imported_is_not_compiled(monkeypatch):
    """The warm-up thread (kernel_warmup) imports topk_fold while a request or the CLI may
    already search: `_sweep_pays` must read a partly initialised module (what sys.modules holds
    during `import numba`, before `compiled` or `_kernel` exist) as "not compiled", not raise
    (it raised AttributeError: a CLI bug exit, found by bench_cli_quick.py --smoke)."""
    import types

    from tb_embedanalysis.analysis import propose, topk_fold

    name = topk_fold.__name__
    monkeypatch.setitem(sys.modules, name, types.ModuleType(name))  # before `compiled` is defined
    assert propose._sweep_pays(propose.SWEEP_COLD_MIN_ROWS - 1) is False
    partial = types.ModuleType(name)
    # `compiled` defined, `_kernel` not yet: the function itself, bound to that module's globals
    vars(partial)["compiled"] = types.FunctionType(topk_fold.compiled.__code__, vars(partial))
    monkeypatch.setitem(sys.modules, name, partial)
    assert propose._sweep_pays(propose.SWEEP_COLD_MIN_ROWS - 1) is False
    assert propose._sweep_pays(propose.SWEEP_COLD_MIN_ROWS) is True  # large: the sweep regardless
