"""CSV downloads are safe to open in a spreadsheet; JSON downloads are the data as it is.

Labels and metadata come from whoever wrote the logs. A cell starting with `=`, `+`, `-`,
`@`, tab or CR is a formula to Excel and LibreOffice (CSV injection), so text cells get a
leading `'` (OWASP); numbers, negative ones included, stay numbers.
"""

import argparse
import csv
import io
import json

import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from tb_embedanalysis import write_embedding
from tb_embedanalysis import exports
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"
HOSTILE = ["=1+2", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_plain_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.strip() == cell and cell.lower().lstrip("+-") not in ("inf", "infinity", "nan")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    rng = np.random.default_rng(3)
    n_per = 15
    centres = rng.normal(size=(len(HOSTILE), 8)) * 4
    vectors = np.concatenate([c + rng.normal(size=(n_per, 8)) for c in centres]).astype(np.float32)
    labels = [label for label in HOSTILE for _ in range(n_per)]
    for i in range(0, len(labels), 7):  # planted mislabels: hard examples with negative margins
        labels[i] = HOSTILE[(HOSTILE.index(labels[i]) + 1) % len(HOSTILE)]
    metadata = {"label": labels, "note": ["-0.5" if i % 2 else "@home" for i in range(len(labels))],
                "=HYPERLINK(\"http://x\")": ["x"] * len(labels)}
    write_embedding(str(root / "logs" / "run"), vectors, name="emb", metadata=metadata)
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=256.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(root / "logs"), flags=flags))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def _export(client, what, fmt, **query):
    import time

    deadline = time.monotonic() + 120
    while True:
        response = client.get(PREFIX + "/export", query_string=dict(run="run", embedding="emb", what=what,
                                                                    format=fmt, label_column="label", **query))
        if response.status_code != 202 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


@pytest.mark.parametrize("what, query", [
    ("hard_examples", {"limit": 100}),
    ("neighbors", {"index": 0, "k": 20}),
    ("clusters", {}),
], ids=["hard_examples", "neighbors", "clusters"])
def test_csv_cells_never_start_a_formula(client, what, query):
    rows = list(csv.reader(io.StringIO(_export(client, what, "csv", **query))))
    cells = [cell for row in rows for cell in row]
    dangerous = [c for c in cells if c.startswith(FORMULA_STARTS) and not _is_plain_number(c)]
    assert dangerous == []
    neutralised = {c[1:] for c in cells if c.startswith("'")}
    assert neutralised & set(HOSTILE)  # the labels are there, shown as text
    if what != "clusters":
        assert 'metadata.=HYPERLINK("http://x")' in rows[0] and "'@home" in cells and "-0.5" in cells


def test_negative_numbers_stay_numbers(client):
    rows = list(csv.DictReader(io.StringIO(_export(client, "hard_examples", "csv", limit=100))))
    margins = [float(row["margin"]) for row in rows]  # raises if a margin were "'-0.3"
    assert min(margins) < 0
    assert all(float(row["score"]) == float(row["score"]) for row in rows)


def test_json_export_is_unchanged(client):
    body = json.loads(_export(client, "hard_examples", "json", limit=100))
    labels = {e["label"] for e in body["examples"]}
    assert labels and labels <= set(HOSTILE)
    assert any(e["metadata"]["note"] == "@home" for e in body["examples"])


@pytest.mark.parametrize("cell, written", [
    ("=1+2", "'=1+2"), ("+1+2", "'+1+2"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-", "'-"), ("-inf", "'-inf"),
    ("-0.5", "-0.5"), ("+3", "+3"), ("-1e-3", "-1e-3"), ("safe", "safe"), ("a=b", "a=b"),
    (-0.25, "-0.25"), (3, "3"),
], ids=repr)
def test_one_cell(cell, written):
    payload = {"neighbors": [{"index": 1, "distance": cell, "metadata": {"label": cell}}]}
    body, _ = exports.render("neighbors", "csv", payload)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    assert rows[1] == ["1", "1", written, written]


# Issue 24: metadata columns share the CSV header with ours. Single-column metadata (what
# torch, tensorboardX and Keras write) is read as a column named "label", which repeated the
# header's own "label"; columns named index, score, distance or rank shadowed ours, and a
# csv.DictReader kept whichever came last.
COLLIDING = ["index", "score", "distance", "rank", "label", "margin"]


@pytest.fixture(scope="module")
def collisions(tmp_path_factory):
    tensorboardX = pytest.importorskip("tensorboardX")
    root = tmp_path_factory.mktemp("collisions") / "logs"
    rng = np.random.default_rng(5)
    vectors = np.concatenate([rng.normal(size=(20, 6)) + 5 * np.eye(6)[c] for c in range(3)]).astype(np.float32)
    labels = [str(i // 20) for i in range(60)]
    labels[::9] = ["2"] * len(labels[::9])  # planted mislabels: hard examples
    with tensorboardX.SummaryWriter(str(root / "tbx")) as writer:  # one column, no header
        writer.add_embedding(vectors, metadata=labels, tag="emb")
    metadata = {column: ["%s-%d" % (column, i) for i in range(60)] for column in COLLIDING}
    metadata["label"] = labels
    write_embedding(str(root / "ours"), vectors, name="emb", metadata=metadata)
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=256.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(root), flags=flags))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def _csv_rows(client, run, embedding, what, **query):
    import time

    deadline = time.monotonic() + 120
    while True:
        response = client.get(PREFIX + "/export", query_string=dict(run=run, embedding=embedding, what=what,
                                                                    format="csv", **query))
        if response.status_code != 202 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("what, query, ours", [
    ("hard_examples", {"limit": 100}, ["index", "label", "predicted_label", "score", "margin", "neighbor_labels"]),
    ("neighbors", {"index": 3, "k": 10}, ["rank", "index", "distance"]),
], ids=["hard_examples", "neighbors"])
def test_single_column_metadata_does_not_repeat_label(collisions, what, query, ours):
    header, *rows = _csv_rows(collisions, "tbx", "emb", what, **query)
    assert header == ours + ["metadata.label"]
    assert rows and all(row[-1] in {"0", "1", "2"} for row in rows)


@pytest.mark.parametrize("what, query", [
    ("hard_examples", {"limit": 100, "label_column": "label"}),
    ("neighbors", {"index": 3, "k": 10}),
], ids=["hard_examples", "neighbors"])
def test_metadata_named_like_our_columns_shadows_nothing(collisions, what, query):
    header, *rows = _csv_rows(collisions, "ours", "emb", what, **query)
    assert len(header) == len(set(header)), header
    assert [c for c in header if c.startswith("metadata.")] == sorted("metadata." + c for c in COLLIDING)
    table = [dict(zip(header, row)) for row in rows]
    assert table
    for number, row in enumerate(table, 1):
        index = int(row["index"])  # ours: the row number, not "index-7"
        assert row["metadata.index"] == "index-%d" % index and row["metadata.score"] == "score-%d" % index
        if what == "neighbors":
            assert int(row["rank"]) == number and float(row["distance"]) >= 0
        else:
            assert float(row["score"]) == float(row["score"]) and row["metadata.margin"] == "margin-%d" % index
