"""AnalysisEngine: caching, background jobs, invalid rows, projections."""

import os
import threading

import numpy as np
import pytest
from sklearn.decomposition import PCA

from tb_embedanalysis.analysis import engine as engine_module
from tb_embedanalysis.analysis import clusters, projection
from tb_embedanalysis.analysis.disk_cache import DiskCache
from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending, Space


def space(x, fp="fp", valid=None, metric="cosine"):
    return Space(x, fp, np.isfinite(x).all(axis=1) if valid is None else valid, metric)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = (rng.normal(size=(300, 5)) + 3 * np.eye(5)[y]).astype(np.float32)
    return x, [str(v) for v in y]


@pytest.fixture
def engine(tmp_path):
    return AnalysisEngine(cache_dir=str(tmp_path / "cache"))


def test_neighbors_of_an_index_and_of_a_vector(engine, data):
    x, _ = data
    result = engine.neighbors(space(x, metric="euclidean"), index=3, k=5)
    assert result.exact and result.indices.shape == (5,) and 3 not in result.indices
    free = engine.neighbors(space(x, metric="euclidean"), vector=x[3], k=6)
    assert free.indices[0] == 3 and free.distances[0] == 0.0
    assert free.indices[1:].tolist() == result.indices.tolist()


def test_invalid_rows_are_never_neighbours_and_cannot_be_queried(engine, data):
    x, _ = data
    x = x.copy()
    x[[1, 2]] = np.nan
    valid = np.isfinite(x).all(axis=1)
    result = engine.neighbors(space(x, "fp-nan", valid), index=0, k=20)
    assert not {1, 2} & set(result.indices.tolist())
    # Querying an invalid row is refused by queries.resolve_query (tests/test_plugin_routes.py).


def test_graphs_are_exact_above_the_old_approximate_threshold(monkeypatch, data):
    """Issue 14: the graph is exact at every N (the HNSW graph above 50,000 rows was not)."""
    x, labels = data
    monkeypatch.setattr(engine_module.certified_graph, "MIN_ROWS", 100)  # take the certified route on 300 rows
    eng = AnalysisEngine()
    assert eng.neighbors(space(x), index=0, k=5).exact is True
    report = eng.clusters(space(x), eng.labels(space(x), labels), k=5)
    assert not isinstance(report, Pending)
    assert report.knn_exact is True
    assert report.to_dict() == clusters.cluster_statistics(x, labels, k=5).to_dict()


def test_clusters_equal_the_pure_function_and_are_cached(engine, data):
    x, labels = data
    report = engine.clusters(space(x), engine.labels(space(x), labels), k=5)
    assert report.to_dict() == clusters.cluster_statistics(x, labels, k=5).to_dict()
    assert engine.clusters(space(x), engine.labels(space(x), labels), k=5) is report


def test_progress_is_reported_while_waiting(engine, data):
    x, labels = data
    seen = []
    engine.hard_examples(space(x), engine.labels(space(x), labels), k=5,
                         on_progress=lambda f, m: seen.append((f, m)))
    assert seen and seen[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in seen)


def test_wait_false_answers_pending_then_the_result_single_flight(data, monkeypatch):
    x, labels = data
    eng = AnalysisEngine(sync_seconds=0.0)
    gate, calls = threading.Event(), []
    original = engine_module.neighbors.knn_graph

    def slow_graph(prep, k, on_progress=None):
        calls.append(k)
        gate.wait(10)
        return original(prep, k, on_progress=on_progress)

    monkeypatch.setattr(engine_module.neighbors, "knn_graph", slow_graph)
    encoded = eng.labels(space(x), labels)
    first = eng.clusters(space(x), encoded, k=5, wait=False)
    second = eng.hard_examples(space(x), encoded, k=5, wait=False)
    assert isinstance(first, Pending) and isinstance(second, Pending)
    assert 0.0 <= first.progress <= 1.0 and first.message
    gate.set()
    report = eng.clusters(space(x), encoded, k=5, wait=True)
    eng.hard_examples(space(x), encoded, k=5, wait=True)
    assert calls == [10], "one kNN graph (k = 10, sliced to 5) for both reports"
    assert not isinstance(report, Pending)
    assert report.to_dict()["overall"]["k"] == 5


def test_errors_reach_the_caller(engine, data):
    x, _ = data
    with pytest.raises(ValueError, match="no clusters: every value of column Id is unique"):
        engine.labels(space(x), [str(i) for i in range(300)], column="Id")
    with pytest.raises(ValueError, match="unknown hardness method 'x'"):
        engine.hard_examples(space(x), engine.labels(space(x), data[1]), method="x")


def _clusters(eng, x, labels, k=5):
    return eng.clusters(space(x), eng.labels(space(x), labels), k=k).to_dict()


def test_graph_is_read_back_from_disk_and_damage_is_detected(tmp_path, data):
    x, labels = data
    cache = str(tmp_path / "c")
    first = _clusters(AnalysisEngine(cache_dir=cache), x, labels)
    entries = [f for f in os.listdir(cache) if f.endswith(".entry")]
    assert len(entries) == 2  # the kNN graph and the statistics (result_entries.py)
    again = AnalysisEngine(cache_dir=cache)
    assert _clusters(again, x, labels) == first and again.jobs.started == 0
    for name in entries:  # both damaged: neither is served, both are recomputed
        with open(os.path.join(cache, name), "r+b") as f:
            f.seek(-10, os.SEEK_END)
            byte = f.read(1)
            f.seek(-10, os.SEEK_END)
            f.write(bytes([byte[0] ^ 0xFF]))
    assert DiskCache(cache).get({"anything": 1}) is None
    recomputed = AnalysisEngine(cache_dir=cache)
    assert _clusters(recomputed, x, labels) == first and recomputed.jobs.started > 0


