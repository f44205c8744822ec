"""Exact kNN against scikit-learn's brute-force NearestNeighbors; the HNSW index's recall."""

import subprocess
import sys
from typing import List

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from tb_embedanalysis.analysis import neighbors, propose


def _data(kind: str, n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    if kind == "duplicates":
        x[1::3] = x[0]  # a third of the rows equal row 0
    elif kind == "zero_vectors":
        x[::5] = 0.0
    elif kind == "scaled":  # same direction, different length: cosine ties
        x[1:6] = x[0] * np.arange(2, 7)[:, None]
    return x


def _oracle(x, k, metric, valid=None):
    rows = np.arange(len(x)) if valid is None else np.flatnonzero(valid)
    nn = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute").fit(x[rows])
    dist, idx = nn.kneighbors()
    return rows[idx], dist


@pytest.mark.parametrize("metric", neighbors.METRICS)
@pytest.mark.parametrize("n", [12, 300], ids=lambda n: "n%d" % n)
@pytest.mark.parametrize("kind", ["random", "duplicates", "zero_vectors", "scaled"])
def test_knn_graph_matches_sklearn(metric, n, kind):
    x = _data(kind, n)
    k = 5
    graph = neighbors.knn_graph(neighbors.prepare(x, metric), k)
    idx, dist = _oracle(x, k, metric)
    np.testing.assert_allclose(graph.distances, dist, atol=1e-6)
    # the sets agree wherever the k-th distance is not tied with the (k+1)-th
    for row in range(n):
        if kind == "random":
            assert list(graph.indices[row]) == list(idx[row])
    assert not np.isnan(graph.distances).any()
    assert (graph.indices != np.arange(n)[:, None]).all(), "a point is never its own neighbour"


@pytest.mark.parametrize("metric", neighbors.METRICS)
def test_ties_are_ordered_by_index(metric):
    x = np.zeros((10, 3))
    x[:, 0] = 1.0  # ten identical rows
    graph = neighbors.knn_graph(neighbors.prepare(x, metric), 4)
    assert graph.indices[0].tolist() == [1, 2, 3, 4]
    assert graph.indices[5].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(graph.distances, 0.0)


def test_zero_vector_is_at_cosine_distance_one():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    idx, dist = neighbors.search(neighbors.prepare(x, "cosine"), x[:1], 3, exclude=[0])
    assert idx[0].tolist() == [1, 2, 3]
    assert dist[0].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("metric", neighbors.METRICS)
def test_invalid_rows_never_returned_and_indices_are_original(metric):
    x = _data("random", 200)
    valid = np.ones(200, dtype=bool)
    valid[::7] = False
    x[::7] = np.nan
    graph = neighbors.knn_graph(neighbors.prepare(x, metric, valid), 6)
    idx, dist = _oracle(x, 6, metric, valid)
    np.testing.assert_array_equal(graph.indices[valid], idx)
    np.testing.assert_allclose(graph.distances[valid], dist, atol=1e-6)
    assert (graph.indices[~valid] == -1).all()
    assert not np.isin(graph.indices[valid], np.flatnonzero(~valid)).any()


@pytest.mark.parametrize("metric", neighbors.METRICS)
def test_small_blocks_give_the_same_graph(metric, monkeypatch):
    x = _data("random", 150)
    expected = neighbors.knn_graph(neighbors.prepare(x, metric), 4)
    monkeypatch.setattr(propose, "BLOCK_ELEMENTS", 300)  # two query rows per block
    blocked = neighbors.knn_graph(neighbors.prepare(x, metric), 4)
    np.testing.assert_array_equal(blocked.indices, expected.indices)


@pytest.mark.parametrize("metric", neighbors.METRICS)
def test_float32_duplicates_come_out_at_zero(metric):
    x = (_data("duplicates", 90) * 100).astype(np.float32)
    graph = neighbors.knn_graph(neighbors.prepare(x, metric), 3)
    assert graph.distances[0].tolist() == pytest.approx([0, 0, 0], abs=1e-6)
    assert graph.indices[0].tolist() == [1, 4, 7]


def test_free_vector_query_matches_sklearn():
    x = _data("random", 100)
    q = np.random.default_rng(5).normal(size=(3, 8))
    idx, dist = neighbors.search(neighbors.prepare(x, "euclidean"), q, 4)
    d2, i2 = NearestNeighbors(n_neighbors=4, algorithm="brute").fit(x).kneighbors(q)
    np.testing.assert_array_equal(idx, i2)
    np.testing.assert_allclose(dist, d2, atol=1e-9)


def test_k_too_large_and_unknown_metric_raise():
    x = _data("random", 5)
    with pytest.raises(ValueError, match="k must be between 1 and 4"):
        neighbors.search(neighbors.prepare(x, "cosine"), x[:1], 5, exclude=[0])
    with pytest.raises(ValueError, match="unknown metric 'manhattan'; metrics: cosine, euclidean"):
        neighbors.prepare(x, "manhattan")


def clustered(n, d, *, centers=50, spread=0.6, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, d)).astype(np.float32)
    return (c[rng.integers(0, centers, n)] + spread * rng.normal(size=(n, d))).astype(np.float32)


