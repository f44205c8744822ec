"""Every route through the real WSGI app, on logs written by the writer and by TensorFlow."""

import argparse
import concurrent.futures
import json

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import KNeighborsClassifier
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

import plugin_fixtures
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    data = {
        "digits": plugin_fixtures.write_digits_run(str(root / "digits")),
        "words": plugin_fixtures.write_words_run(str(root / "words")),
    }
    plugin_fixtures.write_broken_run(str(root / "broken"))
    late = data["digits"]["late"]
    plugin_fixtures.write_tf1_saver_run(str(root / "tf1"), late[:200], data["digits"]["labels"][:200])
    return root, data


def make_plugin(logdir, cache_dir=None):
    loader = EmbedAnalysisLoader()
    flags = argparse.Namespace(embedanalysis_cache_dir=str(cache_dir) if cache_dir else "none",
                               embedanalysis_max_memory_mb=512.0)
    return loader.load(base_plugin.TBContext(logdir=str(logdir), flags=flags))


@pytest.fixture(scope="module")
def client(logdir, tmp_path_factory):
    plugin = make_plugin(logdir[0], tmp_path_factory.mktemp("cache"))
    app = application.TensorBoardWSGI([plugin])
    return werkzeug_test.Client(app)


def get_json(client, path, status=200, **query):
    response = client.get(PREFIX + path, query_string=query)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return json.loads(response.get_data(as_text=True))


def wait_json(client, path, **query):
    """Poll a route that may answer 202 while the engine computes."""
    import time

    deadline = time.monotonic() + 120
    while True:
        response = client.get(PREFIX + path, query_string=query)
        body = json.loads(response.get_data(as_text=True))
        if response.status_code == 200:
            return body
        assert response.status_code == 202, body
        assert 0.0 <= body["progress"] <= 1.0 and body["status"] == "running"
        assert time.monotonic() < deadline, "computation did not finish"
        time.sleep(0.05)


def embeddings_by_run(body):
    return {run["run"]: {e["name"]: e for e in run["embeddings"]} for run in body["runs"]}


def test_runs_lists_every_run_with_steps_and_errors(client):
    runs = embeddings_by_run(get_json(client, "/runs"))
    assert set(runs) == {"digits", "words", "broken", "tf1"}
    logits = runs["digits"]["logits"]
    assert logits["shape"] == [600, 10] and logits["steps"] == [100, 1500] and logits["step"] == 1500
    assert logits["label_column"] == "Label" and logits["has_sprite"] and logits["thumbnail_size"] == [8, 8]
    assert logits["error"] is None
    words = runs["words"]["embedding"]
    assert words["label_column"] is None and not words["has_sprite"] and words["columns"] == ["label"]
    broken = runs["broken"]["mismatch"]  # metadata one row short: refused, the vectors still usable (issue 15)
    assert broken["error"] is None and broken["shape"] == [10, 4] and broken["columns"] == []
    assert any("has 9 rows but tensor mismatch has 10" in w for w in broken["warnings"]), broken
    assert runs["tf1"]["FINAL_LOGITS"]["shape"] == [200, 10]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_neighbors_by_index_equal_brute_force(client, logdir, metric):
    vectors = logdir[1]["digits"]["late"]
    body = get_json(client, "/neighbors", run="digits", embedding="logits", index=17, k=7, metric=metric)
    distances = pairwise_distances(vectors[17:18].astype(np.float64), vectors.astype(np.float64), metric=metric)[0]
    distances[17] = np.inf
    expected = np.argsort(distances, kind="stable")[:7]
    assert [n["index"] for n in body["neighbors"]] == expected.tolist()
    np.testing.assert_allclose([n["distance"] for n in body["neighbors"]], distances[expected], rtol=1e-4, atol=1e-5)
    assert body["query"]["metadata"] == {"Index": "17", "Label": logdir[1]["digits"]["labels"][17]}
    assert body["exact"] is True and body["metric"] == metric


def test_exact_is_no_parameter(client):
    """Every answer is exact; `exact=` was accepted and ignored (a 400 unless a boolean), so
    it is gone: like any parameter no route reads, it changes nothing (issue 23)."""
    query = {"run": "digits", "embedding": "logits", "index": 3, "k": 5}
    assert get_json(client, "/neighbors", exact="maybe", **query) == get_json(client, "/neighbors", **query)