def test_damaged_entry_is_a_miss_and_deleted(tmp_path):
    cache = DiskCache(str(tmp_path))
    cache.put({"k": 1}, {"a": np.arange(5)})
    stored = cache.get({"k": 1})
    assert stored is not None
    np.testing.assert_array_equal(stored["a"], np.arange(5))
    path = cache.path({"k": 1})
    with open(path, "r+b") as f:
        f.seek(-3, os.SEEK_END)
        f.write(b"xyz")
    assert cache.get({"k": 1}) is None and not os.path.exists(path)


def test_unwritable_cache_dir_keeps_working_in_memory(tmp_path, data):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    eng = AnalysisEngine(cache_dir=str(blocker / "cache"))
    assert not eng.disk.enabled
    x, labels = data
    assert _clusters(eng, x, labels)["overall"]["n"] == 300


def test_pca_matches_sklearn_up_to_sign_and_marks_invalid_rows(engine, data):
    x, _ = data
    valid = np.ones(300, dtype=bool)
    valid[7] = False
    result = engine.maps.projection(space(x, valid=valid), method="pca")
    assert result.coords.dtype == np.float32 and result.coords.shape == (300, 2)
    assert np.isnan(result.coords[7]).all() and not result.sampled
    expected = PCA(2).fit_transform(x[valid].astype(np.float64))
    for axis in range(2):
        got = result.coords[valid, axis]
        sign = np.sign(got @ expected[:, axis])
        np.testing.assert_allclose(got, sign * expected[:, axis], atol=1e-4)
    again = projection.pca_2d(x[::-1].copy()[::-1], valid)
    np.testing.assert_array_equal(again.coords, result.coords)


def test_tsne_is_seeded_and_reports_progress(data):
    x, _ = data
    valid = np.ones(300, dtype=bool)
    seen = []
    a = projection.tsne_2d(x, valid, seed=1, on_progress=lambda f, m: seen.append(f), n_jobs=1)
    b = projection.tsne_2d(x, valid, seed=1, n_jobs=1)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert a.method == "tsne" and not a.sampled and np.isfinite(a.coords).all()
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown projection 'isomap'; projections: pca, tsne, umap$"):
        projection.check_projection("isomap")


def test_metric_choice_asked_by_concurrent_requests_is_computed_once(engine, data, monkeypatch):
    """The tab's first /clusters and two /hard_examples ask for metric=auto together: one
    thread builds the two sample graphs, the others wait for its answer."""
    from tb_embedanalysis.analysis import labels as label_codes, metric_choice

    x, labels = data
    where = space(x)
    encoded = label_codes.encode_rows(labels, np.arange(len(labels)))
    real, calls = metric_choice.sample_graph, []

    def slow_graph(*args):  # slow enough that the three threads overlap
        calls.append(args[2])
        threading.Event().wait(0.3)
        return real(*args)

    monkeypatch.setattr(metric_choice, "sample_graph", slow_graph)
    start, answers = threading.Barrier(3), []

    def ask():
        start.wait()
        answers.append(engine.metric_choice(where, encoded))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(calls) == ["cosine", "euclidean"]
    assert len(answers) == 3 and all(answer is answers[0] for answer in answers)


def test_neighbors_of_a_row_come_from_the_cached_graph_and_equal_brute_force(monkeypatch):
    """Once the tab has the exact kNN graph, a click reads the row (no scan of all N); the
    answer is the one a search gives and scikit-learn's brute force."""
    from sklearn.neighbors import NearestNeighbors

    from tb_embedanalysis.analysis import neighbors as neighbors_module

    rng = np.random.default_rng(11)
    x = (rng.normal(size=(20, 8))[rng.integers(0, 20, 3000)] + 0.2 * rng.normal(size=(3000, 8))).astype(np.float32)
    valid = np.ones(len(x), dtype=bool)
    for metric in ("cosine", "euclidean"):
        space = Space(x, "row-" + metric, valid, metric)
        engine = AnalysisEngine()
        searched = [engine.neighbors(space, index=i, k=7) for i in (0, 123, 2999)]
        engine.knn_graph(space, k=20)

        def no_scan(*args, **kwargs):
            raise AssertionError("searched all rows although the graph is cached")

        monkeypatch.setattr(neighbors_module, "search", no_scan)
        from_graph = [engine.neighbors(space, index=i, k=7) for i in (0, 123, 2999)]
        monkeypatch.undo()
        brute = NearestNeighbors(n_neighbors=8, metric=metric, algorithm="brute").fit(x)
        dist, idx = brute.kneighbors(x[[0, 123, 2999]])
        for a, b in zip(searched, from_graph):
            assert np.array_equal(a.indices, b.indices)
            np.testing.assert_allclose(a.distances, b.distances, rtol=1e-5, atol=1e-6)
        for row, b in enumerate(from_graph):
            keep = idx[row] != (0, 123, 2999)[row]
            assert b.indices.tolist() == idx[row][keep][:7].tolist()
            np.testing.assert_allclose(b.distances, dist[row][keep][:7], rtol=1e-5, atol=1e-5)
