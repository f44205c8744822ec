"""AnalysisEngine: caching, background jobs, invalid rows, projections."""

import os
import threading

import numpy as np
import pytest
from sklearn.decomposition import PCA

from tb_embedanalysis.analysis import engine as engine_module
from tb_embedanalysis.analysis import clusters, projection
from tb_embedanalysis.analysis.disk_cache import DiskCache
from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending


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
    result = engine.neighbors(x, "fp", index=3, k=5, metric="euclidean")
    assert result.exact and result.indices.shape == (5,) and 3 not in result.indices
    free = engine.neighbors(x, "fp", vector=x[3], k=6, metric="euclidean")
    assert free.indices[0] == 3 and free.distances[0] == 0.0
    assert free.indices[1:].tolist() == result.indices.tolist()


def test_invalid_rows_are_never_neighbours_and_cannot_be_queried(engine, data):
    x, _ = data
    x = x.copy()
    x[[1, 2]] = np.nan
    valid = np.isfinite(x).all(axis=1)
    result = engine.neighbors(x, "fp-nan", index=0, k=20, valid=valid)
    assert not {1, 2} & set(result.indices.tolist())
    with pytest.raises(ValueError, match="row 1 is not valid"):
        engine.neighbors(x, "fp-nan", index=1, valid=valid)
    with pytest.raises(IndexError, match="index 300 is out of range"):
        engine.neighbors(x, "fp-nan", index=300, valid=valid)


def test_approximate_index_is_used_above_the_threshold(tmp_path, data):
    x, _ = data
    eng = AnalysisEngine(approximate_threshold=100)
    assert eng.neighbors(x, "fp", index=0, k=5, exact=False).exact is False
    assert eng.neighbors(x, "fp", index=0, k=5, exact=True).exact is True
    report = eng.clusters(x, "fp", data[1], k=5)
    assert report.knn_exact is False


def test_clusters_equal_the_pure_function_and_are_cached(engine, data):
    x, labels = data
    report = engine.clusters(x, "fp", labels, k=5)
    assert report.to_dict() == clusters.cluster_statistics(x, labels, k=5).to_dict()
    assert engine.clusters(x, "fp", labels, k=5) is report


def test_progress_is_reported_while_waiting(engine, data):
    x, labels = data
    seen = []
    engine.hard_examples(x, "fp", labels, k=5, on_progress=lambda f, m: seen.append((f, m)))
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
    first = eng.clusters(x, "fp", labels, k=5, wait=False)
    second = eng.hard_examples(x, "fp", labels, k=5, wait=False)
    assert isinstance(first, Pending) and isinstance(second, Pending)
    assert 0.0 <= first.progress <= 1.0 and first.message
    gate.set()
    report = eng.clusters(x, "fp", labels, k=5, wait=True)
    eng.hard_examples(x, "fp", labels, k=5, wait=True)
    assert calls == [5], "one kNN graph for both reports"
    assert report.to_dict()["overall"]["k"] == 5


def test_errors_reach_the_caller(engine, data):
    x, _ = data
    with pytest.raises(ValueError, match="no clusters: every value of column Id is unique"):
        engine.clusters(x, "fp", [str(i) for i in range(300)], label_column="Id")
    with pytest.raises(ValueError, match="k must be between 1 and 299"):
        engine.clusters(x, "fp", data[1], k=300)
    with pytest.raises(ValueError, match="unknown hardness method 'x'"):
        engine.hard_examples(x, "fp", data[1], method="x")


def test_graph_is_read_back_from_disk_and_damage_is_detected(tmp_path, data):
    x, labels = data
    cache = str(tmp_path / "c")
    first = AnalysisEngine(cache_dir=cache).clusters(x, "fp", labels, k=5).to_dict()
    entries = [f for f in os.listdir(cache) if f.endswith(".npz")]
    assert len(entries) == 1
    assert AnalysisEngine(cache_dir=cache).clusters(x, "fp", labels, k=5).to_dict() == first
    path = os.path.join(cache, entries[0])
    with open(path, "r+b") as f:
        f.seek(-10, os.SEEK_END)
        byte = f.read(1)
        f.seek(-10, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert DiskCache(cache).get({"anything": 1}) is None
    assert AnalysisEngine(cache_dir=cache).clusters(x, "fp", labels, k=5).to_dict() == first


def test_damaged_entry_is_a_miss_and_deleted(tmp_path):
    cache = DiskCache(str(tmp_path))
    cache.put({"k": 1}, {"a": np.arange(5)})
    np.testing.assert_array_equal(cache.get({"k": 1})["a"], np.arange(5))
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
    assert eng.clusters(x, "fp", labels, k=5).to_dict()["overall"]["n"] == 300


def test_pca_matches_sklearn_up_to_sign_and_marks_invalid_rows(engine, data):
    x, _ = data
    valid = np.ones(300, dtype=bool)
    valid[7] = False
    result = engine.projection(x, "fp", method="pca", valid=valid)
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
    with pytest.raises(ValueError, match="unknown projection 'umap'; projections: pca, tsne"):
        projection.check_projection("umap")
