"""/history and /hard_examples?method=history through the real WSGI app, and the CLI's
`analyze --history` / `--method history`, on logs written by write_embedding: the small
memorisation protocol (tests/history_protocol.py) logged at 4 steps, plus a step with
another row count and one with other metadata, which must be left out and named."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from tensorboard.backend import application
from werkzeug import test as werkzeug_test

import plugin_fixtures
from test_plugin_routes import get_json, make_plugin, wait_json
from tb_embedanalysis import cli, write_embedding

RUN, NAME = "train", "logits"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    run, metadata = plugin_fixtures.write_history_run(root / RUN, seed=0, name=NAME)
    labels = metadata["Label"]
    # Not the same rows: one row fewer, then the same rows under other metadata (each write
    # warns: tests/test_writer_step_rows.py).
    with pytest.warns(UserWarning, match="step 5 has 299 rows but step %d has 300" % run.steps[0]):
        write_embedding(root / RUN, run.logits[0][:-1], name=NAME, step=5, metadata=labels[:-1])
    other = dict(metadata, Label=labels[1:] + labels[:1])
    with pytest.warns(UserWarning, match="step 10 has 300 rows but step 5 has 299"):
        write_embedding(root / RUN, run.logits[0], name=NAME, step=10, metadata=other)
    write_embedding(root / "single", run.logits[-1], name=NAME, step=1, metadata=metadata)
    return root, run


@pytest.fixture(scope="module")
def client(logdir):
    return werkzeug_test.Client(application.TensorBoardWSGI([make_plugin(logdir[0])]))


def test_history_lists_steps_and_says_which_were_left_out(client, logdir):
    _, run = logdir
    body = wait_json(client, "/history", run=RUN, embedding=NAME, metric="euclidean")
    assert body["steps"] == list(run.steps) and body["label_column"] == "Label" and body["k"] == 10
    reasons = {entry["step"]: entry["reason"] for entry in body["left_out"]}
    assert set(reasons) == {5, 10}
    assert "299 rows" in reasons[5] and "300" in reasons[5]
    assert "metadata" in reasons[10]
    points = body["points"]
    assert points["index"] == list(range(300)) and len(points["score"]) == 300
    assert body["score"]["direction"].startswith("higher")
    assert roc_auc_score(run.flipped, points["score"]) > 0.9
    for t, z in enumerate(run.logits):  # per-step accuracy = scikit-learn's leave-one-out vote
        sk = KNeighborsClassifier(n_neighbors=10, metric="euclidean", algorithm="brute")
        vote = sk.fit(z, run.noisy).predict(None)
        assert body["per_step"][t]["knn_accuracy"] == pytest.approx(np.mean(vote == run.noisy), abs=1e-12)


def test_history_of_one_point_is_its_row_at_every_step(client, logdir):
    _, run = logdir
    whole = wait_json(client, "/history", run=RUN, embedding=NAME, metric="euclidean")
    index = int(np.argmax(whole["points"]["score"]))
    body = get_json(client, "/history", run=RUN, embedding=NAME, metric="euclidean", index=index)
    point = body["point"]
    assert point["index"] == index and point["rank"] == 0 and point["metadata"]["Index"] == str(index)
    assert len(point["margin"]) == len(point["vote"]) == len(point["agreement"]) == len(run.steps)
    assert point["score"] == pytest.approx(whole["points"]["score"][index], abs=1e-4)
    assert point["mean_margin"] == pytest.approx(np.mean(point["margin"]), abs=1e-3)
    for t, z in enumerate(run.logits):
        sk = KNeighborsClassifier(n_neighbors=10, metric="euclidean", algorithm="brute").fit(z, run.noisy)
        assert point["vote"][t] == str(sk.predict(None)[index])
        assert point["agreement"][t] == pytest.approx(sk.predict_proba(None)[index, run.noisy[index]], abs=1e-4)


def test_hard_examples_by_history_have_the_usual_shape(client, logdir):
    _, run = logdir
    usual = wait_json(client, "/hard_examples", run=RUN, embedding=NAME, step=run.steps[-1], limit=5)
    body = wait_json(client, "/hard_examples", run=RUN, embedding=NAME, method="history", metric="euclidean",
                     limit=1000)
    assert set(usual) <= set(body) and body["method"] == "history" and "history" in body["methods"]
    assert body["total"] == 300 and body["steps"] == list(run.steps)
    assert set(body["examples"][0]) == set(usual["examples"][0])
    scores = [e["score"] for e in body["examples"]]
    assert scores == sorted(scores, reverse=True)
    ranked = run.flipped[[e["index"] for e in body["examples"]]]
    assert roc_auc_score(ranked, scores) > 0.9
    whole = wait_json(client, "/history", run=RUN, embedding=NAME, metric="euclidean")
    assert scores[0] == pytest.approx(max(whole["points"]["score"]), abs=1e-4)
    export = client.get("/data/plugin/embedanalysis/export", query_string={
        "run": RUN, "embedding": NAME, "what": "hard_examples", "format": "csv", "method": "history",
        "metric": "euclidean", "limit": 3})
    assert export.status_code == 200 and len(export.get_data(as_text=True).strip().splitlines()) == 4


def test_history_counts_label_errors_and_names_its_method(client, logdir, capsys):
    """Issue 26: the method, the estimated count with its cut, memorisation, in /history,
    /hard_examples?method=history and the CLI alike."""
    root, run = logdir
    body = wait_json(client, "/history", run=RUN, embedding=NAME, metric="euclidean")
    assert "logit margins" in body["score"]["method"] and len(body["score"]["step_weights"]) == len(run.steps)
    errors, memo = body["errors"], body["memorisation"]
    assert errors["low"] <= errors["estimate"] <= errors["high"] and errors["cut"] == round(errors["estimate"])
    assert sum(c["estimate"] for c in errors["per_label"]) == pytest.approx(errors["estimate"], abs=0.1 * len(errors["per_label"]))
    assert abs(errors["estimate"] - run.flipped.sum()) <= 0.35 * run.flipped.sum()  # 4 steps of 300 rows: rough
    scores = np.sort(body["points"]["score"])[::-1]
    assert errors["cut_score"] == pytest.approx(scores[errors["cut"] - 1], abs=1e-4)
    assert "about %d likely label errors" % errors["cut"] in errors["message"]
    low, high = round(100 * errors["expected_found_low"]), round(100 * errors["expected_found"])
    assert 0 < errors["expected_found_low"] <= errors["expected_found"] <= 1  # the promise: a range, its ends
    assert ("should find about %s %% of them" % ("%d–%d" % (low, high) if low < high else high)) in errors["message"]
    assert all(p["label"] != p["likely"] and p["low"] <= p["high"] for p in errors["pairs"])
    assert errors["pairs"][0]["low"] <= errors["pairs"][0]["estimate"] <= errors["pairs"][0]["high"]
    assert len(memo["suspect_fit"]) == len(run.steps)
    assert memo["verdict"] == "ok" and memo["onset_step"] in run.steps[2:]  # memorised at the end, seen before
    hard = wait_json(client, "/hard_examples", run=RUN, embedding=NAME, method="history", metric="euclidean")
    assert hard["errors"] == errors and hard["memorisation"] == memo and hard["score"] == body["score"]
    assert cli.main(["analyze", str(root), "--run", RUN, "--method", "history", "--metric", "euclidean",
                     "--limit", str(errors["cut"] + 2)]) == 0
    text = capsys.readouterr().out
    assert errors["message"] in text and "the cut: about %d likely label errors" % errors["cut"] in text
    assert memo["message"] in text


def test_step_limits_the_history(client, logdir):
    _, run = logdir
    body = wait_json(client, "/hard_examples", run=RUN, embedding=NAME, method="history", step=run.steps[1])
    assert body["steps"] == list(run.steps[:2])
    assert [e["step"] for e in body["left_out"]] == [5, 10]  # both come before steps[1] = 400


@pytest.mark.parametrize("query, status, words", [
    ({"run": "single"}, 422, "at least two steps"),
    ({"step": 7}, 404, "no step 7"),
    ({"index": 300}, 404, "out of range"),
    ({"k": 0}, 400, "k must be between"),
    ({"metric": "manhattan"}, 400, "metric"),
    ({"label_column": "Nope"}, 404, "unknown column"),
], ids=["one-step", "unknown-step", "index-out-of-range", "k-zero", "unknown-metric", "unknown-column"])
def test_history_errors_are_4xx_json_naming_the_problem(client, query, status, words):
    body = get_json(client, "/history", status=status, **dict({"run": RUN, "embedding": NAME}, **query))
    assert words in body["error"]


def test_cli_history_and_method_history(logdir, capsys):
    root, run = logdir
    assert cli.main(["analyze", str(root), "--run", RUN, "--history", "--metric", "euclidean", "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["history"]["steps"] == list(run.steps) and len(body["history"]["points"]["score"]) == 300
    assert cli.main(["analyze", str(root), "--run", RUN, "--method", "history", "--metric", "euclidean",
                     "--format", "json", "--limit", "5"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["hard_examples"]["method"] == "history" and len(body["hard_examples"]["examples"]) == 5
    assert cli.main(["analyze", str(root), "--run", RUN, "--history"]) == 0
    text = capsys.readouterr().out
    assert "learned at" in text and "left out" in text


def test_the_tab_is_offered_history_exactly_where_it_can_answer(client, logdir):
    """/hard_examples lists method "history" for an embedding with two or more steps (the
    gallery's score picker is built from `methods`), and not for a single step."""
    _, run = logdir
    many = wait_json(client, "/hard_examples", run=RUN, embedding=NAME, step=run.steps[-1])
    assert many["methods"][-1] == "history" and many["method"] != "history"
    single = wait_json(client, "/hard_examples", run="single", embedding=NAME)
    assert "history" not in single["methods"]
    picked = wait_json(client, "/hard_examples", run=RUN, embedding=NAME, method="history", step=run.steps[-1])
    assert picked["method"] == "history" and picked["methods"] == many["methods"]
