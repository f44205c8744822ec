"""Security of file access, checked at the moment a file is opened (issue 12, items 3, 4, 6, 10, 14).

* A file replaced by a symlink leaving the logdir *after* discovery (and after a first
  load) is refused when it is opened again: no byte of the outside file reaches any answer,
  and the embedding says why, naming the file relative to the logdir.
* A projector_config.pbtxt that is itself a symlink leaving the logdir is never read.
* A config that cannot be used (a NUL byte in a path) costs only its own embeddings.
* A step deleted while discovery ran answers the documented 404, not a 422.
* Messages never show absolute server paths or where a refused symlink points.
"""

import argparse
import json
import os
import time
from typing import List

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from werkzeug import test as werkzeug_test

from no_bugs import assert_not_a_bug
from tb_embedanalysis import catalog as catalog_module
from tb_embedanalysis import write_embedding
from tb_embedanalysis.logs import EmbeddingStore, UnsafePathError, discover
from tb_embedanalysis.logs import paths

PREFIX = "/data/plugin/embedanalysis"
N = 16
SECRET = b"OUTSIDE-SECRET-7f3a"
ROUTES = [
    ("/runs", {}),
    ("/metadata", {"column": "label"}),
    ("/neighbors", {"index": "0", "k": "3"}),
    ("/search", {"q": "OUTSIDE"}),
    ("/search", {"q": "0"}),
    ("/thumbnail", {"index": "1"}),
    ("/export", {"what": "neighbors", "index": "0", "format": "json"}),
    ("/export", {"what": "neighbors", "index": "0", "format": "csv"}),
]


def make_client(logdir):
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=64.0)
    plugin = base_plugin.TBContext(logdir=str(logdir), flags=flags)
    from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

    return werkzeug_test.Client(application.TensorBoardWSGI([EmbedAnalysisLoader().load(plugin)]))


def answer(client, route, **query):
    response = client.get(PREFIX + route, query_string=query)
    assert response.status_code < 500, (route, response.get_data()[:300])
    assert_not_a_bug(response, (route, query))
    return response


def every_answer(client, run="a", name="emb"):
    """(route, status, body bytes) of every route that reads the embedding's files."""
    out = []
    for route, query in ROUTES:
        if route != "/runs":
            query = dict(query, run=run, embedding=name)
        response = answer(client, route, **query)
        out.append((route, response.status_code, response.get_data()))
    return out


