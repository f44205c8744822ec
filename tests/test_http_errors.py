"""A bug is not bad input (issue 23 item 3, STYLE habit 13).

What the caller can fix answers 4xx naming the parameter or file, logged in one line. Anything
else is a bug of ours: 500 with {"error", "id"} (no traceback, no server path, nothing of the
exception's own message), and the log line repeats the id beside the traceback. Before this,
a bug answered 422 "… internal error", which the fuzz tests' "no 5xx" could not tell from a
user's mistake.
"""

import argparse
import json
import logging
import re

import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from tb_embedanalysis import errors, queries, write_embedding
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"
SECRET_PATH = "/srv/private/model-weights/secret.bytes"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("http_errors")
    vectors = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    for run in ("a", "b"):
        write_embedding(str(root / run), vectors, name="emb", metadata=[str(i % 3) for i in range(30)])
    return root


@pytest.fixture
def client(logdir):
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=64.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=flags))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def a_bug(*_args, **_kwargs):
    raise ZeroDivisionError("division by zero while reading %s" % SECRET_PATH)


def bug_records(caplog, error_id):
    return [r for r in caplog.records if error_id in r.getMessage()]


def test_a_bug_answers_500_with_an_id_the_log_repeats_beside_the_traceback(client, monkeypatch, caplog):
    monkeypatch.setattr(queries, "neighbors", a_bug)
    caplog.set_level(logging.INFO)
    response = client.get(PREFIX + "/neighbors", query_string={"run": "a", "embedding": "emb", "index": "0"})
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.get_data(as_text=True))
    assert set(body) == {"error", "id"} and re.fullmatch(r"[0-9a-f]{8}", body["id"])
    assert body["error"].startswith("/neighbors failed because of %s" % errors.BUG) and body["id"] in body["error"]
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "ZeroDivisionError", "division by zero", SECRET_PATH, "File \""):
        assert leak not in text
    records = bug_records(caplog, body["id"])
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    assert records[0].exc_info and records[0].exc_info[0] is ZeroDivisionError  # the traceback, in the log only
    assert "/neighbors" in records[0].getMessage()


def test_each_bug_gets_its_own_id(client, monkeypatch):
    monkeypatch.setattr(queries, "clusters", a_bug)
    ids = {client.get(PREFIX + "/clusters", query_string={"run": "a", "embedding": "emb"}).get_json()["id"]
           for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("query, status, words", [
    ({"run": "nope", "embedding": "emb", "index": "0"}, 404, "unknown run 'nope'"),
    ({"run": "a", "embedding": "emb", "index": "x"}, 400, "parameter 'index' must be an integer"),
    ({"run": "a", "embedding": "emb", "index": "0", "k": "0"}, 400, "k must be between"),
], ids=["unknown-run", "bad-integer", "bad-k"])
def test_what_the_caller_can_fix_stays_a_4xx_logged_in_one_line(client, caplog, query, status, words):
    caplog.set_level(logging.INFO)
    response = client.get(PREFIX + "/neighbors", query_string=query)
    body = response.get_json()
    assert response.status_code == status and words in body["error"] and "id" not in body
    assert all(r.exc_info is None and r.levelno < logging.WARNING for r in caplog.records)


def test_a_bug_describing_one_embedding_does_not_take_runs_down(client, monkeypatch, caplog):
    """/runs lists every embedding; a bug describing one is that entry's error (with its id),
    the others are listed as always."""
    real = queries.Workspace.summary

    def summary(self, run, name, *args, **kwargs):
        if run == "b":
            a_bug()
        return real(self, run, name, *args, **kwargs)

    monkeypatch.setattr(queries.Workspace, "summary", summary)
    response = client.get(PREFIX + "/runs")
    assert response.status_code == 200
    entries = {run["run"]: run["embeddings"][0] for run in response.get_json()["runs"]}
    assert entries["a"]["error"] is None and entries["a"]["shape"] == [30, 4]
    error = entries["b"]["error"]
    assert errors.BUG in error and SECRET_PATH not in error and "ZeroDivisionError" not in error
    found = re.search(r"error id ([0-9a-f]{8})", error)
    assert found is not None, error
    error_id = found.group(1)
    records = bug_records(caplog, error_id)
    assert len(records) == 1 and records[0].exc_info[0] is ZeroDivisionError


def test_a_job_stopped_by_shutdown_answers_503(client, monkeypatch):
    def cancelled(*_args, **_kwargs):
        raise queries.Cancelled("the server is shutting down")

    monkeypatch.setattr(queries, "clusters", cancelled)
    response = client.get(PREFIX + "/clusters", query_string={"run": "a", "embedding": "emb"})
    assert response.status_code == 503 and response.get_json() == {"error": "TensorBoard is shutting down"}


def test_a_damaged_tag_database_is_a_422_not_a_bug(logdir, tmp_path):
    """The tag database is a file the user can move away: its damage is theirs to fix."""
    from tb_embedanalysis.logs import EmbeddingStore, discover
    from tb_embedanalysis.tags import DB_NAME, TagStore

    ref = next(s for info in discover(str(logdir)) for s in info.series if s.run == "a").refs[0]
    store = TagStore(str(tmp_path))
    store.write(EmbeddingStore().load(ref).fingerprint, list(range(3000)), tag="ok", corrected_label="y" * 40)
    store.close()
    flags = argparse.Namespace(embedanalysis_cache_dir=str(tmp_path), embedanalysis_max_memory_mb=64.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=flags))
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    # Damaged while TensorBoard runs (a disk error, a sync tool): the rows' pages are gone.
    data = (tmp_path / DB_NAME).read_bytes()
    with open(tmp_path / DB_NAME, "r+b") as handle:
        handle.truncate(len(data) // 2)
    response = client.get(PREFIX + "/tags", query_string={"run": "a", "embedding": "emb"})
    assert response.status_code == 422, response.get_data()[:300]  # was a 422 "internal error", then a 500
    said = response.get_json()["error"]
    assert "the tag database tags.sqlite3 in the cache directory (--embedanalysis_cache_dir) is damaged (database disk " \
        "image is malformed): stop TensorBoard, then move tags.sqlite3 away together with any tags.sqlite3-wal and " \
        "tags.sqlite3-shm beside it" in said
    assert str(tmp_path) not in said  # no absolute server path in an answer
