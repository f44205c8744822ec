"""A selection isolated (issue 27.3): /clusters and /neighbors with rows= compute on those
rows alone, exactly, checked against scikit-learn and a float64 brute force; bad rows= are
4xx naming the parameter."""

import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, davies_bouldin_score, f1_score, pairwise_distances, silhouette_samples
from tensorboard.backend import application
from werkzeug import test as werkzeug_test

from tb_embedanalysis import write_embedding
from tb_embedanalysis.queries import subsets
from test_plugin_routes import get_json, make_plugin, wait_json


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("subset_logs")
    rng = np.random.default_rng(3)
    n = 500
    y = rng.integers(0, 4, n)
    x = (rng.normal(size=(n, 8)) + 1.5 * np.eye(8)[y]).astype(np.float32)
    x[7] = np.nan  # never analysed, inside a subset or not
    write_embedding(str(root / "run"), x, name="emb", metadata={"Label": [str(v) for v in y]}, allow_nonfinite=True)
    app = application.TensorBoardWSGI([make_plugin(root, tmp_path_factory.mktemp("subset_cache"))])
    return werkzeug_test.Client(app), x, y


def _rows_param(rows):
    return ",".join(str(r) for r in rows)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_subset_statistics_are_sklearns_on_those_rows(data, metric):
    client, x, y = data
    rows = np.arange(0, 500, 3)  # 167 rows, row 7 not among them; plus a range below
    query = _rows_param(rows[rows >= 60]) + ",0-59"
    chosen = np.unique(np.concatenate([rows[rows >= 60], np.arange(60)]))
    chosen = chosen[np.isfinite(x[chosen]).all(axis=1)]  # row 7 (NaN) left out
    k = 7
    body = wait_json(client, "/clusters", run="run", embedding="emb", rows=query, k=k, metric=metric)
    xs, ys = x[chosen].astype(np.float64), y[chosen]
    dist = pairwise_distances(xs, metric=metric)
    np.fill_diagonal(dist, np.inf)
    idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
    vote = np.array([np.bincount(ys[r], minlength=4).argmax() for r in idx])
    overall = body["overall"]
    assert overall["n"] == chosen.size == overall["subset_rows"]
    assert overall["knn_accuracy"] == pytest.approx(np.mean(vote == ys), abs=1e-12)
    assert overall["macro_f1"] == pytest.approx(f1_score(ys, vote, average="macro", zero_division=0), abs=1e-9)
    assert overall["silhouette"] == pytest.approx(silhouette_samples(xs, ys, metric=metric).mean(), abs=1e-6)
    assert overall["davies_bouldin"] == pytest.approx(davies_bouldin_score(xs, ys), abs=1e-6)
    np.testing.assert_array_equal(body["confusion"]["matrix"], confusion_matrix(ys, vote, labels=[0, 1, 2, 3]))
    assert [s["count"] for s in body["labels"]] == np.bincount(ys, minlength=4).tolist()
    whole = wait_json(client, "/clusters", run="run", embedding="emb", k=k, metric=metric)
    assert whole["overall"]["n"] == 499 and "subset_rows" not in whole["overall"]  # the whole is untouched


def test_subset_neighbours_are_the_brute_force_among_those_rows(data):
    client, x, y = data
    chosen = np.arange(100, 300)
    for index, inside in ((150, True), (3, False)):
        body = get_json(client, "/neighbors", run="run", embedding="emb", index=index, k=12,
                        metric="euclidean", rows="100-299")
        d = np.sqrt(((x[chosen].astype(np.float64) - x[index].astype(np.float64)) ** 2).sum(axis=1))
        order = [i for i in np.argsort(d, kind="stable") if chosen[i] != index][:12]
        assert [n["index"] for n in body["neighbors"]] == chosen[order].tolist(), inside
        np.testing.assert_allclose([n["distance"] for n in body["neighbors"]], d[order], rtol=1e-9)
        assert body["subset_rows"] == 200 and body["query"]["index"] == index