def test_neighbors_of_a_typed_word(client):
    body = get_json(client, "/neighbors", run="words", embedding="embedding", query="Hitchcock", k=4)
    assert body["query"]["metadata"] == {"label": "hitchcock"}
    assert {n["metadata"]["label"] for n in body["neighbors"]} == {"nightmare", "horror", "creepy", "terrifying"}


def test_neighbors_at_an_earlier_step_use_that_steps_vectors(client, logdir):
    vectors = logdir[1]["digits"]["early"]
    body = get_json(client, "/neighbors", run="digits", embedding="logits", step=100, index=3, k=3, metric="euclidean")
    distances = np.linalg.norm(vectors.astype(np.float64) - vectors[3], axis=1)
    distances[3] = np.inf
    assert [n["index"] for n in body["neighbors"]] == np.argsort(distances, kind="stable")[:3].tolist()


def test_search_finds_all_threes(client, logdir):
    labels = logdir[1]["digits"]["labels"]
    body = get_json(client, "/search", run="digits", embedding="logits", q="^3$", column="Label", limit=1000)
    assert body["total"] == labels.count("3")
    assert all(m["metadata"]["Label"] == "3" for m in body["matches"])


def test_clusters_match_scikit_learn(client, logdir):
    data = logdir[1]["digits"]
    body = wait_json(client, "/clusters", run="digits", embedding="logits", k=10, metric="euclidean")
    knn = KNeighborsClassifier(n_neighbors=10, metric="euclidean")
    # Leave-one-out accuracy by hand with scikit-learn: fit on all, query k+1, drop self.
    labels = np.asarray(data["labels"])
    correct = 0
    for i in range(len(labels)):
        mask = np.ones(len(labels), bool)
        mask[i] = False
        knn.fit(data["late"][mask], labels[mask])
        correct += knn.predict(data["late"][i:i + 1])[0] == labels[i]
    assert body["overall"]["knn_accuracy"] == pytest.approx(correct / len(labels), abs=1e-9)
    assert {row["label"] for row in body["labels"]} == set(labels)
    assert sum(map(sum, body["confusion"]["matrix"])) == len(labels)
    for key in ("n", "k", "metric", "macro_f1", "silhouette", "silhouette_sample_size", "davies_bouldin"):
        assert key in body["overall"]
    for key in ("count", "spread", "radius_p90", "nearest_label", "separation", "purity", "knn_recall",
                "knn_precision", "silhouette", "hard_count"):
        assert key in body["labels"][0]


def test_late_step_clusters_better_than_early(client):
    early = wait_json(client, "/clusters", run="digits", embedding="logits", step=100)
    late = wait_json(client, "/clusters", run="digits", embedding="logits", step=1500)
    assert late["overall"]["knn_accuracy"] > early["overall"]["knn_accuracy"]


def test_hard_examples_are_ranked_and_paginated(client):
    first = wait_json(client, "/hard_examples", run="digits", embedding="logits", step=100, limit=5)
    second = get_json(client, "/hard_examples", run="digits", embedding="logits", step=100, limit=5, offset=5)
    assert first["total"] == second["total"] == 600  # every point is ranked
    clusters = wait_json(client, "/clusters", run="digits", embedding="logits", step=100)
    assert first["hard_total"] == sum(row["hard_count"] for row in clusters["labels"]) > 0
    scores = [e["score"] for e in first["examples"] + second["examples"]]
    assert scores == sorted(scores, reverse=True)
    example = first["examples"][0]
    assert example["predicted_label"] != example["label"]
    assert sum(example["neighbor_labels"].values()) == 10
    assert set(example["metadata"]) == {"Index", "Label"}


