"""Boundaries: what the tab may read, and what every answer says about its content.

* Configs are untrusted: a path with ``..``, an absolute path, or a symlink that leaves the
  config's directory is refused (as TensorBoard >= 2.21 does) and listed by /runs as a
  problem with a clear message, never served.
* No route opens a file that discovery did not find from a projector config, whatever the
  request asks for: every file opened under the test's directories is recorded (a Python
  audit hook on "open") and checked against the paths discovery returned.
* Odd files (a FIFO where a metadata file should be) never hang a request.
* Every response - JSON, binary, static, 202, 4xx - sets Content-Type and
  X-Content-Type-Options: nosniff.
"""

import argparse
import os
import sys
import threading
from typing import Optional

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from werkzeug import test as werkzeug_test

from no_bugs import assert_not_a_bug
from tb_embedanalysis import write_embedding
from tb_embedanalysis.logs import discover
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"
N = 60
SECRET = "TOP-SECRET-do-not-serve"


def write_config(run_dir, entries):
    config = ProjectorConfig()
    for entry in entries:
        config.embeddings.add(**entry)
    with open(os.path.join(run_dir, "projector_config.pbtxt"), "w") as handle:
        handle.write(text_format.MessageToString(config))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("boundaries")
    secret_dir = root / "outside"
    secret_dir.mkdir()
    (secret_dir / "secret.tsv").write_text("".join("%s-%d\n" % (SECRET, i) for i in range(N)))
    np.full((N, 4), 7, dtype="<f4").tofile(str(secret_dir / "secret.bytes"))
    logs = root / "logs"
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N, 4)).astype(np.float32)
    labels = [str(i % 3) for i in range(N)]
    write_embedding(str(logs / "good"), vectors, name="emb", metadata=labels,
                    images=rng.random((N, 4, 4)).astype(np.float32))
    # A run whose config reaches out in every way a config can.
    evil = logs / "evil"
    write_embedding(str(evil), vectors, name="inside", metadata=labels)
    os.symlink(secret_dir / "secret.tsv", evil / "link.tsv")
    os.symlink(secret_dir / "secret.bytes", evil / "link.bytes")
    os.symlink(secret_dir, evil / "linkdir")
    inside = {"tensor_path": "inside/latest/tensors.bytes", "tensor_shape": [N, 4]}
    write_config(str(evil), [
        dict(inside, tensor_name="inside"),
        dict(inside, tensor_name="meta_dotdot", metadata_path="../../outside/secret.tsv"),
        dict(inside, tensor_name="meta_absolute", metadata_path=str(secret_dir / "secret.tsv")),
        dict(inside, tensor_name="meta_symlink", metadata_path="link.tsv"),
        dict(inside, tensor_name="meta_symlinked_dir", metadata_path="linkdir/secret.tsv"),
        {"tensor_name": "tensor_dotdot", "tensor_path": "../../outside/secret.bytes", "tensor_shape": [N, 4]},
        {"tensor_name": "tensor_symlink", "tensor_path": "link.bytes", "tensor_shape": [N, 4]},
        dict(inside, tensor_name="sprite_dotdot", sprite={"image_path": "../outside/../../outside/secret.tsv",
                                                          "single_image_dim": [4, 4]}),
    ])
    # Odd files: a FIFO where the metadata should be (opening it for reading would block).
    odd = logs / "odd"
    write_embedding(str(odd), vectors, name="fifo", metadata=labels)
    metadata = odd / "fifo" / "latest" / "metadata.tsv"
    metadata.unlink()
    os.mkfifo(metadata)
    write_embedding(str(odd), vectors, name="fifo_tensor")  # ... and where the vectors should be
    tensor = odd / "fifo_tensor" / "latest" / "tensors.bytes"
    tensor.unlink()
    os.mkfifo(tensor)
    return root


@pytest.fixture(scope="module")
def client(logdir):
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=64.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir / "logs"), flags=flags))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def get(client, url, timeout=20.0, **query):
    """The response, from a thread so that a hanging request fails the test instead of hanging it."""
    box = []
    thread = threading.Thread(target=lambda: box.append(client.get(url, query_string=query)), daemon=True)
    thread.start()
    thread.join(timeout)
    assert box, "%s %s did not answer in %.0f s" % (url, query, timeout)
    response = box[0]
    assert_not_a_bug(response, (url, query))
    assert response.headers.get("Content-Type"), url
    assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    return response


