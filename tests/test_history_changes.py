"""Issue 16 items 3-4 and the metric choice: /churn, /aligned, /history's confusion timeline
and per-point rows, metric=auto, through the real WSGI app on logs written by
write_embedding, each figure checked against scikit-learn / scipy computed here."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from tensorboard.backend import application
from werkzeug import test as werkzeug_test

import plugin_fixtures
from test_plugin_routes import get_json, make_plugin, wait_json
from tb_embedanalysis import write_embedding
from tb_embedanalysis.analysis import changes

RUN, NAME = "train", "logits"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("changes")
    run, metadata = plugin_fixtures.write_history_run(root / RUN, seed=1, name=NAME)
    labels = metadata["Label"]
    # A second "layer" of the same rows, and an embedding of other rows.
    write_embedding(root / RUN, run.logits[-1][:, ::-1] * 2.0, name="layer2", step=run.steps[-1], metadata=metadata)
    write_embedding(root / RUN, run.logits[-1][:-1], name="fewer", step=1, metadata=labels[:-1])
    return root, run


@pytest.fixture(scope="module")
def client(logdir):
    return werkzeug_test.Client(application.TensorBoardWSGI([make_plugin(logdir[0])]))


def _sets(z, metric, k):
    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute").fit(z)
    idx = nn.kneighbors(z, return_distance=False)
    return [set(row[row != i][:k]) for i, row in enumerate(idx)]


def test_churn_between_steps_is_jaccard_of_sklearn_neighbour_sets(client, logdir):
    _, run = logdir
    body = wait_json(client, "/churn", run=RUN, embedding=NAME, step_a=run.steps[0], step_b=run.steps[-1],
                     metric="euclidean", k=5, limit=20)
    a, b = _sets(run.logits[0], "euclidean", 5), _sets(run.logits[-1], "euclidean", 5)
    expected = np.array([len(x & y) / len(x | y) for x, y in zip(a, b)])
    assert body["a"]["step"] == run.steps[0] and body["b"]["step"] == run.steps[-1] and body["k"] == 5
    assert body["mean_jaccard"] == pytest.approx(expected.mean(), abs=1e-12)
    overlaps = np.array([len(x & y) for x, y in zip(a, b)])
    assert body["histogram"] == np.bincount(overlaps, minlength=6).tolist()
    moved = body["moved"]
    assert len(moved) == 20
    order = np.lexsort((np.arange(300), overlaps))[:20]
    assert [m["index"] for m in moved] == order.tolist()
    for label in body["labels"]:
        rows = run.noisy == int(label["label"])
        assert label["count"] == rows.sum()
        assert label["mean_jaccard"] == pytest.approx(expected[rows].mean(), abs=1e-12)


def test_churn_defaults_to_first_and_latest_step_and_compares_two_embeddings(client, logdir):
    _, run = logdir
    body = wait_json(client, "/churn", run=RUN, embedding=NAME, metric="cosine")
    assert (body["a"]["step"], body["b"]["step"]) == (run.steps[0], run.steps[-1])
    other = wait_json(client, "/churn", run=RUN, embedding=NAME, step_a=run.steps[-1], embedding_b="layer2",
                      metric="cosine", k=7)
    a, b = _sets(run.logits[-1], "cosine", 7), _sets(run.logits[-1][:, ::-1] * 2.0, "cosine", 7)
    assert other["b"]["embedding"] == "layer2"
    assert other["mean_jaccard"] == pytest.approx(np.mean([len(x & y) / len(x | y) for x, y in zip(a, b)]))


def test_churn_refuses_other_rows_and_bad_parameters(client):
    body = get_json(client, "/churn", 422, run=RUN, embedding=NAME, embedding_b="fewer")
    assert "299 rows" in body["error"] and "300" in body["error"]
    body = get_json(client, "/churn", 404, run=RUN, embedding=NAME, step_a=7)
    assert "7" in body["error"]
    body = get_json(client, "/churn", 400, run=RUN, embedding=NAME, limit=0)
    assert "limit" in body["error"]


def test_confusion_timeline_counts_are_sklearn_votes_per_step(client, logdir):
    _, run = logdir
    body = wait_json(client, "/history", run=RUN, embedding=NAME, metric="euclidean")
    votes = []
    for z in run.logits:
        sk = KNeighborsClassifier(n_neighbors=10, metric="euclidean", algorithm="brute").fit(z, run.noisy)
        votes.append(sk.predict(None))
    pairs = body["timeline"]["pairs"]
    assert pairs and body["timeline"]["total_pairs"] >= len(pairs)
    for pair in pairs:
        label, vote = int(pair["label"]), int(pair["predicted"])
        assert label != vote
        assert pair["counts"] == [int(np.sum((run.noisy == label) & (v == vote))) for v in votes]
        assert pair["trend"] in ("merging", "separating", "steady")
    maxima = [max(p["counts"]) for p in pairs]
    assert maxima == sorted(maxima, reverse=True)
    total = sum(int(np.sum(run.noisy != v)) for v in votes)
    assert sum(sum(p["counts"]) for p in pairs) == total  # every disagreeing vote is in some pair


def test_trend_names_merging_and_separating_pairs():
    assert changes.trend([10, 9, 4, 2, 0]) == ("separating", 2)
    assert changes.trend([0, 2, 8, 16]) == ("merging", 2)
    assert changes.trend([5, 5, 6, 5]) == ("steady", None)
    assert changes.trend([1, 0, 0]) == ("separating", 1)


def test_history_rows_for_several_points(client, logdir):
    body = wait_json(client, "/history", run=RUN, embedding=NAME, metric="euclidean", indices="7,3,7")
    single = wait_json(client, "/history", run=RUN, embedding=NAME, metric="euclidean", index=3)["point"]
    assert [row["index"] for row in body["rows"]] == [7, 3]
    assert body["rows"][1]["margin"] == single["margin"] and body["rows"][1]["vote"] == single["vote"]
    error = get_json(client, "/history", 400, run=RUN, embedding=NAME, indices="1,x")
    assert "indices" in error["error"]
    error = get_json(client, "/history", 404, run=RUN, embedding=NAME, indices="1,300")
    assert "300" in error["error"]


def test_aligned_maps_undo_a_rotation_and_find_the_point_that_moved(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 2)).astype(np.float32) * [5.0, 1.0]
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    later = (base @ rotation * 3.0 + [4.0, -2.0]).astype(np.float32)
    later[17] += [30.0, 0.0]  # the one point that really moved
    for step, z in ((1, base), (2, later)):
        write_embedding(tmp_path / "run", np.hstack([z, np.zeros((200, 1), np.float32)]), name="e", step=step,
                        metadata=[str(i % 3) for i in range(200)])
    app = werkzeug_test.Client(application.TensorBoardWSGI([make_plugin(tmp_path)]))
    body = wait_json(app, "/aligned", run="run", embedding="e", step_a=1, step_b=2, limit=3)
    assert body["moved"][0]["index"] == 17
    assert body["moved"][0]["distance"] > 10 * body["moved"][1]["distance"]
    assert (body["step_a"], body["step_b"]) == (1, 2)


def test_procrustes_matches_scipy_and_maps_a_similarity_exactly():
    rng = np.random.default_rng(3)
    source = rng.normal(size=(50, 2))
    rotation, _ = orthogonal_procrustes(rng.normal(size=(2, 2)), rng.normal(size=(2, 2)))
    target = 2.5 * source @ rotation + [1.0, -3.0]
    fit = changes.procrustes(source, target)
    assert np.allclose(fit.apply(source), target) and fit.disparity == pytest.approx(0.0, abs=1e-20)
    noisy = target + rng.normal(scale=0.1, size=target.shape)
    fit = changes.procrustes(source, noisy)
    from scipy.spatial import procrustes as scipy_procrustes
    _, _, disparity = scipy_procrustes(noisy, source)  # scipy standardises the target to unit norm: same ratio
    assert fit.disparity == pytest.approx(disparity, rel=1e-9)


def test_metric_auto_chooses_by_leave_one_out_accuracy(client, logdir):
    _, run = logdir
    body = wait_json(client, "/clusters", run=RUN, embedding=NAME)  # no metric: auto
    choice = body["overall"]["metric_choice"]
    z = run.logits[-1]
    accuracy = {}
    for metric in ("cosine", "euclidean"):
        sk = KNeighborsClassifier(n_neighbors=10, metric=metric, algorithm="brute").fit(z, run.noisy)
        accuracy[metric] = float(np.mean(sk.predict(None) == run.noisy))
    assert choice["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    expected = "euclidean" if accuracy["euclidean"] > accuracy["cosine"] else "cosine"
    assert choice["chosen"] == expected == body["overall"]["metric"]
    assert choice["sample"] == choice["n"] == 300
    hard = wait_json(client, "/hard_examples", run=RUN, embedding=NAME, metric="auto")
    assert hard["metric"] == expected and hard["metric_choice"] == choice
    given = wait_json(client, "/clusters", run=RUN, embedding=NAME, metric="cosine")
    assert given["overall"]["metric"] == "cosine" and given["overall"]["metric_choice"] is None
    error = get_json(client, "/clusters", 400, run=RUN, embedding=NAME, metric="manhattan")
    assert "auto" in error["error"] and "metric" in error["error"]


def test_metric_auto_without_labels_is_cosine(tmp_path):
    write_embedding(tmp_path / "w", np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32), name="e")
    app = werkzeug_test.Client(application.TensorBoardWSGI([make_plugin(tmp_path)]))
    body = get_json(app, "/neighbors", 200, run="w", embedding="e", index=0)
    assert body["metric"] == "cosine" and body["metric_choice"]["chosen"] == "cosine"