def test_hard_examples_of_one_label_and_one_confusion_cell(client):
    body = wait_json(client, "/hard_examples", run="digits", embedding="logits", step=100, label="3", limit=1000)
    assert all(e["label"] == "3" for e in body["examples"])
    if body["examples"]:
        predicted = body["examples"][0]["predicted_label"]
        cell = get_json(client, "/hard_examples", run="digits", embedding="logits", step=100, label="3",
                        predicted=predicted, limit=1000)
        assert cell["examples"] and all(e["predicted_label"] == predicted for e in cell["examples"])
        clusters = wait_json(client, "/clusters", run="digits", embedding="logits", step=100)
        labels = clusters["confusion"]["labels"]
        count = clusters["confusion"]["matrix"][labels.index("3")][labels.index(predicted)]
        assert cell["total"] == count


def test_an_unknown_method_is_refused_listing_every_method_history_included(client):
    """`history` is a method of /hard_examples like the scores (issue 23: the list lacked it)."""
    from tb_embedanalysis.analysis.hardness import HARDNESS_METHODS

    body = get_json(client, "/hard_examples", status=400, run="digits", embedding="logits", method="bogus")
    assert body["error"] == "unknown method 'bogus'; methods: %s, history" % ", ".join(HARDNESS_METHODS)


