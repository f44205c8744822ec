"""UMAP's layout in progress (issue 25.5): previews of the same run, the final map unchanged.

The previews are read from umap-learn's running layout (analysis/umap_preview.py), which is
not a public API: these tests fail loudly when a umap-learn release moves it (no previews,
or previews of another run), and prove that reading them changes no bit of the map.
"""

import argparse
import base64
import json
import time
from typing import List

import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from tb_embedanalysis import write_embedding
from tb_embedanalysis.analysis import certified_graph, neighbors, projection, umap_preview
from tb_embedanalysis.analysis.map_settings import MapSettings
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"

pytestmark = pytest.mark.slow  # three 500-epoch UMAP layouts of 1,500 points: ~10 s


@pytest.fixture(scope="module")
def blobs():
    """1,500 points in 5 blobs in 16-D; row 11 is not finite (a NaN row of every map)."""
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(1500, 16)) + np.repeat(rng.normal(size=(5, 16)) * 5, 300, axis=0)).astype(np.float32)
    x[11] = np.nan
    return x, np.isfinite(x).all(axis=1)


@pytest.fixture(scope="module")
def watched(blobs):
    """umap_2d's map with its previews, and the map without them."""
    x, valid = blobs
    previews: List[umap_preview.LayoutPreview] = []
    with_previews = projection.umap_2d(x, valid, seed=4, on_layout=previews.append)
    return with_previews, previews, projection.umap_2d(x, valid, seed=4)


def test_previews_are_finite_layouts_of_every_valid_row_at_growing_epochs(blobs, watched):
    x, valid = blobs
    _, previews, _ = watched
    assert len(previews) >= 2, "no layout in progress seen: did umap-learn move optimize_layout_euclidean's array?"
    epochs = [p.epoch for p in previews]
    assert epochs == sorted(set(epochs)) and umap_preview.MIN_SHARE * 500 <= epochs[0] and epochs[-1] < 500, epochs
    for preview in previews:
        assert preview.n_epochs == 500 and preview.coords.shape == (1500, 2) and preview.coords.dtype == np.float32
        assert np.isfinite(preview.coords[valid]).all() and np.isnan(preview.coords[~valid]).all()
    # each a copy taken at its epoch, not a view of the array the run went on moving
    assert not np.array_equal(previews[0].coords, previews[-1].coords)


def test_watching_changes_no_bit_of_the_map(watched):
    with_previews, _, without = watched
    np.testing.assert_array_equal(with_previews.coords, without.coords)


@pytest.mark.filterwarnings("ignore:precomputed_knn.2.:UserWarning")  # umap_2d's own notice filter (projection.py)
def test_a_preview_is_umap_learns_own_run_at_that_epoch(blobs, watched):
    """umap-learn's public n_epochs list ([e, 500]: the layout after epoch index e, the run
    otherwise the same) gives the preview's coordinates, and its final layout is the map."""
    import umap

    x, valid = blobs
    with_previews, previews, _ = watched
    preview = previews[len(previews) // 2]
    rows = np.flatnonzero(valid)
    data = np.ascontiguousarray(x[rows])
    graph = certified_graph.knn_graph_exact_fast(neighbors.prepare(data, "euclidean"), 14)
    knn = (np.hstack([np.arange(rows.size)[:, None], graph.indices]),
           np.hstack([np.zeros((rows.size, 1)), graph.distances]).astype(np.float32), None)
    own = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, metric="euclidean", n_epochs=[preview.epoch - 1, 500],
                    precomputed_knn=knn, random_state=4, n_jobs=1).fit(data)
    np.testing.assert_array_equal(own.embedding_list_[0], preview.coords[rows])
    np.testing.assert_array_equal(own.embedding_.astype(np.float32), with_previews.coords[rows])


def test_no_previews_above_the_size_bound(monkeypatch, blobs):
    x, valid = blobs
    monkeypatch.setattr(umap_preview, "MAX_POINTS", 1499)
    previews: List[umap_preview.LayoutPreview] = []
    small = MapSettings(epochs=60)
    projection.umap_2d(x, valid, seed=4, settings=small, on_layout=previews.append)
    assert previews == []


def test_the_routes_202_answers_carry_the_layout_so_far_then_the_map(tmp_path, blobs, watched):
    """What the tab polls: 202 answers with `preview` (http_api.md /projection), then the map,
    the same bits as umap_2d's without previews."""
    x = np.nan_to_num(blobs[0])  # write_embedding takes finite values: row 11 becomes zeros, a valid row
    write_embedding(str(tmp_path / "blobs"), x, name="emb")
    flags = argparse.Namespace(embedanalysis_cache_dir=str(tmp_path / "cache"))
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(tmp_path), flags=flags))
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    query = {"run": "blobs", "embedding": "emb", "method": "umap", "format": "bin"}
    seen = []
    deadline = time.monotonic() + 300
    while True:
        response = client.get(PREFIX + "/projection", query_string=query)
        if response.status_code != 202:
            break
        body = json.loads(response.get_data(as_text=True))
        if "preview" in body:
            seen.append(body)
        assert time.monotonic() < deadline, "UMAP did not finish"
    assert response.status_code == 200 and response.headers["X-Projection-Shape"] == "1500,2"
    assert seen, "no 202 answer carried a preview"
    for body in seen:
        preview = body["preview"]
        coords = np.frombuffer(base64.b64decode(preview["coords_base64"]), dtype="<f4")
        assert preview["n"] == 1500 and preview["dims"] == 2 and coords.size == 1500 * 2
        assert np.isfinite(coords).all()
        assert umap_preview.MIN_SHARE * 500 <= preview["epoch"] < preview["n_epochs"] == 500
        assert body["message"].startswith("UMAP layout, epoch")
    final = np.frombuffer(response.get_data(), dtype="<f4").reshape(1500, 2)
    np.testing.assert_array_equal(final, projection.umap_2d(x, np.ones(1500, dtype=bool), seed=0).coords)