def write_outside(root):
    """Files outside the logdir that a swapped symlink could point at, each full of SECRET."""
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.tsv").write_bytes(b"".join(SECRET + b"-%d\n" % i for i in range(N)))
    # float32 bytes of the right size whose raw bytes are SECRET repeated.
    raw = (SECRET * (N * 4 * 4 // len(SECRET) + 1))[: N * 4 * 4]
    (outside / "secret.bytes").write_bytes(raw)
    image = Image.new("RGB", (4 * 4, 4 * 4), (250, 10, 200))  # 4x4 grid of 4x4 px thumbnails
    image.info["comment"] = SECRET
    image.save(str(outside / "secret.png"), format="PNG", pnginfo=_png_text(SECRET))
    return outside


def _png_text(text):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("secret", text.decode())
    return info


@pytest.fixture
def logdir(tmp_path):
    rng = np.random.default_rng(0)
    logs = tmp_path / "logs"
    for run in ("a", "b"):
        write_embedding(str(logs / run), rng.normal(size=(N, 4)).astype(np.float32), name="emb",
                        metadata=[str(i % 3) for i in range(N)], images=rng.random((N, 4, 4)).astype(np.float32))
    write_outside(tmp_path)
    return logs


def swap_for_symlink(path, target):
    """What an attacker with write access to the logdir does: replace a file by a symlink, atomically."""
    temporary = str(path) + ".swap"
    os.symlink(target, temporary)
    os.replace(temporary, path)


# -- item 3: a file swapped for a symlink after discovery and the first load ------------------
@pytest.mark.parametrize("asset, secret", [("metadata.tsv", "secret.tsv"), ("sprite.png", "secret.png"),
                                           ("tensors.bytes", "secret.bytes"), ("metadata.tsv", "no-such-file"),
                                           ("sprite.png", "no-such-file")],
                         ids=["metadata", "sprite", "tensor", "metadata-dangling", "sprite-dangling"])
def test_a_file_swapped_for_an_outside_symlink_after_loading_is_refused(logdir, asset, secret):
    client = make_client(logdir)
    before = every_answer(client)
    assert all(status == 200 or route == "/search" for route, status, _ in before), before
    # Let the catalog settle (it discovers once more after seeing new paths): the swap below
    # must then be caught when the file is opened, not by a rediscovery (asset directories are
    # not watched; the next discovery is up to 5 s away).
    time.sleep(0.3)
    answer(client, "/runs")
    swap_for_symlink(logdir / "a" / "emb" / "latest" / asset, logdir.parent / "outside" / secret)
    after = every_answer(client)
    for route, _status, body in after:
        assert SECRET not in body and SECRET.decode() not in json.dumps(body.decode("latin-1")), route
        assert str(logdir.parent) not in body.decode("latin-1"), (route, body[:300])
    by_route = {route: (status, body) for route, status, body in after}
    listed = json.loads(by_route["/runs"][1])
    entry = {run["run"]: run for run in listed["runs"]}["a"]["embeddings"][0]
    if asset == "tensors.bytes":
        for route in ("/metadata", "/neighbors", "/search", "/thumbnail", "/export"):
            status, body = by_route[route]
            assert status == 422, (route, body[:300])
            error = json.loads(body)["error"]
            assert "a/emb/latest/%s" % asset in error and "refusing to read it" in error, error
        assert "a/emb/latest/%s" % asset in entry["error"] and "refusing to read it" in entry["error"]
    else:  # a refused metadata or sprite file costs only that file; the entry says why (issue 15)
        assert entry["error"] is None
        (warning,) = [w for w in entry["warnings"] if "a/emb/latest/%s" % asset in w]
        assert "refused" in warning and "refusing to read it" in warning
        assert by_route["/neighbors"][0] == 200
        lost = "/metadata" if asset == "metadata.tsv" else "/thumbnail"
        assert by_route[lost][0] in (404, 422), by_route[lost]
    assert every_answer(client, run="b")[1][1] == 200  # the other run is untouched


def test_a_symlink_inside_the_logdir_keeps_working(logdir):
    latest = logdir / "a" / "emb" / "latest"
    os.rename(latest / "metadata.tsv", logdir / "a" / "shared_metadata.tsv")
    os.symlink(os.path.join("..", "..", "shared_metadata.tsv"), latest / "metadata.tsv")
    client = make_client(logdir)
    assert all(status == 200 for _, status, _ in every_answer(client))


@pytest.mark.parametrize("how", ["last-component", "directory"])
def test_open_regular_refuses_a_path_that_leaves_where_discovery_found_it(tmp_path, how):
    inside = tmp_path / "run"
    (inside / "d").mkdir(parents=True)
    (inside / "d" / "f.tsv").write_bytes(b"inside\n")
    outside = write_outside(tmp_path)
    path = os.path.realpath(inside / "d" / "f.tsv")
    assert paths.read_regular(path, what="metadata file", error=ValueError) == b"inside\n"
    if how == "last-component":
        swap_for_symlink(inside / "d" / "f.tsv", outside / "secret.tsv")
    else:  # a directory above the file swapped for a symlink: O_NOFOLLOW alone would not see it
        os.rename(outside / "secret.tsv", outside / "f.tsv")
        os.rename(inside / "d", inside / "old")
        os.symlink(outside, inside / "d")
    with pytest.raises(UnsafePathError, match="refusing to read it"):
        paths.read_regular(path, what="metadata file", error=ValueError)
    # A symlink to a path that does not exist is refused the same way: no existence oracle.
    swap_for_symlink(os.path.join(os.path.dirname(path), "dangling.tsv"), outside / "no-such-file")
    for root in (None, os.path.realpath(inside)):
        with pytest.raises(UnsafePathError, match="refusing to read it"):
            paths.read_regular(str(inside / "d" / "dangling.tsv"), what="file", error=ValueError, root=root)
    # With a containment root, a symlink staying inside is fine and one leaving it is not.
    with pytest.raises(UnsafePathError, match="refusing to read it"):
        paths.read_regular(str(inside / "d" / "f.tsv"), what="file", error=ValueError, root=str(inside))


def test_open_regular_with_a_root_follows_symlinks_that_stay_inside(tmp_path):
    (tmp_path / "real.tsv").write_bytes(b"x\n")
    os.symlink("real.tsv", tmp_path / "link.tsv")
    assert paths.read_regular(str(tmp_path / "link.tsv"), what="file", error=ValueError,
                              root=os.path.realpath(tmp_path)) == b"x\n"


# -- item 4: the config itself symlinked outside the logdir ------------------------------------
def test_a_config_symlinked_outside_the_logdir_is_never_read(logdir):
    (logdir.parent / "outside" / "passwd").write_bytes(SECRET + b":x:0:0:root:/root:/bin/bash\n")
    swap_for_symlink(logdir / "b" / "projector_config.pbtxt", logdir.parent / "outside" / "passwd")
    client = make_client(logdir)
    response = answer(client, "/runs")
    body = response.get_data()
    assert response.status_code == 200 and SECRET not in body and str(logdir.parent).encode() not in body
    listed = json.loads(body)
    assert [run["run"] for run in listed["runs"] if run["embeddings"]] == ["a"]
    (problem,) = [p for p in listed["problems"] if p["run"] == "b"]
    assert problem["config"] == "b/projector_config.pbtxt"
    assert "b/projector_config.pbtxt" in problem["error"] and "refusing to read it" in problem["error"]
    for route, _status, body in every_answer(client, run="b"):
        assert SECRET not in body, route


# -- item 6: one bad config costs only its own embeddings --------------------------------------
@pytest.mark.parametrize("field", ["metadata_path", "tensor_path", "sprite", "model_checkpoint_path",
                                   "model_checkpoint_dir"])
def test_a_nul_byte_in_one_config_path_breaks_only_that_config(logdir, field):
    config_path = logdir / "b" / "projector_config.pbtxt"
    config = text_format.Parse(config_path.read_text(), ProjectorConfig())
    if field == "sprite":
        config.embeddings[0].sprite.image_path = "emb/latest/sprite\0.png"
    elif field in ("model_checkpoint_path", "model_checkpoint_dir"):
        setattr(config, field, "ckpt\0dir")
        extra = config.embeddings.add(tensor_name="from_checkpoint")
        del extra  # a checkpoint entry: it reads model_checkpoint_* (the path with the NUL)
    else:
        setattr(config.embeddings[0], field, "emb/latest/x\0.tsv")
    config_path.write_text(text_format.MessageToString(config))
    client = make_client(logdir)
    for route, status, _ in every_answer(client, run="a"):
        assert status == 200, route
    listed = json.loads(answer(client, "/runs").get_data())
    problems = [p for p in listed["problems"] if p["run"] == "b"]
    if field in ("metadata_path", "sprite"):  # costs that file only: a warning of b's embedding (issue 15)
        assert problems == []
        (entry,) = {run["run"]: run for run in listed["runs"]}["b"]["embeddings"]
        assert any("NUL" in w and "b/projector_config.pbtxt" in w for w in entry["warnings"]), entry
    else:
        assert problems and all("NUL" in p["error"] and p["config"] == "b/projector_config.pbtxt" for p in problems)
    assert not any(p["run"] == "a" for p in listed["problems"])


# -- item 10: a step deleted while discovery ran -----------------------------------------------
def test_a_step_deleted_during_discovery_answers_the_documented_404(tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    rng = np.random.default_rng(1)
    for step in (10, 20):
        write_embedding(str(logs / "run"), rng.normal(size=(N, 4)).astype(np.float32), name="emb", step=step)
    config_path = logs / "run" / "projector_config.pbtxt"
    real_discover = catalog_module.logs.discover
    calls: List[str] = []

    def discover_while_a_writer_deletes_step_10(logdir):
        runs = real_discover(logdir)
        if not calls:  # the deletion lands after discovery read the config, before it returned
            config = text_format.Parse(config_path.read_text(), ProjectorConfig())
            kept = [e for e in config.embeddings if e.tensor_name != "emb:00010"]
            del config.embeddings[:]
            config.embeddings.extend(kept)
            temporary = str(config_path) + ".tmp"
            with open(temporary, "w") as handle:
                handle.write(text_format.MessageToString(config))
            os.replace(temporary, config_path)
            for name in os.listdir(logs / "run" / "emb" / "00010"):
                os.remove(logs / "run" / "emb" / "00010" / name)
            os.rmdir(logs / "run" / "emb" / "00010")
        calls.append(logdir)
        return runs

    monkeypatch.setattr(catalog_module.logs, "discover", discover_while_a_writer_deletes_step_10)
    client = make_client(logs)
    listed = json.loads(answer(client, "/runs").get_data())
    assert listed["runs"][0]["embeddings"][0]["steps"] == [10, 20]  # listed before the deletion was seen
    response = answer(client, "/neighbors", run="run", embedding="emb", step="10", index="0")
    error = response.get_json()["error"]
    assert response.status_code == 404, error
    assert "has no step 10 any more: it was deleted from the logdir since it was listed" in error
    assert answer(client, "/neighbors", run="run", embedding="emb", step="20", index="0").status_code == 200


# -- item 14: no absolute server path, no symlink target ---------------------------------------
def test_messages_name_files_relative_to_the_logdir_and_never_a_symlink_target(logdir):
    config_path = logdir / "b" / "projector_config.pbtxt"
    config = text_format.Parse(config_path.read_text(), ProjectorConfig())
    home = config.embeddings.add(tensor_name="home", tensor_path="emb/latest/tensors.bytes", tensor_shape=[N, 4])
    home.metadata_path = "~/.bashrc"
    config.embeddings.add(tensor_name="gone", tensor_path="emb/latest/missing.bytes", tensor_shape=[N, 4])
    os.symlink(logdir.parent / "outside" / "secret.tsv", logdir / "b" / "link.tsv")
    config.embeddings.add(tensor_name="linked", tensor_path="link.tsv")
    config_path.write_text(text_format.MessageToString(config))
    client = make_client(logdir)
    body = answer(client, "/runs").get_data().decode()
    gone = answer(client, "/neighbors", run="b", embedding="gone", index="0")
    texts = [body, gone.get_data().decode()]
    for text in texts:
        for absolute in (str(logdir.parent), os.path.realpath(logdir.parent), os.path.expanduser("~") + "/"):
            assert absolute not in text
    listed = json.loads(body)
    errors = {p["error"].split(":")[0]: p["error"] for p in listed["problems"]}
    # A refused metadata path costs only the labels: a warning of the embedding (issue 15).
    home = {e["name"]: e for e in {r["run"]: r for r in listed["runs"]}["b"]["embeddings"]}["home"]
    (warning,) = home["warnings"]
    assert "'~/.bashrc'" in warning and "b/projector_config.pbtxt" in warning
    assert "embedding 'linked'" in errors and "outside" in errors["embedding 'linked'"]
    assert gone.status_code == 422 and "tensor file b/emb/latest/missing.bytes does not exist" in gone.get_json()["error"]


def test_discovery_problems_name_the_config_relative_to_the_logdir(logdir):
    (logdir / "b" / "projector_config.pbtxt").write_text("embeddings { tensor_name: \n")
    runs = {info.run: info for info in discover(str(logdir))}
    (problem,) = runs["b"].problems
    assert problem.config_path == "b/projector_config.pbtxt"
    assert problem.message.startswith("b/projector_config.pbtxt line ")
    assert EmbeddingStore().load(runs["a"].series[0].refs[0]).shape == (N, 4)


# -- item 3 for TF checkpoints: TF opens them by name, checked before and after its read ------
@pytest.mark.parametrize("parts", [(".index",), (".data-00000-of-00001",), (".index", ".data-00000-of-00001")],
                         ids=["index", "data-shard", "both"])
def test_a_checkpoint_file_swapped_for_an_outside_symlink_is_refused(tmp_path, parts):
    # One file alone fails TF's checksums anyway; both together would be served as vectors.
    pytest.importorskip("tensorflow")
    from logs_fixtures import write_tf1_saver_run

    inside = np.arange(40, dtype=np.float32).reshape(10, 4)
    write_tf1_saver_run(str(tmp_path / "logs" / "run"), {100: inside})
    write_tf1_saver_run(str(tmp_path / "outside"), {100: np.full((10, 4), 7.0, np.float32)})  # same layout
    (info,) = discover(str(tmp_path / "logs"))
    ref = {s.name: s for s in info.series}["FINAL_LOGITS"].refs[-1]
    store = EmbeddingStore()
    assert np.array_equal(store.load(ref).vectors, inside)
    for part in parts:
        swap_for_symlink(tmp_path / "logs" / "run" / ("model.ckpt-100" + part),
                         tmp_path / "outside" / ("model.ckpt-100" + part))
    with pytest.raises(UnsafePathError, match="refusing to read it") as refused:
        store.load(ref)
    assert "run/model.ckpt-100" in str(refused.value) and str(tmp_path) not in str(refused.value)