@pytest.mark.parametrize("route, query, status, words", [
    ("/clusters", {"rows": "1,x"}, 400, "parameter 'rows' must be row numbers and ranges like 3,5,10-19, got 'x'"),
    ("/clusters", {"rows": "9-3"}, 400, "parameter 'rows': '9-3' is not a row number or an ascending range"),
    ("/clusters", {"rows": "-4"}, 400, "parameter 'rows'"),
    ("/clusters", {"rows": "10,500"}, 400, "parameter 'rows': row 500 is out of range (embedding 'emb' has 500 rows, 0-499)"),
    ("/clusters", {"rows": "7,8"}, 422, "parameter 'rows' names 1 row with finite values; a subset needs at least 2"),
    ("/clusters", {"rows": "0-9", "k": "10"}, 400, "k must be between 1 and 8 for these 9 rows, got 10"),  # row 7: NaN
    ("/neighbors", {"rows": "0-4", "index": "2", "k": "5"}, 400, "k must be between 1 and 4 for these 5 rows, got 5"),
    ("/neighbors", {"rows": "0-4"}, 400, "missing required parameter 'index'"),
], ids=["syntax", "descending", "negative", "out-of-range", "one-finite", "k", "neighbours-k", "neighbours-index"])
def test_bad_rows_are_4xx_naming_the_parameter(data, route, query, status, words):
    client = data[0]
    body = get_json(client, route, status=status, run="run", embedding="emb", **query)
    assert words in body["error"], body
    assert "Traceback" not in json.dumps(body) and "/" not in body["error"].replace("0-", "").replace("/clusters", "")


def test_the_bound_is_what_the_module_says():
    assert subsets.MAX_SUBSET_ROWS == 200_000


def test_subset_hard_examples_are_the_whole_rankings_rows(data):
    client = data[0]
    whole = wait_json(client, "/hard_examples", run="run", embedding="emb", k=5, limit=1000)
    part = wait_json(client, "/hard_examples", run="run", embedding="emb", k=5, limit=1000, rows="20-119")
    expect = [e for e in whole["examples"] if 20 <= e["index"] <= 119]
    assert part["examples"] == expect and part["total"] == len(expect) == 100 and part["subset_rows"] == 100
    assert part["hard_total"] == sum(e["predicted_label"] != e["label"] for e in expect)
    assert "hidden" not in part
    refused = get_json(client, "/hard_examples", status=400, run="run", embedding="emb", rows="1-5", method="history")
    assert refused["error"] == "parameter 'rows' works with one step's scores, not method 'history'"



def test_a_subsets_compact_copy_is_made_once_per_content(tmp_path):
    """Every request on the same rows reads one cached copy (not m × D copied per click); other
    rows, or the same rows of other vectors, get their own."""
    from tb_embedanalysis.queries import Workspace

    x = np.random.default_rng(4).normal(size=(300, 8)).astype(np.float32)
    write_embedding(str(tmp_path / "a"), x, name="emb")
    write_embedding(str(tmp_path / "b"), x + np.float32(1), name="emb")
    workspace = Workspace.open(str(tmp_path), cache_dir=None)
    embedding, shifted = workspace.load("a", "emb"), workspace.load("b", "emb")
    first = subsets.check_rows(embedding, [(100, 299)]).space(workspace.engine, "cosine")
    again = subsets.check_rows(embedding, [(100, 199), (200, 299)]).space(workspace.engine, "euclidean")
    assert again.vectors is first.vectors and first.vectors.shape == (200, 8)
    np.testing.assert_array_equal(first.vectors, x[100:300])
    other = subsets.check_rows(embedding, [(100, 298)]).space(workspace.engine, "cosine")
    assert other.vectors is not first.vectors and other.vectors.shape == (199, 8)
    moved = subsets.check_rows(shifted, [(100, 299)]).space(workspace.engine, "cosine")
    np.testing.assert_array_equal(moved.vectors, x[100:300] + np.float32(1))
