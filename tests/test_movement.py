"""Neighbours that carry no signal (issue 27.7): rows that barely moved between the first and
last logged step are marked `still`, from an exact float64 movement."""

import numpy as np
import pytest
from tensorboard.backend import application
from werkzeug import test as werkzeug_test

from tb_embedanalysis import write_embedding
from tb_embedanalysis.analysis import movement
from test_plugin_routes import get_json, make_plugin


def test_movement_is_the_float64_distance_and_still_is_one_percent_of_the_p99():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(300, 5)).astype(np.float32)
    last = first.copy()
    last[:200] += rng.normal(size=(200, 5)).astype(np.float32)  # trained
    last[200:250] += np.float32(1e-4)  # moved a hair
    first[5] = np.nan  # not finite at one step: never still, NaN movement
    valid = np.isfinite(first).all(axis=1) & np.isfinite(last).all(axis=1)
    got = movement.row_movement(first, last, valid)
    expect = np.linalg.norm(last.astype(np.float64) - first.astype(np.float64), axis=1)
    np.testing.assert_allclose(got.distances[valid], expect[valid], rtol=1e-15)
    assert np.isnan(got.distances[5]) and not got.still[5]
    reference = np.percentile(expect[valid], 99)
    assert got.reference == pytest.approx(reference) and got.threshold == pytest.approx(0.01 * reference)
    np.testing.assert_array_equal(got.still, valid & (expect <= 0.01 * reference))
    assert got.still[200:].all() and not got.still[:200].any()


def test_nothing_moved_marks_nothing():
    x = np.ones((10, 3), dtype=np.float32)
    got = movement.row_movement(x, x.copy(), np.ones(10, dtype=bool))
    assert got.threshold is None and not got.still.any()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("movement_logs")
    rng = np.random.default_rng(1)
    words = ["w%d" % i for i in range(120)]
    start = rng.uniform(-0.05, 0.05, size=(120, 8)).astype(np.float32)
    trained = start.copy()
    trained[:60] += rng.normal(size=(60, 8)).astype(np.float32)  # words 60..119 never trained: unchanged
    for step, vectors in ((1, start), (20, trained)):
        write_embedding(str(root / "words"), vectors, name="embedding", step=step, metadata=words)
    write_embedding(str(root / "single"), trained, name="embedding", metadata=words)
    app = application.TensorBoardWSGI([make_plugin(root, tmp_path_factory.mktemp("movement_cache"))])
    return werkzeug_test.Client(app)


def test_neighbours_of_an_untrained_word_are_marked_still(client):
    body = get_json(client, "/neighbors", run="words", embedding="embedding", index=100, k=20, metric="euclidean")
    assert body["query"]["still"] is True
    assert body["movement"]["first_step"] == 1 and body["movement"]["last_step"] == 20
    assert body["movement"]["still_rows"] == 60
    for entry in body["neighbors"]:
        assert entry["still"] is (entry["index"] >= 60), entry
    trained = get_json(client, "/neighbors", run="words", embedding="embedding", index=3, k=5)
    assert trained["query"]["still"] is False


def test_one_step_has_no_movement(client):
    body = get_json(client, "/neighbors", run="single", embedding="embedding", index=0, k=3)
    assert body["movement"] is None and "still" not in body["query"]


def test_no_movement_above_the_size_bound(client, monkeypatch):
    from tb_embedanalysis.queries import movement as moves

    monkeypatch.setattr(moves, "MAX_ELEMENTS", 120 * 8 - 1)  # one value fewer than the 120 × 8 steps hold
    body = get_json(client, "/neighbors", run="words", embedding="embedding", index=100, k=3)
    assert body["movement"] is None


def test_a_cached_movement_is_found_without_loading_the_steps_again(tmp_path):
    """A store that holds one embedding at a time: once the movement of steps 1 → 30 is
    known, marking the middle step's neighbours reads neither step again (the middle one
    stays held), until a step's file changes."""
    from tb_embedanalysis.queries import Workspace, mark_still
    from tb_embedanalysis.queries.movement import movement_of

    rng = np.random.default_rng(2)
    words = ["w%d" % i for i in range(50)]
    start = rng.uniform(-0.05, 0.05, size=(50, 4)).astype(np.float32)
    steps = {1: start, 10: start + 0.5, 30: start + np.float32(1.0)}
    for step, vectors in steps.items():
        write_embedding(str(tmp_path / "words"), vectors, name="embedding", step=step, metadata=words)
    workspace = Workspace.open(str(tmp_path), cache_dir=None, max_memory_mb=1e-6)  # holds the newest only
    middle = workspace.load("words", "embedding", 10)
    found = movement_of(workspace, middle)
    assert found is not None and found[1:] == (1, 30)
    moved = found[0]
    middle = workspace.load("words", "embedding", 10)
    assert (movement_of(workspace, middle) or (None,))[0] is moved
    assert workspace.store.peek(middle.ref) is middle  # nothing else was loaded
    answer = mark_still(workspace, middle, {"query": {"index": 0}, "neighbors": []})
    assert answer["movement"]["first_step"] == 1 and workspace.store.peek(middle.ref) is middle
    write_embedding(str(tmp_path / "words"), start, name="embedding", step=30, metadata=words)  # nothing moved now
    again = (movement_of(workspace, workspace.load("words", "embedding", 10)) or (None,))[0]
    assert again is not None and again is not moved and again.threshold is None and moved.threshold is not None
