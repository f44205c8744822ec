"""What people know from the Projector, through the real WSGI app on logs the writer wrote:
PCA components with their explained variance (against scikit-learn), 3-D maps, t-SNE and
UMAP settings (bounded, cached per setting), the custom linear projection (against a float64
numpy computation), numeric metadata columns, bookmarks beside the tags."""

import argparse
import json
import time

import numpy as np
import pytest
from sklearn.decomposition import PCA
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

import plugin_fixtures
from tb_embedanalysis import write_embedding
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader
from tb_embedanalysis.queries import bookmarks as bookmark_queries

PREFIX = "/data/plugin/embedanalysis"
GUARD = {"X-Embedanalysis-Request": "1"}


def _table(n=240, seed=5):
    """Three anisotropic clusters in 8-D; metadata: a label, a numeric score with blanks, a word."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 8)) * 4
    labels = np.arange(n) % 3
    vectors = (centres[labels] + rng.normal(size=(n, 8)) * np.linspace(3, 0.2, 8)).astype(np.float32)
    score = ["%.4g" % v for v in rng.normal(size=n) * 10]
    score[3] = ""  # blank: written as <empty>, a missing number
    return vectors, {"label": ["abc"[i] for i in labels], "score": score, "word": ["w%d" % i for i in range(n)]}


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("projector_logs")
    vectors, metadata = _table()
    write_embedding(str(root / "table"), vectors, name="points", metadata=metadata)
    words = plugin_fixtures.write_words_run(str(root / "words"))
    return root, {"vectors": vectors, "metadata": metadata, "words": words}


def _plugin(logdir, cache_dir):
    flags = argparse.Namespace(embedanalysis_cache_dir=str(cache_dir), embedanalysis_max_memory_mb=256.0)
    return EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=flags))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("projector_cache")


@pytest.fixture(scope="module")
def client(logdir, cache_dir):
    return werkzeug_test.Client(application.TensorBoardWSGI([_plugin(logdir[0], cache_dir)]))


def get(client, path, **query):
    """GET until it stops answering 202 (a job computing)."""
    deadline = time.monotonic() + 180
    while True:
        response = client.get(PREFIX + path, query_string=query)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def coords_of(response):
    shape = tuple(int(v) for v in response.headers["X-Projection-Shape"].split(","))
    return np.frombuffer(response.get_data(), dtype="<f4").reshape(shape), json.loads(response.headers["X-Projection-Info"])


def test_pca_components_and_variance_match_scikit_learn(client, logdir):
    vectors = logdir[1]["vectors"].astype(np.float64)
    reference = PCA(n_components=8).fit(vectors)
    expected = reference.transform(vectors)
    response = get(client, "/projection", run="table", embedding="points", method="pca", components="3,1,2")
    assert response.status_code == 200, response.get_data(as_text=True)
    coords, info = coords_of(response)
    assert coords.shape == (240, 3) and info["settings"] == {"components": "3,1,2"}
    for axis, component in enumerate((2, 0, 1)):  # signs are a convention: compare up to one
        ours, theirs = coords[:, axis].astype(np.float64), expected[:, component]
        sign = np.sign(ours @ theirs)
        np.testing.assert_allclose(ours, sign * theirs, rtol=1e-4, atol=1e-4)
    # Eight dimensions: ratios of components 9 and 10 are 0, the rest scikit-learn's.
    np.testing.assert_allclose(info["variance"][:8], reference.explained_variance_ratio_, atol=2e-6)
    assert info["variance"][8:] == [0.0, 0.0] and abs(sum(info["variance"]) - 1) < 1e-5
    again = get(client, "/projection", run="table", embedding="points", method="pca", format="json", components="1,2")
    np.testing.assert_allclose(np.abs(again.get_json()["coords"]), np.abs(expected[:, :2]), atol=2e-4)


def test_tsne_in_three_dimensions_and_cached_per_setting(client):
    query = dict(run="table", embedding="points", method="tsne", dims="3", perplexity="12")
    first = get(client, "/projection", **query)
    assert first.status_code == 200, first.get_data(as_text=True)
    coords, info = coords_of(first)
    assert coords.shape == (240, 3) and np.isfinite(coords).all()
    assert info["settings"] == {"dims": 3, "perplexity": 12.0, "learning_rate": "auto"}
    started = time.perf_counter()
    again = client.get(PREFIX + "/projection", query_string=query)  # cached: at once, the same map
    assert again.status_code == 200 and time.perf_counter() - started < 1.0
    np.testing.assert_array_equal(coords_of(again)[0], coords)
    other = get(client, "/projection", **dict(query, perplexity="40", learning_rate="50"))
    assert coords_of(other)[1]["settings"]["learning_rate"] == 50.0
    assert not np.array_equal(coords_of(other)[0], coords)


def test_umap_in_three_dimensions_with_its_settings(client):
    query = dict(run="table", embedding="points", method="umap", dims="3", n_neighbors="8", min_dist="0.5")
    response = get(client, "/projection", **query)
    assert response.status_code == 200, response.get_data(as_text=True)
    coords, info = coords_of(response)
    assert coords.shape == (240, 3) and np.isfinite(coords).all()
    assert info["settings"] == {"dims": 3, "n_neighbors": 8, "min_dist": 0.5}
    # The three clusters stay apart in 3-D: each point's nearest other point shares its label.
    labels = np.arange(240) % 3
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).mean() > 0.95


@pytest.mark.parametrize("query, parameter", [
    ({"method": "tsne", "perplexity": "1"}, "perplexity"),
    ({"method": "tsne", "perplexity": "1e9"}, "perplexity"),
    ({"method": "tsne", "learning_rate": "fast"}, "learning_rate"),
    ({"method": "tsne", "learning_rate": "0"}, "learning_rate"),
    ({"method": "umap", "n_neighbors": "1"}, "n_neighbors"),
    ({"method": "umap", "n_neighbors": "100000"}, "n_neighbors"),
    ({"method": "umap", "min_dist": "1.5"}, "min_dist"),
    ({"method": "umap", "min_dist": "nan"}, "min_dist"),
    ({"method": "umap", "n_epochs": "10"}, "n_epochs"),
    ({"method": "umap", "n_epochs": "5000"}, "n_epochs"),
    ({"method": "umap", "n_epochs": "120.5"}, "n_epochs"),
    ({"method": "pca", "dims": "4"}, "dims"),
    ({"method": "pca", "components": "1,11"}, "components"),
    ({"method": "pca", "components": "1"}, "components"),
    ({"method": "pca", "components": "1,2", "dims": "3"}, "components"),
    ({"method": "tsne", "components": "1,2"}, "components"),
], ids=lambda v: v if isinstance(v, str) else "-".join("%s=%s" % kv for kv in v.items()))
def test_settings_out_of_bounds_are_400s_naming_the_parameter(client, query, parameter):
    response = client.get(PREFIX + "/projection", query_string=dict(run="table", embedding="points", **query))
    assert response.status_code == 400
    assert "'%s'" % parameter in response.get_json()["error"]


def test_more_umap_neighbours_than_the_working_memory_holds_is_a_422(logdir, tmp_path):
    flags = argparse.Namespace(embedanalysis_cache_dir=str(tmp_path), embedanalysis_max_memory_mb=256.0,
                               embedanalysis_work_memory_mb=20.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir[0]), flags=flags))
    small = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    # 240 rows: the graph for 200 neighbours needs ~32 MB (analysis/estimates.py), 40 ~9 MB.
    refused = small.get(PREFIX + "/projection", query_string=dict(run="table", embedding="points", method="umap",
                                                                   n_neighbors="200"))
    assert refused.status_code == 422 and "n_neighbors = 200" in refused.get_json()["error"]
    assert "--embedanalysis_work_memory_mb" in refused.get_json()["error"]
    fits = get(small, "/projection", run="table", embedding="points", method="umap", n_neighbors="40")
    assert fits.status_code == 200, fits.get_data(as_text=True)


def test_settings_route_shows_the_defaults(client):
    body = get(client, "/projection_settings").get_json()
    assert body["settings"]["perplexity"]["default"] == 30.0
    assert body["settings"]["n_neighbors"]["default"] == 15 and body["settings"]["min_dist"]["default"] == 0.1
    assert body["settings"]["learning_rate"]["default"] == "auto" and body["methods"] == ["pca", "tsne", "umap"]
    assert body["settings"]["n_epochs"] == {"default": "auto", "min": 50, "max": 1000}


def test_umap_epochs_are_a_setting_of_their_own_map(client):
    """n_epochs: a map of its own (its own cache key, echoed), seeded, laid out in that many
    epochs (the progress says so); the default stays umap-learn's (500 at 240 points)."""
    default = get(client, "/projection", run="table", embedding="points", method="umap")
    assert default.status_code == 200 and coords_of(default)[1]["settings"] == {"dims": 2, "n_neighbors": 15,
                                                                              "min_dist": 0.1}
    query = dict(run="table", embedding="points", method="umap", n_epochs="60")
    first = get(client, "/projection", **query)
    assert first.status_code == 200, first.get_data(as_text=True)
    coords, info = coords_of(first)
    assert info["settings"] == {"dims": 2, "n_neighbors": 15, "min_dist": 0.1, "n_epochs": 60}
    assert not np.array_equal(coords, coords_of(default)[0])


