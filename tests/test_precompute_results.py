"""Issue 28.1: the tab opens at once on precomputed results. `tb-embedanalysis precompute`, in
a process of its own, leaves cluster statistics, hard examples, outliers, near-duplicates and
the training history in the signed disk cache (analysis/result_entries.py); a fresh plugin on
that cache answers each at its first request (200, never a 202), exactly what a cold
computation answers, without computing anything (its engine's job counter stays at 0); an
entry of another version, format or key is a warning and a recomputation."""

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import plugin_fixtures
from no_bugs import assert_not_a_bug
from wsgi_client import PREFIX, get, make_client, plugin_and_client
from tb_embedanalysis.analysis import result_entries
from tb_embedanalysis.analysis.disk_cache import SUFFIX, DiskCache
from tb_embedanalysis.analysis.engine import AnalysisEngine, Space
from tb_embedanalysis.analysis.history import PointHistory
from tb_embedanalysis.cache import CacheKey

RUN, NAME = "train", "logits"
#: What the tab asks first when it opens on the run (each with its defaults), and an older step.
QUESTIONS = [
    ("/clusters", {}), ("/clusters", {"step": "200"}), ("/hard_examples", {}),
    ("/hard_examples", {"method": "history"}), ("/outliers", {}), ("/duplicates", {}), ("/history", {}),
]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """300 labelled points (planted label flips) logged at 4 steps by write_embedding."""
    root = tmp_path_factory.mktemp("warm_logs")
    run, _ = plugin_fixtures.write_history_run(root / RUN, seed=0, name=NAME)
    assert run.steps[0] == 200
    return str(root)