def test_graph_on_two_threads_equals_one_thread_and_brute_force(monkeypatch):
    """knn_graph's chunks may be searched on two threads in any order: the same answer."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(700, 12)).astype(np.float32)
    valid = np.ones(700, dtype=bool)
    valid[::97] = False
    prep = neighbors.prepare(x, "euclidean", valid)
    monkeypatch.setattr(neighbors, "GRAPH_CHUNK_ROWS", 64)  # eleven chunks
    seen: List[float] = []
    two = neighbors.knn_graph(prep, 6, threads=2, on_progress=seen.append)
    one = neighbors.knn_graph(prep, 6, threads=1)
    np.testing.assert_array_equal(two.indices, one.indices)
    np.testing.assert_array_equal(two.distances, one.distances)
    dist = np.sqrt(((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
    dist[:, ~valid] = np.inf
    np.fill_diagonal(dist, np.inf)
    expected = np.argsort(dist, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(two.indices[valid], expected[valid])
    assert (two.indices[~valid] == -1).all()
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_one_blas_thread_restores_the_limit_when_the_last_overlapping_user_leaves():
    # In a fresh interpreter: the BLAS limit is process-wide, and background jobs of earlier
    # tests' engines (or libraries with their own threadpool_limits) would move it meanwhile.
    script = """
from threadpoolctl import threadpool_info
from tb_embedanalysis.analysis import blas

def blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

before = blas_threads()
first, second = blas.one_blas_thread(), blas.one_blas_thread()
first.__enter__()
second.__enter__()
first.__exit__(None, None, None)  # the first user leaves while the second still computes
assert all(n == 1 for n in blas_threads()), blas_threads()
second.__exit__(None, None, None)
assert blas_threads() == before, (blas_threads(), before)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_one_blas_thread_holds_whichever_threads_enter_and_leave():
    """The server's case (issue 25.3): an earlier job's thread used the limit and lives on (a
    pool thread), then a graph in another thread enters, and users leave from other threads
    than they entered in. threadpoolctl 3.8 ignored every thread's change but the first
    one's while it lived: the graph's products ran on two BLAS threads."""
    script = """
import threading
from threadpoolctl import threadpool_info
from tb_embedanalysis.analysis import blas

def blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

before = blas_threads()
if min(before) < 2 or any(p.get("threading_layer") == "openmp" for p in threadpool_info() if p["user_api"] == "blas"):
    print("skip: BLAS on one thread already, or OpenMP's per-thread limits")
    raise SystemExit
done_earlier, finish = threading.Event(), threading.Event()

def earlier_job():  # uses the limit, then stays alive like a job pool's thread
    with blas.one_blas_thread():
        pass
    done_earlier.set()
    finish.wait()

pool_thread = threading.Thread(target=earlier_job, daemon=True)  # a failed assert must not wait for it
pool_thread.start()
done_earlier.wait()
seen = {}
first = blas.one_blas_thread()

def graph():
    first.__enter__()  # entered here, left in the main thread below
    seen["graph"] = blas_threads()

thread = threading.Thread(target=graph)
thread.start()
thread.join()
assert all(n == 1 for n in seen["graph"]), seen
first.__exit__(None, None, None)
assert blas_threads() == before, (blas_threads(), before)
finish.set()
pool_thread.join()
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    if done.stdout.startswith("skip"):
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize("metric", neighbors.METRICS)
@pytest.mark.parametrize("kind", ["random", "duplicates", "zero_vectors", "scaled"])
def test_sweep_proposes_what_whole_rows_propose(metric, kind, monkeypatch):
    """propose()'s column sweep (a running threshold per query) returns the rows, in the
    order, that smallest_k over whole key rows does: ties at the cut (duplicates, zero
    vectors: −0.0 and +0.0 keys), invalid rows, the query's own row, a NaN query."""
    monkeypatch.setattr(propose, "SWEEP_COLUMNS", 64)
    monkeypatch.setattr(propose, "SWEEP_ROWS", 96)
    monkeypatch.setattr(propose, "SWEEP_MIN_RATIO", 1)
    monkeypatch.setattr(propose, "SWEEP_COLD_MIN_ROWS", 0)  # the sweep even before its kernel is compiled
    x = _data(kind, 700, d=16).astype(np.float32)
    valid = np.ones(len(x), dtype=bool)
    valid[5::37] = False
    prep = neighbors.prepare(x, metric, valid)
    queries = prep.work[:230].copy()
    queries[7] = np.nan  # every key NaN: fewer than K' ranked keys, redone whole
    exclude = np.arange(230)
    exclude[::4] = -1
    for kk in (15, 40):
        swept = propose.propose(prep, queries, kk, exclude)
        assert np.array_equal(swept, propose._propose_whole(prep, queries, kk, exclude)[0])