def test_runs_lists_configs_leaving_their_directory_as_problems(client, logdir):
    body = get(client, PREFIX + "/runs").get_json()
    runs = {run["run"]: run for run in body["runs"]}
    # A refused tensor costs its embedding (a problem); a refused metadata or sprite file only
    # that file: the embedding is listed, its warning says which file and why (issue 15).
    listed = {e["name"]: e for e in runs["evil"]["embeddings"]}
    assert sorted(listed) == ["inside", "meta_absolute", "meta_dotdot", "meta_symlink", "meta_symlinked_dir",
                              "sprite_dotdot"]
    assert all(e["error"] is None for e in listed.values()) and listed["inside"]["warnings"] == []
    problems = [p for p in body["problems"] if p["run"] == "evil"]
    refused = ["../../outside/secret.tsv", str(logdir / "outside" / "secret.tsv"), "link.tsv", "linkdir/secret.tsv",
               "../../outside/secret.bytes", "link.bytes", "../outside/../../outside/secret.tsv"]
    names = ["meta_dotdot", "meta_absolute", "meta_symlink", "meta_symlinked_dir", "tensor_dotdot", "tensor_symlink",
             "sprite_dotdot"]
    assert len(problems) == 2
    for path, name in zip(refused, names):
        if name.startswith("tensor"):
            (message,) = [p["error"] for p in problems if p["error"].startswith("embedding %r: " % name)]
        else:
            (message,) = listed[name]["warnings"]
            assert message.startswith("metadata file refused" if name.startswith("meta") else "sprite refused")
            assert listed[name]["columns"] == [] and listed[name]["has_sprite"] is False
        assert "path %r resolves to" % path in message and "outside" in message
        assert "refusing to read it" in message and "projector_config.pbtxt" in message
    assert SECRET not in str(body)


@pytest.mark.parametrize("name", ["meta_dotdot", "meta_symlink", "tensor_dotdot", "tensor_symlink", "sprite_dotdot"])
def test_refused_embeddings_are_not_served(client, name):
    for route in ("/neighbors", "/clusters", "/thumbnail", "/search", "/export", "/metadata"):
        response = get(client, PREFIX + route, run="evil", embedding=name, index="0", q=".")
        assert SECRET.encode() not in response.get_data()
        if name.startswith("tensor"):
            assert response.status_code == 404 and "has no embedding %r" % name in response.get_json()["error"]
        elif route in ("/neighbors", "/search"):  # the vectors stay usable (issue 15)
            assert response.status_code == 200, (route, response.get_data()[:300])
        else:  # what needs the refused file says it is not there
            assert response.status_code in (400, 404, 422), (route, response.get_data()[:300])


def test_a_fifo_in_place_of_a_file_does_not_hang(client):
    response = get(client, PREFIX + "/neighbors", run="odd", embedding="fifo_tensor", index="0")
    assert response.status_code == 422 and "not a regular file" in response.get_json()["error"]
    # A FIFO metadata costs the labels only (issue 15): neighbours answer, the listing says why.
    assert get(client, PREFIX + "/neighbors", run="odd", embedding="fifo", index="0").status_code == 200
    listed = {run["run"]: run for run in get(client, PREFIX + "/runs").get_json()["runs"]}["odd"]["embeddings"]
    entry = {e["name"]: e for e in listed}["fifo"]
    assert any("not a regular file" in w for w in entry["warnings"]), entry
    assert get(client, PREFIX + "/neighbors", run="good", embedding="emb", index="0").status_code == 200


class OpenRecorder:
    """Every path opened under `root` while recording (sys.addaudithook cannot be removed,
    so the hook stays installed and only records while `active`)."""

    installed: Optional["OpenRecorder"] = None

    def __init__(self, root):
        self.root, self.active, self.opened = str(root), False, set()

    @classmethod
    def install(cls, root):
        installed = cls.installed
        if installed is None:
            installed = cls.installed = cls(root)
            sys.addaudithook(installed._hook)
        installed.root, installed.opened = str(root), set()
        return installed

    def _hook(self, event, args):
        if self.active and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(args[0]))
            if path.startswith(self.root):
                self.opened.add(path)


