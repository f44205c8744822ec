"""UMAP maps (issue 17 item 7): seeded, with progress, small inputs, the disk cache and the route.

UMAP's numba kernels compile once per process (a few seconds when numba's on-disk cache
is warm, ~30 s the very first time after install), so the tests share small inputs.
"""

import argparse
import json
import time

import numpy as np
import pytest
from sklearn.manifold import trustworthiness
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from tb_embedanalysis import write_embedding
from tb_embedanalysis.analysis import projection
from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending, Space
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"
pytestmark = pytest.mark.slow  # the first UMAP of a process compiles numba kernels: ~30 s here


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated Gaussian blobs of 100 points in 8-D; row 7 is not finite."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 100)
    x = (rng.normal(size=(300, 8)) + 6 * np.eye(8)[y]).astype(np.float32)
    x[7] = np.nan
    return x, y


def test_umap_is_seeded_reports_progress_and_keeps_the_blobs_apart(blobs):
    x, y = blobs
    valid = np.isfinite(x).all(axis=1)
    seen = []
    a = projection.umap_2d(x, valid, seed=3, on_progress=lambda f, m=None: seen.append((f, m)))
    b = projection.umap_2d(x, valid, seed=3)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert a.method == "umap" and not a.sampled and a.n_embedded == 299
    assert a.coords.dtype == np.float32 and a.coords.shape == (300, 2)
    assert np.isnan(a.coords[7]).all() and np.isfinite(a.coords[valid]).all()
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == pytest.approx(1.0)
    assert any(m and "epoch" in m for _, m in seen), seen  # the layout phase counts epochs
    # Meaning: each blob stays one blob on the map (every point's map neighbours share its blob).
    coords = a.coords[valid]
    assert trustworthiness(x[valid], coords, n_neighbors=10) > 0.9
    centroids = np.stack([coords[y[valid] == c].mean(axis=0) for c in range(3)])
    nearest = np.argmin(((coords[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == y[valid]).mean() == 1.0


def test_the_epoch_count_is_the_layouts_and_a_seed_still_gives_one_map(blobs):
    from tb_embedanalysis.analysis.map_settings import MapSettings

    x, _ = blobs
    valid = np.isfinite(x).all(axis=1)
    seen = []
    short = MapSettings(epochs=60)
    a = projection.umap_2d(x, valid, seed=3, settings=short, on_progress=lambda f, m=None: seen.append(m))
    np.testing.assert_array_equal(a.coords, projection.umap_2d(x, valid, seed=3, settings=short).coords)
    assert "UMAP layout, epoch 60 of 60" in seen, seen[-5:]
    assert not np.array_equal(a.coords, projection.umap_2d(x, valid, seed=3).coords)  # the default: 500
    assert short.key("umap")["n_epochs"] == 60 and "n_epochs" not in MapSettings().key("umap")
    assert MapSettings().is_default("umap") and not short.is_default("umap")


def test_another_seed_gives_another_map(blobs):
    x, _ = blobs
    valid = np.isfinite(x).all(axis=1)
    assert not np.array_equal(projection.umap_2d(x, valid, seed=1).coords,
                              projection.umap_2d(x, valid, seed=2).coords)


@pytest.mark.parametrize("n_valid", [0, 1, 2, 5, projection.UMAP_MIN_ROWS - 1])
def test_fewer_rows_than_umap_needs_are_placed_by_pca(n_valid):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(max(n_valid, 1) + 2, 4)).astype(np.float32)
    valid = np.zeros(x.shape[0], dtype=bool)
    valid[:n_valid] = True
    seen = []
    result = projection.umap_2d(x, valid, seed=0, on_progress=lambda f, m=None: seen.append(f))
    assert result.method == "umap" and result.n_embedded == n_valid
    np.testing.assert_array_equal(result.coords, projection.pca_2d(x, valid).coords)
    assert seen[-1] == 1.0


def test_umap_runs_at_the_smallest_size_it_accepts():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(projection.UMAP_MIN_ROWS, 4)).astype(np.float32)
    valid = np.ones(x.shape[0], dtype=bool)
    result = projection.umap_2d(x, valid, seed=0)
    assert np.isfinite(result.coords).all()
    assert not np.array_equal(result.coords, projection.pca_2d(x, valid).coords)


def test_engine_caches_umap_on_disk(tmp_path, blobs):
    x, _ = blobs
    space = Space(x, "fp-umap", np.isfinite(x).all(axis=1), "cosine")
    first = AnalysisEngine(cache_dir=str(tmp_path)).maps.projection(space, method="umap")
    calls = []
    original = projection.PROJECTIONS["umap"]

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    try:  # a fresh engine (empty memory cache) must answer from disk without computing
        projection.PROJECTIONS["umap"] = counted
        again = AnalysisEngine(cache_dir=str(tmp_path)).maps.projection(space, method="umap")
    finally:
        projection.PROJECTIONS["umap"] = original
    assert not isinstance(first, Pending) and not isinstance(again, Pending)
    assert calls == [] and again.method == "umap"
    np.testing.assert_array_equal(again.coords, first.coords)


def test_projection_route_answers_umap(tmp_path, blobs):
    x, y = blobs
    write_embedding(str(tmp_path / "blobs"), np.nan_to_num(x), name="emb", metadata=[str(v) for v in y])
    flags = argparse.Namespace(embedanalysis_cache_dir=str(tmp_path / "cache"))
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(tmp_path), flags=flags))
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    query = {"run": "blobs", "embedding": "emb", "method": "umap", "format": "json"}
    deadline = time.monotonic() + 300
    while True:  # 202 with progress while the job runs, then the map
        response = client.get(PREFIX + "/projection", query_string=query)
        body = json.loads(response.get_data(as_text=True))
        if response.status_code != 202:
            break
        assert body["status"] == "running" and 0.0 <= body["progress"] <= 1.0, body
        assert time.monotonic() < deadline, "UMAP did not finish"
        time.sleep(0.1)
    assert response.status_code == 200, body
    assert body["method"] == "umap" and body["n"] == 300 and len(body["coords"]) == 300
    binary = client.get(PREFIX + "/projection", query_string={**query, "format": "bin"})
    assert binary.status_code == 200 and binary.headers["X-Projection-Shape"] == "300,2"
    coords = np.frombuffer(binary.get_data(), dtype="<f4").reshape(300, 2)
    np.testing.assert_allclose(coords, np.asarray(body["coords"], dtype=np.float32), atol=1e-4)  # JSON rounds