def test_projection_binary_and_json_agree(client):
    response = client.get(PREFIX + "/projection", query_string={"run": "digits", "embedding": "logits"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/octet-stream"
    coords = np.frombuffer(response.get_data(), dtype="<f4").reshape(-1, 2)
    assert coords.shape == (600, 2) and np.isfinite(coords).all()
    body = get_json(client, "/projection", run="digits", embedding="logits", format="json")
    np.testing.assert_allclose(np.asarray(body["coords"]), coords, atol=1e-4)


def test_thumbnail_is_the_points_image(client, logdir):
    from io import BytesIO

    from PIL import Image

    response = client.get(PREFIX + "/thumbnail", query_string={"run": "digits", "embedding": "logits", "index": 5})
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    assert "max-age" in response.headers["Cache-Control"]
    image = np.asarray(Image.open(BytesIO(response.get_data())).convert("L"), dtype=np.float32)
    expected = 255 * (1 - logdir[1]["digits"]["images"][5])  # inverted: dark digits on white
    assert np.abs(image - expected).max() <= 1.0


def test_export_csv_and_json(client):
    response = client.get(PREFIX + "/export", query_string={"run": "digits", "embedding": "logits", "what": "clusters", "format": "csv"})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("label,count") and len(lines) == 11
    response = client.get(PREFIX + "/export", query_string={"run": "words", "embedding": "embedding", "what": "neighbors",
                                                         "query": "comedy", "k": 3, "format": "json"})
    assert response.status_code == 200
    assert len(json.loads(response.get_data(as_text=True))["neighbors"]) == 3


def test_compare_lists_every_step(client):
    body = wait_json(client, "/compare", run="digits", embedding="logits")
    assert [(e["run"], e["step"]) for e in body["series"]] == [("digits", 100), ("digits", 1500)]
    assert body["series"][1]["overall"]["knn_accuracy"] > body["series"][0]["overall"]["knn_accuracy"]


@pytest.mark.parametrize("query", [{"k": 10 ** 9}, {"metric": "manhattan"}, {"label_column": "nope"}],
                         ids=["k-too-big", "unknown-metric", "unknown-label-column"])
def test_compare_refuses_what_clusters_refuses(client, query):
    """Issue 23: /compare answered 200 with the same error in every step."""
    where = {"run": "digits", "embedding": "logits", **query}
    clusters = client.get(PREFIX + "/clusters", query_string=where)
    compare = client.get(PREFIX + "/compare", query_string=where)
    assert clusters.status_code in (400, 404)
    assert (compare.status_code, compare.get_json()) == (clusters.status_code, clusters.get_json())


@pytest.mark.parametrize(
    "path, query, status, words",
    [
        ("/neighbors", {"run": "nope", "embedding": "logits", "index": 0}, 404, "unknown run 'nope'"),
        ("/neighbors", {"run": "digits", "embedding": "nope", "index": 0}, 404, "no embedding 'nope'"),
        ("/neighbors", {"run": "digits", "embedding": "logits", "step": 7, "index": 0}, 404, "no step 7"),
        ("/neighbors", {"run": "digits", "embedding": "logits", "index": 600}, 404, "out of range"),
        ("/neighbors", {"run": "digits", "embedding": "logits", "index": "x"}, 400, "'index' must be an integer"),
        ("/neighbors", {"run": "digits", "embedding": "logits"}, 400, "pass index="),
        ("/neighbors", {"run": "digits", "embedding": "logits", "index": 0, "k": 0}, 400, "k must be between 1 and 599 for embedding 'logits', got 0"),
        ("/neighbors", {"run": "words", "embedding": "embedding", "index": 0, "k": 15}, 400, "k must be between 1 and 14"),
        ("/neighbors", {"run": "digits", "embedding": "logits", "index": 0, "metric": "manhattan"}, 400, "cosine, euclidean"),
        ("/neighbors", {"run": "words", "embedding": "embedding", "query": "zebra"}, 404, "'zebra'"),
        ("/neighbors", {"embedding": "logits", "index": 0}, 400, "missing required parameter 'run'"),
        ("/clusters", {"run": "broken", "embedding": "mismatch"}, 422, "metadata file refused, no labels"),
        ("/clusters", {"run": "words", "embedding": "embedding"}, 400, "no label column"),
        ("/clusters", {"run": "digits", "embedding": "logits", "label_column": "Nope"}, 404, "unknown column 'Nope'"),
        ("/hard_examples", {"run": "digits", "embedding": "logits", "method": "magic"}, 400, "unknown method 'magic'"),
        ("/hard_examples", {"run": "digits", "embedding": "logits", "label": "42"}, 404, "unknown label '42'"),
        ("/thumbnail", {"run": "words", "embedding": "embedding", "index": 0}, 404, "no sprite"),
        ("/projection", {"run": "digits", "embedding": "logits", "method": "isomap"}, 400, "pca, tsne, umap"),
        ("/export", {"run": "digits", "embedding": "logits", "what": "secrets"}, 400, "'what'"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_errors_are_4xx_json_naming_the_problem(client, path, query, status, words):
    body = get_json(client, path, status=status, **query)
    assert words in body["error"]


@pytest.mark.parametrize("attack", [
    "../setup.py", "..%2f..%2fsetup.py", "%2e%2e/%2e%2e/setup.py", "..\\..\\setup.py", "/etc/passwd",
    "%2fetc%2fpasswd", "views/../../plugin/plugin.py", "__init__.py", "....//setup.py", "index.js/../../setup.py",
])
def test_static_files_cannot_escape_the_frontend(client, attack):
    response = client.get(PREFIX + "/" + attack)
    assert response.status_code == 404
    assert "error" in json.loads(response.get_data(as_text=True))


def test_index_js_is_served_as_javascript(client):
    response = client.get(PREFIX + "/index.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert b"export" in response.get_data()


def test_concurrent_cold_requests_load_once_and_agree(logdir, monkeypatch):
    from tb_embedanalysis.logs import store as store_module

    loads = []
    original = store_module.load_embedding

    def counting_load(ref):
        loads.append((ref.run, ref.name, ref.step))
        return original(ref)

    monkeypatch.setattr(store_module, "load_embedding", counting_load)
    plugin = make_plugin(logdir[0])
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))

    def ask(_):
        response = client.get(PREFIX + "/neighbors", query_string={"run": "digits", "embedding": "logits", "index": 1, "k": 5})
        return response.status_code, response.get_data(as_text=True)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(32)))
    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1
    assert loads.count(("digits", "logits", 1500)) == 1


def test_metadata_column_in_row_order(client, logdir):
    body = get_json(client, "/metadata", run="digits", embedding="logits", column="Label")
    labels = logdir[1]["digits"]["labels"]
    assert body["column"] == "Label" and len(body["codes"]) == len(labels)
    assert [body["categories"][code] for code in body["codes"]] == labels
    assert len(set(body["categories"])) == len(body["categories"])  # each distinct value once
    words = get_json(client, "/metadata", run="words", embedding="embedding")
    assert [words["categories"][code] for code in words["codes"][:2]] == ["nightmare", "horror"]
    assert "unknown column 'x'" in get_json(client, "/metadata", status=404, run="digits", embedding="logits", column="x")["error"]
