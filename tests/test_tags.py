"""Tags and corrected labels (issue 18.3/18.4) through the real plugin (TensorBoardWSGI + werkzeug).

Writes need `Content-Type: application/json` and `X-Embedanalysis-Request: 1`; anything else
is a 403 and nothing is written. Bad bodies are 400s naming the field. Tags persist in
SQLite in the cache dir (tested across TagStore instances here, across a real TensorBoard
restart in test_tags_tensorboard.py), hide "ok" points from the gallery with right totals,
and export as CSV (formula cells neutralised) and as metadata.tsv with corrected labels
that write_embedding takes back.
"""

import argparse
import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from tb_embedanalysis import write_embedding
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader
from tb_embedanalysis.tags import DB_NAME, TagStore, TagStoreUnwritable

PREFIX = "/data/plugin/embedanalysis"
GUARD = {"X-Embedanalysis-Request": "1"}
N = 90


def _write_logs(logdir):
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(3, 6)) * 4
    vectors = np.concatenate([c + rng.normal(size=(N // 3, 6)) for c in centres]).astype(np.float32)
    labels = [str(i // (N // 3)) for i in range(N)]
    for i in range(0, N, 9):  # planted mislabels: the hard examples
        labels[i] = str((int(labels[i]) + 1) % 3)
    metadata = {"label": labels, "word": ["w%d" % i for i in range(N)]}
    write_embedding(logdir, vectors, name="emb", metadata=metadata)
    return vectors, metadata


def _plugin(logdir, cache_dir):
    flags = argparse.Namespace(embedanalysis_cache_dir=str(cache_dir), embedanalysis_max_memory_mb=256.0)
    return EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=flags))


def _client(plugin):
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


@pytest.fixture()
def env(tmp_path):
    logdir = tmp_path / "logs"
    vectors, metadata = _write_logs(str(logdir / "run"))
    cache = tmp_path / "cache"
    plugin = _plugin(logdir, cache)
    return {"tmp": tmp_path, "logdir": logdir, "cache": cache, "plugin": plugin, "client": _client(plugin),
            "vectors": vectors, "metadata": metadata}


def _post(client, body, *, headers=GUARD, content_type="application/json", raw=None):
    data = raw if raw is not None else json.dumps(body)
    return client.post(PREFIX + "/tags", data=data, headers=headers, content_type=content_type)


def _tag(client, indices, **fields):
    response = _post(client, dict(run="run", embedding="emb", indices=indices, **fields))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _tags(client):
    response = client.get(PREFIX + "/tags", query_string={"run": "run", "embedding": "emb"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _get(client, route, **query):
    deadline = time.monotonic() + 120
    while True:
        response = client.get(PREFIX + route, query_string=dict(run="run", embedding="emb", **query))
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_tag_then_list(env):
    client = env["client"]
    answer = _tag(client, [3, 1, 2], tag="label error")
    assert answer["written"] == 3 and answer["counts"]["label error"] == 3
    _tag(client, [2], corrected_label="  1 ")  # keeps the tag, adds a correction (stripped)
    _tag(client, [4], tag="ok")
    listed = _tags(client)
    by_index = {t["index"]: t for t in listed["tags"]}
    assert [t["index"] for t in listed["tags"]] == [1, 2, 3, 4]
    assert by_index[2] == {**by_index[2], "tag": "label error", "corrected_label": "1"}
    assert by_index[4]["tag"] == "ok" and by_index[4]["corrected_label"] is None
    assert listed["counts"] == {"label error": 3, "ambiguous": 0, "ok": 1, "corrected": 1}
    assert listed["persistent"] is True
    _tag(client, [2], tag=None)  # clears the tag, keeps the correction
    _tag(client, [3], tag=None, corrected_label=None)  # clears the row
    by_index = {t["index"]: t for t in _tags(client)["tags"]}
    assert set(by_index) == {1, 2, 4} and by_index[2]["tag"] is None and by_index[2]["corrected_label"] == "1"


@pytest.mark.parametrize("content_type, headers", [
    ("application/x-www-form-urlencoded", {}),
    ("text/plain", {}),
    ("multipart/form-data; boundary=x", {}),
    ("application/json", {}),  # JSON without the header
    ("text/plain", GUARD),  # the header without JSON
    ("application/json", {"X-Embedanalysis-Request": "0"}),
], ids=["form", "text-plain", "multipart", "json-no-header", "header-text-plain", "header-0"])
def test_unguarded_writes_are_refused(env, content_type, headers):
    client = env["client"]
    body = json.dumps({"run": "run", "embedding": "emb", "indices": [1], "tag": "ok"})
    if content_type.startswith("application/x-www"):
        body = "run=run&embedding=emb&indices=1&tag=ok"
    response = _post(client, None, raw=body, headers=headers, content_type=content_type)
    assert response.status_code == 403
    assert "X-Embedanalysis-Request" in response.get_json()["error"]
    assert _tags(client)["tags"] == []


def test_get_never_writes(env):
    client = env["client"]
    response = client.get(PREFIX + "/tags", query_string={"run": "run", "embedding": "emb", "indices": "1",
                                                          "tag": "ok"}, headers=GUARD)
    assert response.status_code == 200
    assert _tags(client)["tags"] == []
    assert client.put(PREFIX + "/tags", data="{}", headers=GUARD, content_type="application/json").status_code == 400
    options = client.options(PREFIX + "/tags", headers={"Origin": "http://evil.example",
                                                        "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in options.headers  # no CORS preflight is ever granted


@pytest.mark.parametrize("body, field", [
    ({"indices": "1", "tag": "ok"}, "indices"),
    ({"indices": [], "tag": "ok"}, "indices"),
    ({"indices": [1.5], "tag": "ok"}, "indices"),
    ({"indices": [True], "tag": "ok"}, "indices"),
    ({"indices": [N], "tag": "ok"}, "indices"),
    ({"indices": [-1], "tag": "ok"}, "indices"),
    ({"indices": [1, 1], "tag": "ok"}, "indices"),
    ({"indices": list(range(10_001)), "tag": "ok"}, "indices"),
    ({"indices": [1], "tag": "wrong"}, "tag"),
    ({"indices": [1], "tag": 3}, "tag"),
    ({"indices": [1]}, "tag"),
    ({"indices": [1], "corrected_label": "x" * 201}, "corrected_label"),
    ({"indices": [1], "corrected_label": "a\tb"}, "corrected_label"),
    ({"indices": [1], "corrected_label": "a\nb"}, "corrected_label"),
    ({"indices": [1], "corrected_label": 7}, "corrected_label"),
    ({"indices": [1], "tag": "ok", "sql": "drop"}, "sql"),
    ({"indices": [1], "tag": "ok", "step": "x"}, "step"),
    ({"indices": [1], "tag": "ok", "run": 1}, "run"),
], ids=["indices-text", "indices-empty", "indices-float", "indices-bool", "indices-N", "indices-negative",
        "indices-twice", "indices-too-many", "tag-unknown", "tag-number", "nothing-to-set", "label-long",
        "label-tab", "label-newline", "label-number", "unknown-field", "step-text", "run-number"])
def test_bad_bodies_are_400_naming_the_field(env, body, field):
    client = env["client"]
    response = _post(client, {"run": "run", "embedding": "emb", **body})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert field in response.get_json()["error"]
    assert _tags(client)["tags"] == []


def test_malformed_and_oversized_bodies(env):
    client = env["client"]
    for raw in ("{", "[" * 100_000 + "]" * 100_000, b"\xff\xfe", "[1, 2]"):
        response = _post(client, None, raw=raw)
        assert response.status_code == 400, raw[:10]
        assert "body" in response.get_json()["error"]
    big = json.dumps({"run": "run", "embedding": "emb", "indices": [1], "tag": "ok", "pad": " " * (1024 * 1024)})
    response = _post(client, None, raw=big)
    assert response.status_code == 400 and "too large" in response.get_json()["error"]
    unknown = _post(client, {"run": "nope", "embedding": "emb", "indices": [1], "tag": "ok"})
    assert unknown.status_code == 404
    assert _tags(client)["tags"] == []


def test_database_cap_refuses_writes_but_not_clearing(env):
    plugin, client = env["plugin"], env["client"]
    _tag(client, [1], tag="ok")
    small = TagStore(str(env["tmp"] / "small"))
    plugin._workspace = dataclasses.replace(plugin._workspace, tags=small)
    small.write(_fingerprint(plugin), [5], tag="ok")
    small.max_bytes = small.size_bytes() - 1  # now past its cap
    response = _post(client, {"run": "run", "embedding": "emb", "indices": [2], "tag": "ok"})
    assert response.status_code == 422 and "full" in response.get_json()["error"]
    assert _post(client, {"run": "run", "embedding": "emb", "indices": [5], "tag": None}).status_code == 200
    assert small.read(_fingerprint(plugin)) == []


def _fingerprint(plugin):
    return plugin._workspace.load("run", "emb").fingerprint


def test_tags_persist_in_the_cache_dir_private(env):
    _tag(env["client"], [7, 8], tag="ambiguous", corrected_label="2")
    path = env["cache"] / DB_NAME
    assert path.is_file() and (path.stat().st_mode & 0o077) == 0
    assert not any(DB_NAME in name for _, _, names in os.walk(env["logdir"]) for name in names)
    again = _client(_plugin(env["logdir"], env["cache"]))  # a new plugin on the same cache dir
    assert [(t["index"], t["tag"], t["corrected_label"]) for t in _tags(again)["tags"]] == [
        (7, "ambiguous", "2"), (8, "ambiguous", "2")]


def test_a_symlinked_database_is_refused(tmp_path):
    target = tmp_path / "elsewhere.sqlite3"
    target.write_bytes(b"")
    (tmp_path / "cache").mkdir()
    os.symlink(target, tmp_path / "cache" / DB_NAME)
    store = TagStore(str(tmp_path / "cache"))
    # Refused, with the reason, at every write: never kept in memory behind a 2xx (issue 24.1).
    with pytest.raises(TagStoreUnwritable, match=r"tags.sqlite3 in .*cache cannot be opened \(it is a symbolic link"):
        store.write("f", [1], tag="ok")
    assert target.read_bytes() == b""


def test_threads_write_concurrently(tmp_path):
    store = TagStore(str(tmp_path))
    errors = []

    def writer(start):
        try:
            for row in range(start, start + 50):
                store.write("fp", [row], tag="ok")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i * 50,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [row for row, *_ in store.read("fp")] == list(range(300))


def test_hide_ok_leaves_tagged_points_out_with_right_totals(env):
    client = env["client"]
    full = _get(client, "/hard_examples", limit=1000, label_column="label").get_json()
    order = [e["index"] for e in full["examples"]]
    ok = order[:3] + order[10:12]
    _tag(client, ok, tag="ok")
    _tag(client, [order[3]], tag="label error")  # other tags stay listed
    hidden = _get(client, "/hard_examples", limit=1000, label_column="label", hide_tagged="ok").get_json()
    assert hidden["hidden"] == 5
    assert hidden["total"] == full["total"] - 5
    assert [e["index"] for e in hidden["examples"]] == [i for i in order if i not in ok]
    paged = []
    for offset in range(0, hidden["total"], 7):
        page = _get(client, "/hard_examples", limit=7, offset=offset, label_column="label", hide_tagged="ok").get_json()
        assert page["total"] == hidden["total"]
        paged += [e["index"] for e in page["examples"]]
    assert paged == [e["index"] for e in hidden["examples"]]
    outvoted = [e for e in full["examples"] if e["predicted_label"] != e["label"] and e["index"] not in ok]
    assert hidden["hard_total"] == len(outvoted)
    assert "hidden" not in full  # the answer without hide_tagged is as it was
    bad = _get(client, "/hard_examples", hide_tagged="fine")
    assert bad.status_code == 400 and "hide_tagged" in bad.get_json()["error"]


def test_tags_csv_is_neutralised_and_metadata_keeps_labels(env):
    client = env["client"]
    _tag(client, [0], tag="label error", corrected_label="=1+2")
    _tag(client, [5], tag="ok")
    response = _get(client, "/export", what="tags", format="csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["index", "label", "tag", "corrected_label", "updated"]
    assert rows[1][:4] == ["0", env["metadata"]["label"][0], "label error", "'=1+2"]
    assert rows[2][:4] == ["5", env["metadata"]["label"][5], "ok", ""]
    tsv = _get(client, "/export", what="tags", format="metadata")
    assert tsv.status_code == 200 and "attachment" in tsv.headers["Content-Disposition"]
    lines = tsv.get_data(as_text=True).splitlines()
    assert lines[0] == "label\tword\tlabel_corrected"
    assert lines[1] == "%s\tw0\t=1+2" % env["metadata"]["label"][0]  # data for the Projector, as given
    assert lines[6] == "%s\tw5\t%s" % (env["metadata"]["label"][5], env["metadata"]["label"][5])
    assert _get(client, "/export", what="metadata").get_data() == tsv.get_data()
    for what in ("hard_examples", "clusters"):  # the existing exports still answer
        assert _get(client, "/export", what=what, format="csv", label_column="label").status_code == 200


def test_corrected_labels_round_trip_into_write_embedding(env):
    client = env["client"]
    planted = [i for i in range(0, N, 9)]
    truth = [str(i // (N // 3)) for i in range(N)]
    _tag(client, planted, tag="label error")
    for i in planted:
        _tag(client, [i], corrected_label=truth[i])
    exported = _get(client, "/export", what="tags", format="metadata").get_data(as_text=True)
    rows = [line.split("\t") for line in exported.splitlines()]
    header, rows = rows[0], rows[1:]
    metadata = {name: [row[j] for row in rows] for j, name in enumerate(header)}
    assert metadata["label_corrected"] == truth
    new_logdir = env["tmp"] / "relabelled"
    write_embedding(str(new_logdir / "run"), env["vectors"], name="emb", metadata=metadata)
    plugin = _plugin(new_logdir, "none")
    again = _client(plugin)
    runs = again.get(PREFIX + "/runs").get_json()
    entry = runs["runs"][0]["embeddings"][0]
    assert entry["columns"] == ["label", "word", "label_corrected"]
    column = _get(again, "/metadata", column="label_corrected").get_json()
    assert [column["categories"][code] for code in column["codes"]] == truth
    clusters = _get(again, "/clusters", label_column="label_corrected").get_json()
    before = _get(client, "/clusters", label_column="label").get_json()
    assert clusters["overall"]["knn_accuracy"] > before["overall"]["knn_accuracy"]  # the fixes fixed


def test_cli_prints_what_the_routes_serve(env):
    client = env["client"]
    _tag(client, [2, 4], tag="ambiguous")
    _tag(client, [4], corrected_label="0")
    cli = [sys.executable, "-m", "tb_embedanalysis.cli", "tags", str(env["logdir"]), "--run", "run",
           "--embedding", "emb", "--cache-dir", str(env["cache"])]
    for export, query in (("csv", {"what": "tags", "format": "csv"}), ("metadata", {"what": "metadata"})):
        out = subprocess.run(cli + ["--export", export], capture_output=True, check=True).stdout
        assert out == _get(client, "/export", **query).get_data()
    listed = json.loads(subprocess.run(cli, capture_output=True, check=True).stdout)
    assert listed == _tags(client)
