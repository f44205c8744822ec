"""Tags through a real `tensorboard` process: they survive a restart (same cache dir), and a
real cross-site style POST (a form's content types, no custom header) is refused with
nothing written. After SIGTERM, tags.sqlite3 alone holds every tag; the cache directory
deleted while TensorBoard runs is made again by the next write (issue 24.1)."""

import json
import shutil
import signal
import sqlite3
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from tb_embedanalysis import write_embedding
from tensorboard_process import running_tensorboard

ROUTE = "/data/plugin/embedanalysis/tags"


def _logs(tmp_path):
    rng = np.random.default_rng(2)
    logdir = tmp_path / "logs"
    write_embedding(str(logdir / "run"), rng.normal(size=(40, 4)).astype(np.float32), name="emb",
                    metadata={"label": [str(i % 4) for i in range(40)], "id": [str(i) for i in range(40)]})
    return logdir


def _send(url, data: bytes, headers: dict):
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _listed(base):
    query = urllib.parse.urlencode({"run": "run", "embedding": "emb"})
    with urllib.request.urlopen("%s%s?%s" % (base, ROUTE, query), timeout=30) as response:
        return json.loads(response.read())


def test_tags_survive_a_restart_and_forms_cannot_write(tmp_path):
    logdir = _logs(tmp_path)
    cache = tmp_path / "cache"
    args = ("--embedanalysis_cache_dir", str(cache))
    body = json.dumps({"run": "run", "embedding": "emb", "indices": [3, 9], "tag": "label error",
                       "corrected_label": "1"}).encode()
    with running_tensorboard(str(logdir), extra_args=args) as base:
        # What a cross-site <form> can send: form-urlencoded, text/plain (even with a JSON body).
        for content_type, data in (("application/x-www-form-urlencoded", b"indices=3&tag=ok&run=run&embedding=emb"),
                                   ("text/plain", body), ("application/json", body)):
            status, answer = _send(base + ROUTE, data, {"Content-Type": content_type,
                                                        "Origin": "http://evil.example"})
            assert status == 403, (content_type, answer)
            assert "X-Embedanalysis-Request" in answer["error"]
        assert _listed(base)["tags"] == []
        status, answer = _send(base + ROUTE, body, {"Content-Type": "application/json",
                                                    "X-Embedanalysis-Request": "1"})
        assert status == 200 and answer["written"] == 2
        before = _listed(base)
    assert (cache / "tags.sqlite3").is_file()
    assert not any(p.name.startswith("tags.sqlite3") for p in logdir.rglob("*"))
    with running_tensorboard(str(logdir), extra_args=args) as base:
        after = _listed(base)
    assert after == before
    assert [(t["index"], t["tag"], t["corrected_label"]) for t in after["tags"]] == [
        (3, "label error", "1"), (9, "label error", "1")]


# -- issue 24.1: what users do to the files ---------------------------------------------------------
def _tag(base, indices, tag="ok"):
    body = json.dumps({"run": "run", "embedding": "emb", "indices": indices, "tag": tag}).encode()
    return _send(base + ROUTE, body, {"Content-Type": "application/json", "X-Embedanalysis-Request": "1"})


def _main_file_alone(path, tmp_path):
    """(row, tag) in a copy of tags.sqlite3 made without its -wal and -shm."""
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(path, copy)
    connection = sqlite3.connect(copy)
    try:
        return connection.execute("SELECT row, tag FROM tags ORDER BY row").fetchall()
    finally:
        connection.close()
        copy.unlink()


def test_after_sigterm_tags_sqlite3_alone_holds_every_tag(tmp_path):
    logdir = _logs(tmp_path)
    cache = tmp_path / "cache"
    expected = []
    with running_tensorboard(str(logdir), extra_args=("--embedanalysis_cache_dir", str(cache)),
                             with_process=True) as (base, process):
        for row in range(10):
            value = ("ok", "ambiguous", "label error")[row % 3]
            assert _tag(base, [row], value)[0] == 200
            expected.append((row, value))
        # A reader in another process (tb-embedanalysis tags) holds a snapshot during a write:
        # that write's checkpoint cannot finish, its row stays in the log until the exit's.
        reader = sqlite3.connect(cache / "tags.sqlite3")
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM tags").fetchone()
        assert _tag(base, [20, 21], "ok")[0] == 200
        expected += [(20, "ok"), (21, "ok")]
        reader.rollback()
        reader.close()
        # Every write checkpointed but the one the reader held: that one is the exit's to do.
        assert _main_file_alone(cache / "tags.sqlite3", tmp_path) == expected[:-2]
        process.send_signal(signal.SIGTERM)  # what `kill` and service managers send
        assert process.wait(timeout=60) == 0
    # Before: 7 of 10 stops left the main file at 4,096 bytes without a table (issue 24.1).
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith("tags.sqlite3")) == ["tags.sqlite3"]
    assert _main_file_alone(cache / "tags.sqlite3", tmp_path) == expected


def test_cache_directory_deleted_while_tensorboard_runs(tmp_path):
    logdir = _logs(tmp_path)
    cache = tmp_path / "cache"
    args = ("--embedanalysis_cache_dir", str(cache))
    with running_tensorboard(str(logdir), extra_args=args) as base:
        assert _tag(base, [1, 2])[0] == 200
        shutil.rmtree(cache)
        status, answer = _tag(base, [3], "ambiguous")
        assert status == 200 and answer["counts"]["ok"] == 0 and answer["counts"]["ambiguous"] == 1
        # A 200 means the row is in the file at the path (before: no file at all, the 200 a lie).
        assert _main_file_alone(cache / "tags.sqlite3", tmp_path) == [(3, "ambiguous")]
    with running_tensorboard(str(logdir), extra_args=args) as base:
        assert [(t["index"], t["tag"]) for t in _listed(base)["tags"]] == [(3, "ambiguous")]
