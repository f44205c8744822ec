"""A refused or mismatching metadata/sprite file costs only that file (issue 15 items 5, 7).

The Projector still plots the points when the labels cannot be used; so do we: the vectors
stay analysable (neighbours, map) and the embedding's warnings (shown by the tab, in the
`warnings` of /runs) say which file was refused and why. Logs are written by our writer
(no TensorFlow needed) and then broken the way users break them.
"""

import argparse
import json
import os
import time

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from werkzeug import test as werkzeug_test

from logs_fixtures import vectors, write_bytes_run, write_sprite
from no_bugs import assert_not_a_bug
from tb_embedanalysis.logs import EmbeddingStore, MetadataError, discover, find_ref, listing
from tb_embedanalysis.logs import metadata as metadata_io, metadata_scan
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

MATRIX = vectors(10, 3, seed=5)


def _run(logdir, *, metadata_rows=None, sprite=None):
    run_dir = str(logdir / "run1")
    write_bytes_run(run_dir, MATRIX, metadata_rows=metadata_rows, sprite=sprite)
    return run_dir


def _edit_config(run_dir, edit):
    path = os.path.join(run_dir, "projector_config.pbtxt")
    with open(path, encoding="utf-8") as handle:
        config = text_format.Parse(handle.read(), ProjectorConfig())
    edit(config.embeddings[0])
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text_format.MessageToString(config))


def _loaded(logdir):
    runs = discover(str(logdir))
    assert all(info.problems == () for info in runs), [info.problems for info in runs]
    ref = find_ref(runs, "run1", "emb")
    return ref, EmbeddingStore().load(ref)


def _route(logdir, path, *, raw=False, **query):
    """The JSON (raw: the bytes) of one of our routes, through TensorBoard's real WSGI app
    (202s polled)."""
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=64.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=flags))
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    deadline = time.monotonic() + 60
    while True:
        response = client.get("/data/plugin/embedanalysis" + path, query_string=query)
        assert_not_a_bug(response, (path, query))
        if response.status_code != 202 or time.monotonic() > deadline:
            assert response.status_code == 200, response.get_data()[:300]
            return response.get_data() if raw else json.loads(response.get_data(as_text=True))
        time.sleep(0.05)


def _warnings_in_runs_route(logdir):
    return json.dumps(_route(logdir, "/runs"))


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_outside_metadata_path_refuses_only_the_metadata(tmp_path, how):
    outside = tmp_path / "outside.tsv"
    outside.write_text("".join("%d\n" % (i % 2) for i in range(10)), encoding="utf-8")
    run_dir = _run(tmp_path / "logs", metadata_rows=[(str(i % 2),) for i in range(10)])
    if how == "dotdot":
        _edit_config(run_dir, lambda e: setattr(e, "metadata_path", "../../outside.tsv"))
    else:
        _edit_config(run_dir, lambda e: setattr(e, "metadata_path", "link.tsv"))
        os.symlink(outside, os.path.join(run_dir, "link.tsv"))
    ref, embedding = _loaded(tmp_path / "logs")
    np.testing.assert_array_equal(embedding.vectors, MATRIX)
    assert embedding.metadata is None and embedding.label_column is None
    (warning,) = embedding.warnings
    assert warning.startswith("metadata file refused, no labels:")
    assert "run1/projector_config.pbtxt" in warning and "outside" in warning
    assert str(tmp_path) not in warning  # named relative to the logdir
    assert "metadata file refused" in _warnings_in_runs_route(tmp_path / "logs")


def test_outside_sprite_path_refuses_only_the_sprite(tmp_path):
    run_dir = _run(tmp_path / "logs", metadata_rows=[(str(i % 2),) for i in range(10)], sprite=4)
    write_sprite(str(tmp_path / "outside.png"), 10)
    _edit_config(run_dir, lambda e: setattr(e.sprite, "image_path", "../../outside.png"))
    ref, embedding = _loaded(tmp_path / "logs")
    np.testing.assert_array_equal(embedding.vectors, MATRIX)
    assert embedding.sprite is None and embedding.label_column == "label"
    assert [w.split(":")[0] for w in embedding.warnings] == ["sprite refused, no thumbnails"]
    assert "sprite refused, no thumbnails" in _warnings_in_runs_route(tmp_path / "logs")


def test_metadata_swapped_for_an_outside_symlink_after_discovery_refuses_only_the_metadata(tmp_path):
    _run(tmp_path / "logs", metadata_rows=[(str(i % 2),) for i in range(10)])
    runs = discover(str(tmp_path / "logs"))
    ref = find_ref(runs, "run1", "emb")
    assert ref.metadata_path is not None
    (tmp_path / "outside.tsv").write_text("secret\n" * 10, encoding="utf-8")
    os.replace(ref.metadata_path, tmp_path / "moved.tsv")
    os.symlink(tmp_path / "outside.tsv", ref.metadata_path)
    embedding = EmbeddingStore().load(ref)
    np.testing.assert_array_equal(embedding.vectors, MATRIX)
    assert embedding.metadata is None
    assert any("metadata file refused" in w and "symbolic link" in w for w in embedding.warnings)
    assert not any("secret" in w for w in embedding.warnings)


@pytest.mark.parametrize("cheap", [False, True], ids=["loaded", "listing-facts"])
def test_metadata_that_does_not_match_keeps_the_vectors_usable(tmp_path, cheap):
    _run(tmp_path / "logs", metadata_rows=[(str(i % 2),) for i in range(9)])  # one row short
    runs = discover(str(tmp_path / "logs"))
    ref = find_ref(runs, "run1", "emb")
    if cheap:  # what /runs shows of a big embedding without loading it
        summary = listing.summarize(ref)
        assert summary.shape == (10, 3) and summary.columns == ()
        warnings = summary.warnings
    else:
        embedding = EmbeddingStore().load(ref)
        np.testing.assert_array_equal(embedding.vectors, MATRIX)
        assert embedding.metadata is None
        warnings = embedding.warnings
    (warning,) = warnings
    assert warning.startswith("metadata file refused, no labels:") and "has 9 rows but tensor emb has 10" in warning


def test_neighbours_and_map_are_served_when_the_metadata_is_refused(tmp_path):
    _run(tmp_path / "logs", metadata_rows=[(str(i % 2),) for i in range(9)])
    assert "has 9 rows but tensor emb has 10" in _warnings_in_runs_route(tmp_path / "logs")
    answer = _route(tmp_path / "logs", "/neighbors", run="run1", embedding="emb", index=0, k=3, metric="euclidean")
    brute = np.argsort(np.linalg.norm(MATRIX - MATRIX[0], axis=1), kind="stable")[1:4]
    assert [n["index"] for n in answer["neighbors"]] == brute.tolist()
    assert len(_route(tmp_path / "logs", "/projection", raw=True, run="run1", embedding="emb")) >= 10 * 2 * 4


@pytest.mark.parametrize("scan", [False, True], ids=["read", "scan"])
def test_a_tab_inside_one_label_of_single_column_metadata_names_the_line(tmp_path, scan):
    rows = [("word%d" % i,) for i in range(10)]
    rows[6] = ("two\twords",)  # line 7
    _run(tmp_path / "logs", metadata_rows=rows)
    path = find_ref(discover(str(tmp_path / "logs")), "run1", "emb").metadata_path
    assert path is not None
    reader = metadata_scan.scan_metadata if scan else metadata_io.read_metadata
    with pytest.raises(MetadataError, match=r"line 7 has a tab but line 1 has none") as caught:
        reader(path, num_rows=10, tensor_name="emb")
    assert "9 rows" not in str(caught.value)