def test_prepare_decides_the_cosine_frame_from_its_own_norms_as_float64_does():
    """neighbors.prepare hands frame.build the rows' float32 squared norms (one pass instead of
    a float64 one): the frame chosen, and so every key, is the float64 check's, at norms near
    both ends of the range, with tiny elements that underflow when squared, and zero rows."""
    from tb_embedanalysis.analysis import frame

    rng = np.random.default_rng(3)
    base = rng.normal(size=(200, 16))
    cases = {"plain": base, "zero row": np.vstack([base, np.zeros((1, 16))])}
    for exponent in (-41, -40, -39, -38, 38, 39, 40, 41):
        x = base.copy()
        x[7] *= 2.0 ** exponent / np.linalg.norm(x[7])
        cases["norm 2^%d" % exponent] = x
    tiny = base.copy()
    tiny[3] = 0.0
    tiny[3, :2] = 2.0 ** -70  # squares underflow float32 (2^-140): float32 sees a zero row
    cases["tiny elements"] = tiny
    for name, x64 in cases.items():
        x = x64.astype(np.float32)
        valid = np.ones(len(x), dtype=bool)
        prep = neighbors.prepare(x, "cosine", valid)
        alone = frame.build(x, valid, "cosine")
        assert prep.frame.copied == alone.copied, name
        np.testing.assert_array_equal(prep.work, alone.work, err_msg=name)
    assert frame.build(cases["norm 2^41"].astype(np.float32), np.ones(200, dtype=bool), "cosine").copied
    assert not frame.build(base.astype(np.float32), np.ones(200, dtype=bool), "cosine").copied


def test_prepare_decides_the_euclidean_frame_from_its_own_norms_as_float64_does():
    """Euclidean likewise: the float32 squared norms and the float64 mean decide when the offset
    is certainly small and the norms well inside the range (frame._small_offset); every other
    case goes to the float64 pass. The frame, and so every key, is the float64 pass's: offsets
    on both sides of OFFSET_RATIO × the spread and at the shortcut's own edge, norms near both
    ends, tiny elements, invalid rows (NaN) among the valid ones."""
    from tb_embedanalysis.analysis import frame

    rng = np.random.default_rng(4)
    base = rng.normal(size=(300, 16))
    spread = np.sqrt(((base - base.mean(axis=0)) ** 2).sum(axis=1).mean())
    direction = np.eye(16)[0]
    cases = {"plain": base}
    for ratio in (0.5, 0.69, 0.71, 1.0, 1.9, 2.1, 50.0):  # ‖c‖ / spread (the shortcut's edge ≈ 1)
        cases["offset %.2f spread" % ratio] = base + ratio * spread * direction
    for exponent in (-41, -40, -39, -38, 38, 39, 40, 41):
        cases["scaled to 2^%d" % exponent] = base * 2.0 ** exponent / np.abs(base).max()
    tiny = base * 2.0 ** -70  # squares underflow float32
    cases["tiny elements"] = tiny
    with_nan = base.copy()
    with_nan[[5, 77]] = np.nan
    cases["invalid rows"] = with_nan
    taken = []
    for name, x64 in cases.items():
        x = x64.astype(np.float32)
        valid = np.asarray(np.isfinite(x).all(axis=1))
        prep = neighbors.prepare(x, "euclidean", valid)
        alone = frame.build(x, valid, "euclidean")
        assert prep.frame.copied == alone.copied, name
        np.testing.assert_array_equal(prep.work, alone.work, err_msg=name)
        if not alone.copied:
            rows = np.flatnonzero(valid)
            sq = neighbors._squared_norms(x)
            taken.append((name, frame._small_offset(rows, sq, frame._mean(x, rows))))
    shortcut = dict(taken)
    assert shortcut["plain"] and shortcut["offset 0.50 spread"] and shortcut["invalid rows"], taken
    assert not shortcut["offset 1.90 spread"]  # kept by the float64 pass, not by the shortcut
    assert frame.build(cases["offset 50.00 spread"].astype(np.float32), np.ones(300, dtype=bool), "euclidean").copied