@pytest.fixture(scope="module")
def precomputed(logdir, tmp_path_factory):
    """The cache the CLI leaves, precomputing in its own process."""
    cache = str(tmp_path_factory.mktemp("warm_cache"))
    done = subprocess.run([sys.executable, "-m", "tb_embedanalysis.cli", "precompute", logdir, "--cache-dir", cache],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return cache


def ask(question):
    route, extra = question
    return route, dict(run=RUN, embedding=NAME, **extra)


def test_a_fresh_plugin_answers_the_first_questions_at_once_without_computing(logdir, precomputed):
    plugin, client = plugin_and_client(logdir, precomputed)
    engine = plugin._workspace.engine
    warm = {}
    for question in QUESTIONS:
        route, query = ask(question)
        response = client.get(PREFIX + route, query_string=query)  # once: a 202 fails here
        assert_not_a_bug(response, (route, query))
        assert response.status_code == 200, (route, query, response.get_data(as_text=True)[:300])
        warm[route, tuple(sorted(query.items()))] = json.loads(response.get_data())
    assert engine.jobs.started == 0  # no job, no sub-result (no graph, no label context) computed
    cold_client = make_client(logdir)  # no disk cache: everything computed here
    for (route, query), body in warm.items():
        status, cold = get(cold_client, route, **dict(query))
        assert status == 200
        if route == "/clusters":  # the one difference: where the warm answer came from
            assert body.pop("provenance")["engine"] == "local" and cold.pop("provenance") is None
        assert body == cold, route


def test_the_provenance_line_stays_while_the_answer_comes_from_the_precomputed_entry(logdir, precomputed, tmp_path):
    """The cluster card says where its figures came from: with the graphs evicted (the disk
    cache's LRU drops the big entries) the statistics still come from precompute's entry and
    say so; with that entry gone too, they are computed here and say nothing."""
    cache = tmp_path / "cache"
    shutil.copytree(precomputed, cache)
    reader = DiskCache(str(cache))
    for path in cache.glob("*" + SUFFIX):
        arrays = reader.decode(path.read_bytes(), path.name[:-len(SUFFIX)])
        if arrays is not None and "indices" in arrays:
            path.unlink()  # a kNN graph, evicted
    query = dict(run=RUN, embedding=NAME)
    plugin, client = plugin_and_client(logdir, str(cache))
    response = client.get(PREFIX + "/clusters", query_string=query)
    assert response.status_code == 200 and plugin._workspace.engine.jobs.started == 0
    assert json.loads(response.get_data())["provenance"]["engine"] == "local"
    key = next(key for key in plugin._workspace.engine.memory._items if getattr(key, "kind", None) == "clusters")
    os.unlink(plugin._workspace.engine.disk.path(key.as_dict()))  # the statistics' entry evicted too
    plugin, client = plugin_and_client(logdir, str(cache))
    status, body = get(client, "/clusters", **query)
    assert status == 200 and plugin._workspace.engine.jobs.started > 0  # computed here...
    assert body["provenance"] is None  # ...and not claimed otherwise


def test_the_tabs_first_computation_persists_for_the_next_start(logdir, tmp_path):
    cache = str(tmp_path / "cache")
    _, first = plugin_and_client(logdir, cache)
    status, computed = get(first, "/outliers", run=RUN, embedding=NAME, k="7")
    assert status == 200
    plugin, second = plugin_and_client(logdir, cache)  # TensorBoard started again
    response = second.get(PREFIX + "/outliers", query_string=dict(run=RUN, embedding=NAME, k="7"))
    assert response.status_code == 200 and json.loads(response.get_data()) == computed
    assert plugin._workspace.engine.jobs.started == 0


# -- the entries themselves ----------------------------------------------------------------------
@pytest.fixture
def reports(tmp_path):
    """Every persisted kind computed by an engine with a disk cache, on points with planted
    duplicates (a DuplicateReport with several groups) and two steps (a history)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    x = (rng.normal(size=(400, 6)) + 3 * np.eye(6)[y]).astype(np.float32)
    x[[10, 20, 30]] = x[5]
    x[[50, 60]] = x[40]
    x[7] = np.nan
    labels = [str(v) for v in y]
    engine = AnalysisEngine(cache_dir=str(tmp_path / "cache"))
    first = Space(x, "fp-1", np.asarray(np.isfinite(x).all(axis=1)), "euclidean")
    later = Space(x * np.float32(1.5), "fp-2", first.valid, "euclidean")
    encoded = engine.labels(first, labels)
    made = {
        "clusters": engine.clusters(first, encoded, k=5),
        "hard": engine.hard_examples(first, encoded, k=5, method="knn_margin"),
        "outliers": engine.outliers(first, k=5),
        "duplicates": engine.duplicates(first),
        "history": engine.steps.history([first, later], [1, 2], encoded, k=5),
    }
    assert len(made["duplicates"].groups) == 2  # type: ignore[union-attr]
    return engine, made


def same(a, b, where="result"):
    """a and b equal in every field, array dtypes and read-only flags included."""
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.flags.writeable == b.flags.writeable, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            same(getattr(a, field.name), getattr(b, field.name), "%s.%s" % (where, field.name))
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, "%s[%d]" % (where, i))
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for name in a:
            same(a[name], b[name], "%s[%r]" % (where, name))
    else:
        assert a == b or (a != a and b != b), (where, a, b)


def stored_keys(engine):
    return [key for key in engine.memory._items if isinstance(key, CacheKey) and key.kind in
            ("clusters", "hard", "outliers", "duplicates", "history")]


def test_every_persisted_result_reads_back_as_it_was_made(reports):
    engine, made = reports
    keys = stored_keys(engine)
    assert sorted(key.kind for key in keys) == sorted(made)
    fresh = AnalysisEngine(cache_dir=engine.disk.directory)
    for key in keys:
        read = result_entries.read(fresh.disk, key)
        same(read, made[key.kind], key.kind)
    history = made["history"]
    assert isinstance(history, PointHistory) and history.errors is not None  # LabelErrors, ErrorCount inside


@pytest.mark.parametrize("spoil, said", [
    ("version", "written by version"), ("key", "written for another key"), ("fields", "fields differ"),
], ids=["other-version", "other-key", "other-fields"])
def test_an_entry_of_another_version_key_or_shape_is_ignored_with_a_warning(reports, monkeypatch, caplog,
                                                                            spoil, said):
    engine, made = reports
    key = next(key for key in stored_keys(engine) if key.kind == "outliers")
    if spoil == "version":
        monkeypatch.setattr(result_entries, "__version__", "0.0.0-other")
        target = key
    else:
        arrays = engine.disk.get(key.as_dict())
        doc = json.loads(arrays["doc"].tobytes())
        if spoil == "fields":
            doc["value"]["f"]["extra"] = 1
            target = key
        else:
            target = CacheKey.of("outliers", key.data, k=6)  # signed under another key's name
        arrays["doc"] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
        engine.disk.put(target.as_dict(), arrays)
    with caplog.at_level(logging.WARNING):
        assert result_entries.read(engine.disk, target) is None
    assert said in caplog.text and "recomputing" in caplog.text


def test_an_entry_signed_by_another_cache_is_not_read(reports, tmp_path, caplog):
    engine, _ = reports
    key = next(key for key in stored_keys(engine) if key.kind == "clusters")
    other = AnalysisEngine(cache_dir=str(tmp_path / "other"))  # its own secret
    path = engine.disk.path(key.as_dict())
    with open(path, "rb") as source, open(other.disk.path(key.as_dict()), "wb") as copy:
        copy.write(source.read())
    with caplog.at_level(logging.WARNING):
        assert result_entries.read(other.disk, key) is None
    assert "damaged cache entry" in caplog.text
    assert not os.path.exists(other.disk.path(key.as_dict()))  # removed, recomputed next time


def test_what_has_no_stored_form_stays_in_memory(tmp_path):
    engine = AnalysisEngine(cache_dir=str(tmp_path / "cache"))
    key = CacheKey.of("clusters", "x" * 32, k=1)
    assert not result_entries.write(engine.disk, key, {"a": object()})
    assert not result_entries.write(engine.disk, key, np.array(["text"]))
    assert result_entries.read(engine.disk, key) is None
