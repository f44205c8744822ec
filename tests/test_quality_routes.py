"""/outliers and /duplicates through the real WSGI app, and the CLI printing the same JSON."""

import json
from typing import Dict, List

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors
from tensorboard.backend import application
from werkzeug import test as werkzeug_test

from tb_embedanalysis import cli, write_embedding
from test_analysis_quality import brute_force_pairs, planted_duplicates
from test_plugin_routes import get_json, make_plugin, wait_json

SPLITS = ("train", "test", "validation")


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Points with planted near copies; a copy is in another split than its source for some groups."""
    root = tmp_path_factory.mktemp("quality")
    vectors, sources = planted_duplicates(5)
    n_base = vectors.shape[0] - sources.size
    rng = np.random.default_rng(5)
    split = [SPLITS[i] for i in rng.choice(3, size=n_base, p=[0.7, 0.2, 0.1])]
    for j, source in enumerate(sources):  # copies alternate: same split as the source, then another
        split.append(split[source] if j % 2 == 0 else SPLITS[(SPLITS.index(split[source]) + 1) % 3])
    far = rng.uniform(-30, 30, size=(8, vectors.shape[1])).astype(np.float32)  # planted outliers
    vectors = np.vstack([vectors, far])
    split += ["train"] * len(far)
    metadata = {"Index": [str(i) for i in range(len(vectors))], "Label": [str(i % 3) for i in range(len(vectors))],
                "split": split}
    write_embedding(str(root / "data"), vectors, name="features", metadata=metadata)
    return root, vectors, np.array(split), len(far)


@pytest.fixture(scope="module")
def client(logdir, tmp_path_factory):
    plugin = make_plugin(logdir[0], tmp_path_factory.mktemp("cache"))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


QUERY = {"run": "data", "embedding": "features"}


def test_outliers_route_ranks_the_planted_far_points_first(client, logdir):
    _, vectors, _, n_far = logdir
    body = wait_json(client, "/outliers", k=5, metric="euclidean", limit=n_far, **QUERY)
    assert body["total"] == len(vectors) and body["k"] == 5 and body["metric"] == "euclidean"
    assert body["score"]["name"] == "mean_knn_distance" and body["score"]["range"] == [0.0, None]
    assert sorted(e["index"] for e in body["examples"]) == list(range(len(vectors) - n_far, len(vectors)))
    dist, _ = NearestNeighbors(n_neighbors=5).fit(vectors).kneighbors()
    for example in body["examples"]:
        assert example["score"] == pytest.approx(dist[example["index"]].mean(), rel=1e-5)
        assert example["metadata"]["Index"] == str(example["index"])
    assert [e["rank"] for e in body["examples"]] == list(range(n_far))
    page = wait_json(client, "/outliers", k=5, metric="euclidean", limit=3, offset=2, **QUERY)
    assert page["examples"] == body["examples"][2:5]


def test_duplicates_route_equals_brute_force_and_marks_leaks(client, logdir):
    _, vectors, split, _ = logdir
    body = wait_json(client, "/duplicates", threshold="0.05", metric="euclidean", split_column="split",
                     limit=1000, **QUERY)
    pairs = brute_force_pairs(vectors, "euclidean", 0.05)
    assert body["threshold"] == 0.05 and body["threshold_source"] == "given"
    assert body["n_pairs"] == len(pairs) and body["n_groups"] == len(body["groups"]) > 0
    # Groups = connected components of the brute-force pairs.
    parent = list(range(len(vectors)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in pairs:
        parent[find(a)] = find(b)
    expected: Dict[int, List[int]] = {}
    for i in {i for pair in pairs for i in pair}:
        expected.setdefault(find(i), []).append(i)
    got = [sorted(m["index"] for m in g["members"]) for g in body["groups"]]
    assert sorted(got) == sorted(sorted(v) for v in expected.values())
    for group in body["groups"]:
        members = [m["index"] for m in group["members"]]
        assert group["size"] == len(members) and group["max_distance"] <= 0.05
        assert group["splits"] == sorted(set(split[members]))
        assert group["crosses_splits"] == (len(group["splits"]) > 1)
        assert all(m["metadata"]["Index"] == str(m["index"]) for m in group["members"])
    crossing = [g["crosses_splits"] for g in body["groups"]]
    assert body["leaks"] == sum(crossing) > 0 and crossing == sorted(crossing, reverse=True)  # leaks first


def test_duplicates_default_threshold_is_reported(client):
    body = wait_json(client, "/duplicates", metric="euclidean", **QUERY)
    assert body["threshold_source"] == "default" and body["threshold"] > 0
    assert body["split_column"] is None and body["leaks"] == 0
    assert all(g["splits"] == [] and g["crosses_splits"] is False for g in body["groups"])


@pytest.mark.parametrize("threshold", ["abc", "-1", "nan", "inf", "1e999"], ids=["text", "negative", "nan", "inf", "overflow"])
def test_bad_threshold_is_a_400_naming_it(client, threshold):
    body = get_json(client, "/duplicates", status=400, threshold=threshold, **QUERY)
    assert "threshold" in body["error"]


@pytest.mark.parametrize("route,query,status,word", [
    ("/duplicates", {"split_column": "nope"}, 404, "nope"),
    ("/duplicates", {"limit": "1001"}, 400, "limit"),
    ("/outliers", {"k": "0"}, 400, "k"),
    ("/outliers", {"metric": "manhattan"}, 400, "metric"),
    ("/outliers", {"limit": "5000"}, 400, "limit"),
], ids=["unknown-split-column", "duplicates-limit", "outliers-k", "outliers-metric", "outliers-limit"])
def test_bad_parameters(client, route, query, status, word):
    body = get_json(client, route, status=status, **query, **QUERY)
    assert word in body["error"]


def test_cli_prints_the_routes_json(client, logdir, capsys):
    root = str(logdir[0])
    route = wait_json(client, "/outliers", limit=20, **QUERY)
    assert cli.main(["quality", root, "--outliers", "--limit", "20", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"outliers": route}
    route = wait_json(client, "/duplicates", split_column="split", limit=20, **QUERY)
    assert cli.main(["quality", root, "--duplicates", "--split-column", "split", "--limit", "20",
                     "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"duplicates": route}
    assert cli.main(["quality", root, "--duplicates", "--threshold", "-2"]) == 2
    assert "threshold" in capsys.readouterr().err


def test_metric_auto_like_the_other_routes(client):
    """metric absent or "auto": chosen per embedding as /clusters chooses it, and said how."""
    body = wait_json(client, "/outliers", metric="auto", **QUERY)
    assert body["metric"] in ("cosine", "euclidean") and body["metric_choice"]["chosen"] == body["metric"]
    given = wait_json(client, "/duplicates", metric="cosine", **QUERY)
    assert given["metric"] == "cosine" and given["metric_choice"] is None


def test_threshold_zero_answers_no_groups_for_near_but_not_exact_copies(client):
    body = wait_json(client, "/duplicates", threshold="0", split_column="split", **QUERY)
    assert body["threshold"] == 0.0 and body["threshold_source"] == "given"
    assert body["n_pairs"] == 0 and body["groups"] == [] and body["leaks"] == 0