HOSTILE_PATHS = ["/runs", "/neighbors", "/clusters", "/thumbnail", "/projection", "/search", "/export",
                 "/compare", "/hard_examples", "/../../outside/secret.tsv", "/%2e%2e/%2e%2e/outside/secret.tsv",
                 "/..%2f..%2foutside%2fsecret.tsv", "/index.js", "/frontend/../../../outside/secret.tsv"]
HOSTILE_VALUES = ["good", "evil", "../outside", "../../outside/secret.tsv", "emb", "inside", "meta_symlink",
                  "/etc/passwd", "link.tsv", "..", "0"]


def test_no_route_opens_a_file_discovery_did_not_find(client, logdir):
    allowed = {os.path.join(str(logdir / "logs"), run, "projector_config.pbtxt") for run in ("good", "evil", "odd")}
    for info in discover(str(logdir / "logs")):
        for series in info.series:
            for ref in series.refs:
                allowed.update(filter(None, (ref.tensor.path, ref.metadata_path, ref.sprite.path if ref.sprite else None)))
    allowed = {os.path.realpath(p) for p in allowed}
    recorder = OpenRecorder.install(logdir)
    recorder.active = True
    try:
        rng = np.random.default_rng(1)
        for path in HOSTILE_PATHS:
            for _ in range(6):
                query = {name: str(rng.choice(HOSTILE_VALUES))
                         for name in ("run", "embedding", "metadata_path", "path", "file", "index", "column")}
                response = get(client, PREFIX + path, **query)
                assert response.status_code < 500
                assert SECRET.encode() not in response.get_data()
        for name in ("inside", "emb"):
            run = "evil" if name == "inside" else "good"
            get(client, PREFIX + "/thumbnail", run=run, embedding=name, index="1")
    finally:
        recorder.active = False
    assert recorder.opened, "the recorder saw nothing: the test proved nothing"
    assert recorder.opened <= allowed, "opened files discovery did not find: %s" % sorted(recorder.opened - allowed)
    assert not any("outside" in p for p in recorder.opened)


def test_every_kind_of_answer_sets_content_type_and_nosniff(client):
    cases = [
        ("/runs", {}, 200, "application/json"),
        ("/neighbors", {"run": "good", "embedding": "emb", "index": "0"}, 200, "application/json"),
        ("/search", {"run": "good", "embedding": "emb", "q": "1"}, 200, "application/json"),
        ("/clusters", {"run": "good", "embedding": "emb"}, (200, 202), "application/json"),
        ("/hard_examples", {"run": "good", "embedding": "emb"}, (200, 202), "application/json"),
        ("/projection", {"run": "good", "embedding": "emb"}, (200, 202), ("application/octet-stream", "application/json")),
        ("/projection", {"run": "good", "embedding": "emb", "format": "json"}, (200, 202), "application/json"),
        ("/projection", {"run": "good", "embedding": "emb", "method": "tsne"}, (200, 202), ("application/json", "application/octet-stream")),
        ("/thumbnail", {"run": "good", "embedding": "emb", "index": "3"}, 200, "image/png"),
        ("/export", {"run": "good", "embedding": "emb", "what": "neighbors", "index": "0"}, 200, "text/csv"),
        ("/export", {"run": "good", "embedding": "emb", "what": "neighbors", "index": "0", "format": "json"}, 200,
         "application/json"),
        ("/compare", {"run": "good", "embedding": "emb"}, (200, 202), "application/json"),
        ("/index.js", {}, 200, "text/javascript"),
        ("/no-such-file.js", {}, 404, "application/json"),
        ("/neighbors", {"run": "good", "embedding": "emb"}, 400, "application/json"),
        ("/neighbors", {"run": "nope", "embedding": "emb", "index": "0"}, 404, "application/json"),
        ("/neighbors", {"run": "odd", "embedding": "fifo_tensor", "index": "0"}, 422, "application/json"),
    ]
    for route, query, statuses, content_types in cases:
        response = get(client, PREFIX + route, **query)
        statuses = statuses if isinstance(statuses, tuple) else (statuses,)
        content_types = content_types if isinstance(content_types, tuple) else (content_types,)
        assert response.status_code in statuses, (route, query, response.get_data()[:300])
        assert response.headers["Content-Type"].split(";")[0] in content_types, (route, response.headers)
        if response.status_code >= 400:
            assert response.get_json()["error"]