def _expected_custom(vectors, left, right):
    valid = np.ones(len(vectors), bool)
    v = vectors.astype(np.float64)
    u = v[right].mean(axis=0) - v[left].mean(axis=0)
    u /= np.linalg.norm(u)
    return (v[valid] - v[valid].mean(axis=0)) @ u, u


def test_custom_projection_axes_are_differences_of_means(client, logdir):
    words = logdir[1]["words"]
    vectors, names = words["vectors"], words["words"]
    response = get(client, "/custom_projection", run="words", embedding="embedding", left="horror",
                   right="comedy", down="tears", up="nightmare")
    assert response.status_code == 200, response.get_data(as_text=True)
    coords, info = coords_of(response)
    x, u = _expected_custom(vectors, [names.index("horror")], [names.index("comedy")])
    y, w = _expected_custom(vectors, [names.index("tears")], [names.index("nightmare")])
    np.testing.assert_allclose(coords[:, 0], x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(coords[:, 1], y, rtol=1e-5, atol=1e-5)
    assert info["matched"] == {"left": 1, "right": 1, "down": 1, "up": 1} and info["y_from"] == "queries"
    assert abs(info["cosine"] - float(u @ w)) < 1e-5


def test_custom_projection_by_label_regex_and_pca_for_y(client, logdir):
    vectors, metadata = logdir[1]["vectors"], logdir[1]["metadata"]
    labels = np.array(metadata["label"])
    response = get(client, "/custom_projection", run="table", embedding="points", left="a", right="c",
                   column="label", format="json")
    body = response.get_json()
    x, u = _expected_custom(vectors, np.flatnonzero(labels == "a"), np.flatnonzero(labels == "c"))
    coords = np.array(body["coords"])
    np.testing.assert_allclose(coords[:, 0], x, atol=2e-4)
    assert body["matched"] == {"left": 80, "right": 80} and body["y_from"] == "pca"
    assert abs(body["cosine"]) < 1e-9  # y is the widest spread orthogonal to x
    # y: the top principal axis of what x leaves (scikit-learn on the residual).
    v = vectors.astype(np.float64)
    residual = v - np.outer(v @ u, u)
    top = PCA(n_components=1).fit_transform(residual)[:, 0]
    np.testing.assert_allclose(np.abs(coords[:, 1]), np.abs(top), atol=2e-4)
    regex = get(client, "/custom_projection", run="table", embedding="points", left="^w1[0-9]$", right="^w2[0-9]$",
                column="word", match="regex", format="json").get_json()
    assert regex["matched"] == {"left": 10, "right": 10}


@pytest.mark.parametrize("query, words", [
    ({"left": "horror"}, "'right'"),
    ({"left": "horror", "right": "zzz-not-a-word"}, "'right'"),
    ({"left": "horror", "right": "comedy", "down": "tears"}, "'up'"),
    ({"left": "horror", "right": "horror"}, "left, right"),
    ({"left": "horror", "right": "comedy", "match": "fuzzy"}, "'match'"),
], ids=["no-right", "no-match", "down-without-up", "flat-axis", "bad-match"])
def test_custom_projection_refusals_name_the_parameter(client, query, words):
    response = client.get(PREFIX + "/custom_projection", query_string=dict(run="words", embedding="embedding", **query))
    assert response.status_code == 400
    assert words in response.get_json()["error"]


def test_numeric_columns_are_detected_with_exact_min_and_max(client, logdir):
    score = logdir[1]["metadata"]["score"]
    body = get(client, "/metadata", run="table", embedding="points", column="score").get_json()
    numbers = [float(s) for s in score if s]
    assert body["numeric"]["min"] == min(numbers) and body["numeric"]["max"] == max(numbers)
    assert body["numeric"]["missing"] == 1
    values = [body["numeric"]["values"][code] for code in body["codes"]]
    assert values[3] is None and values[:3] == [float(s) for s in score[:3]]
    assert get(client, "/metadata", run="table", embedding="points", column="word").get_json()["numeric"] is None


def post(client, body, headers=GUARD):
    return client.post(PREFIX + "/bookmarks", data=json.dumps(body), headers=headers, content_type="application/json")


def test_bookmarks_saved_listed_deleted_and_durable(client, logdir, cache_dir, monkeypatch):
    key = {"run": "words", "embedding": "embedding"}
    state = "run=words&emb=embedding&proj=tsne&point=3"
    saved = post(client, dict(key, name="scary corner", state=state))
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert [b["name"] for b in saved.get_json()["bookmarks"]] == ["scary corner"]
    post(client, dict(key, name="second", state="run=words&emb=embedding"))
    # Another TensorBoard on the same cache directory sees them (the tag database's file).
    other = werkzeug_test.Client(application.TensorBoardWSGI([_plugin(logdir[0], cache_dir)]))
    listed = get(other, "/bookmarks", **key).get_json()
    assert {b["name"]: b["state"] for b in listed["bookmarks"]} == {"scary corner": state,
                                                                     "second": "run=words&emb=embedding"}
    assert listed["persistent"] is True
    assert post(client, dict(key, name="second", delete=True)).status_code == 200
    assert [b["name"] for b in get(client, "/bookmarks", **key).get_json()["bookmarks"]] == ["scary corner"]
    assert get(client, "/bookmarks", run="table", embedding="points").get_json()["bookmarks"] == []
    monkeypatch.setattr(bookmark_queries, "MAX_BOOKMARKS", 2)
    assert post(client, dict(key, name="two", state="a=1")).status_code == 200
    full = post(client, dict(key, name="three", state="a=1"))
    assert full.status_code == 422 and "2 bookmarks" in full.get_json()["error"]
    assert post(client, dict(key, name="two", state="a=2")).status_code == 200  # replacing one is no new one


@pytest.mark.parametrize("body, status, words", [
    ({"run": "words", "embedding": "embedding", "name": "x" * 81, "state": "a=1"}, 400, "'name'"),
    ({"run": "words", "embedding": "embedding", "name": "ok", "state": "a\tb"}, 400, "'state'"),
    ({"run": "words", "embedding": "embedding", "name": "ok"}, 400, "'state'"),
    ({"run": "words", "embedding": "embedding", "name": "ok", "state": "a", "colour": 1}, 400, "colour"),
    ({"run": "words", "embedding": "embedding", "name": "nothing here", "delete": True}, 404, "nothing here"),
    ({"run": "nope", "embedding": "embedding", "name": "ok", "state": "a"}, 404, "nope"),
], ids=["long-name", "control-character", "no-state", "unknown-field", "delete-unknown", "unknown-run"])
def test_bookmark_refusals(client, body, status, words):
    response = post(client, body)
    assert response.status_code == status
    assert words in response.get_json()["error"]


def test_bookmark_writes_need_the_guard(client):
    response = post(client, {"run": "words", "embedding": "embedding", "name": "a", "state": "b"}, headers={})
    assert response.status_code == 403
    assert get(client, "/bookmarks", run="nope", embedding="x").status_code == 404
