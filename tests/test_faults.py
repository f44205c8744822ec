"""Faults: files truncated or replaced under us, unreadable files, a vanished logdir, a
broken or unwritable cache dir, a process killed while writing the cache.

Each time: a clear 4xx message naming the file, every other embedding keeps answering, and
nothing wrong is ever served (a damaged cache entry is recomputed; a half-written one is
never read). Permission denial is real: tests run as root, for whom chmod denies nothing,
so that test drops to uid `nobody` in a subprocess after start-up.
"""

import json
import logging
import os
import pathlib
import queue
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import List

import numpy as np
import pytest

from tb_embedanalysis import write_embedding
from tb_embedanalysis.analysis.disk_cache import DiskCache
from tb_embedanalysis.logs import embedding_reader
from tb_embedanalysis.logs import EmbeddingStore, discover
from wsgi_client import get, make_client

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 120


def clustered(seed, n=N, d=6):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(loc=3 * c, size=(n // 3, d)) for c in range(3)]).astype(np.float32)


def write_run(logdir, run, seed, *, images=True):
    vectors = clustered(seed)
    labels = [str(i // (N // 3)) for i in range(N)]
    thumbnails = np.random.default_rng(seed).random((N, 4, 4)).astype(np.float32) if images else None
    return vectors, write_embedding(os.path.join(str(logdir), run), vectors, name="emb",
                                    metadata={"Index": [str(i) for i in range(N)], "Label": labels},
                                    images=thumbnails)


def neighbours(client, run, index=0):
    status, body = get(client, "/neighbors", run=run, embedding="emb", index=str(index), k="5", metric="cosine")
    assert status == 200, body
    return [n["index"] for n in body["neighbors"]], [n["distance"] for n in body["neighbors"]]


# -- files changing under us --------------------------------------------------------------
def test_tensor_truncated_in_place_gives_a_clear_error_then_recovers(tmp_path):
    vectors, written = write_run(tmp_path, "a", 1)
    write_run(tmp_path, "b", 2)
    client = make_client(tmp_path)
    before = neighbours(client, "a")
    with open(written.tensor_path, "rb") as handle:
        data = handle.read()
    with open(written.tensor_path, "r+b") as handle:  # what `array.tofile(path)` does first
        handle.truncate(len(data) // 2)
    status, body = get(client, "/neighbors", run="a", embedding="emb", index="0")
    assert status == 422 and "truncated" in body["error"]
    assert os.path.relpath(written.tensor_path, tmp_path) in body["error"] and str(tmp_path) not in body["error"]
    neighbours(client, "b")  # the other run keeps working
    status, runs = get(client, "/runs")
    listed = {r["run"]: r["embeddings"][0] for r in runs["runs"]}
    assert "truncated" in listed["a"]["error"] and listed["b"]["error"] is None
    with open(written.tensor_path, "wb") as handle:  # the writer finishes: same data again
        handle.write(data)
    assert neighbours(client, "a") == before


def test_in_place_truncation_of_loaded_vectors_does_not_kill_the_server(tmp_path):
    # Regression: .bytes tensors were np.memmap'ed; truncating the file in place while a
    # request still read the loaded vectors killed the whole process with SIGBUS.
    _, written = write_run(tmp_path, "a", 1, images=False)
    script = textwrap.dedent("""
        import sys
        from tb_embedanalysis.logs import EmbeddingStore, discover
        embedding = EmbeddingStore().load(discover(sys.argv[1])[0].series[0].refs[-1])
        with open(sys.argv[2], "r+b") as handle:
            handle.truncate(100)
        print(float(embedding.vectors.astype("float64").sum()))  # a request still computing
    """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path), written.tensor_path],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, "exit %s (-7 = SIGBUS): %s" % (done.returncode, done.stderr[-2000:])
    assert float(done.stdout) == pytest.approx(float(clustered(1).astype(np.float64).sum()))


def test_files_replaced_while_being_read_never_mix_two_writes(tmp_path, monkeypatch):
    # The writer replaces tensors.bytes and metadata.tsv right after the load has read the
    # vectors (the metadata is parsed meanwhile, in the other thread: it may be the old file
    # or the new one). The load must notice and read again, never serve old vectors with new
    # labels.
    old_vectors = clustered(1)
    write_embedding(str(tmp_path / "a"), old_vectors, name="emb", metadata=["old-%d" % (i % 3) for i in range(N)])
    new_vectors = clustered(2)
    real_vectors = embedding_reader._vectors
    calls: List[object] = []

    def vectors_then_a_rewrite(ref):
        read = real_vectors(ref)
        if not calls:  # the vectors were read: the writer rewrites everything now
            write_embedding(str(tmp_path / "a"), new_vectors, name="emb",
                            metadata=["new-%d" % (i % 3) for i in range(N)])
        calls.append(ref)
        return read

    monkeypatch.setattr(embedding_reader, "_vectors", vectors_then_a_rewrite)
    embedding = EmbeddingStore().load(discover(str(tmp_path))[0].series[0].refs[-1])
    assert len(calls) == 2  # read again
    np.testing.assert_array_equal(embedding.vectors, new_vectors)
    assert embedding.metadata is not None
    assert set(embedding.metadata.values["label"]) == {"new-0", "new-1", "new-2"}


def test_a_directory_in_place_of_a_file_is_an_error_naming_it(tmp_path):
    _, written = write_run(tmp_path, "a", 1)
    write_run(tmp_path, "b", 2)
    os.remove(written.metadata_path)
    os.mkdir(written.metadata_path)
    client = make_client(tmp_path)
    # It costs the labels only (issue 15): /clusters has none to use, /runs says why.
    status, body = get(client, "/clusters", run="a", embedding="emb")
    assert status == 422 and "no labels to analyse: metadata file refused" in body["error"]
    assert "a/emb" in body["error"], "the refused file is named"
    status, listed = get(client, "/runs")
    (warning,) = {r["run"]: r for r in listed["runs"]}["a"]["embeddings"][0]["warnings"]
    assert "directory" in warning.lower() and str(tmp_path) not in warning
    assert "metadata file %s " % os.path.relpath(written.metadata_path, tmp_path) in warning
    neighbours(client, "a")
    neighbours(client, "b")


DROP_PRIVILEGES = textwrap.dedent("""
    import argparse, json, os, sys, time
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test
    from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

    prefix = "/data/plugin/embedanalysis"

    def client_for(logdir):
        flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=64.0)
        plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=logdir, flags=flags))
        return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))

    def get(route, **query):
        for _ in range(600):
            response = client.get(prefix + route, query_string=query)
            if response.status_code != 202:
                break
            time.sleep(0.05)
        body = response.get_data()
        return [response.status_code, json.loads(body) if response.mimetype == "application/json" else len(body)]

    # Everything that reads the repository or its venv happens as root, wherever the clone
    # lives (nobody may not enter it): the imports, warmed up on a copy of the readable run,
    # and the plugin under test, which reads the frontend when built but the logdir only on
    # the first request. Then become nobody: the kernel refuses the 0600 root files for real.
    client = client_for(sys.argv[2])
    get("/neighbors", run="ok", embedding="emb", index="0")
    get("/thumbnail", run="ok", embedding="emb", index="0")
    get("/clusters", run="ok", embedding="emb")
    client = client_for(sys.argv[1])
    os.setgid(65534)
    os.setuid(65534)
    out = {"runs": get("/runs"),
           "tensor": get("/neighbors", run="tensor", embedding="emb", index="0"),
           "metadata": get("/clusters", run="metadata", embedding="emb"),
           "sprite": get("/thumbnail", run="sprite", embedding="emb", index="0"),
           "sprite_neighbors": get("/neighbors", run="sprite", embedding="emb", index="0"),
           "ok": get("/neighbors", run="ok", embedding="emb", index="0")}
    print(json.dumps(out))
""")


def test_permission_denied_files_are_reported_per_embedding(tmp_path):
    root = tempfile.mkdtemp(prefix="tbea-perm-")  # pytest's tmp_path is 0700: nobody can't enter it
    try:
        os.chmod(root, 0o755)
        locked = {}
        for run, seed in (("ok", 1), ("tensor", 2), ("metadata", 3), ("sprite", 4), ("config", 5)):
            _, written = write_run(root, run, seed)
            locked[run] = {"tensor": written.tensor_path, "metadata": written.metadata_path,
                           "sprite": written.sprite_path, "config": written.config_path}.get(run)
        shutil.copytree(os.path.join(root, "ok"), os.path.join(root + "-warm", "ok"))
        for directory, _, files in os.walk(root):
            os.chmod(directory, 0o755)
            for name in files:
                os.chmod(os.path.join(directory, name), 0o644)
        for path in filter(None, locked.values()):
            os.chmod(path, 0o600)
        done = subprocess.run([sys.executable, "-c", DROP_PRIVILEGES, root, root + "-warm"], capture_output=True, text=True,
                              timeout=120, cwd=REPO)
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(root + "-warm", ignore_errors=True)
    status, runs = out["runs"]
    assert status == 200
    listed = {r["run"]: r["embeddings"][0] for r in runs["runs"] if r["embeddings"]}
    assert "Permission denied" in listed["tensor"]["error"] and "tensor/emb/latest/tensors.bytes" in listed["tensor"]["error"]
    assert root not in json.dumps(runs)  # files are named relative to the logdir
    # An unreadable metadata file costs the labels only, with a warning (issue 15).
    assert listed["metadata"]["error"] is None and listed["metadata"]["columns"] == []
    assert any("Permission denied" in w for w in listed["metadata"]["warnings"])
    assert listed["ok"]["error"] is None
    # A sprite that can't be read costs the thumbnails only, with a warning.
    assert listed["sprite"]["error"] is None and not listed["sprite"]["has_sprite"]
    assert any("Permission denied" in w for w in listed["sprite"]["warnings"])
    problem = [p for p in runs["problems"] if p["run"] == "config"]
    assert problem and "Permission denied" in problem[0]["error"] and "config/projector_config.pbtxt" in problem[0]["error"]
    assert problem[0]["config"] == "config/projector_config.pbtxt" and str(locked["config"]).startswith(root)
    assert out["tensor"][0] == 422 and "Permission denied" in out["tensor"][1]["error"]
    assert out["metadata"][0] == 422 and "metadata file refused" in out["metadata"][1]["error"]
    assert "Permission denied" in out["metadata"][1]["error"]
    assert out["sprite"][0] == 404 and "sprite" in out["sprite"][1]["error"]
    assert out["sprite_neighbors"][0] == 200 and out["ok"][0] == 200


def test_logdir_deleted_and_recreated(tmp_path):
    logdir = tmp_path / "logs"
    write_run(logdir, "a", 1)
    client = make_client(logdir)
    before = neighbours(client, "a")
    shutil.rmtree(logdir)
    time.sleep(0.3)  # the catalog looks at the logdir at most every 0.2 s
    status, runs = get(client, "/runs")
    assert status == 200 and runs == {"runs": [], "problems": []}
    status, body = get(client, "/neighbors", run="a", embedding="emb", index="0")
    assert status == 404 and "unknown run 'a'" in body["error"]
    vectors, _ = write_run(logdir, "a", 7)  # new content under the same names
    after = neighbours(client, "a")
    assert after != before
    expected = [int(i) for i in np.argsort(_cosine(vectors, 0), kind="stable") if i != 0][:5]
    assert after[0] == expected


def _cosine(vectors, row):
    v = vectors.astype(np.float64)
    return 1 - v @ v[row] / (np.linalg.norm(v, axis=1) * np.linalg.norm(v[row]))


# -- the disk cache -------------------------------------------------------------------------
def test_damaged_cache_entries_are_recomputed_never_served(tmp_path, caplog):
    write_run(tmp_path / "logs", "a", 1)
    cache = tmp_path / "cache"
    client = make_client(tmp_path / "logs", cache)
    status, clusters = get(client, "/clusters", run="a", embedding="emb")
    assert status == 200
    status, projection = get(client, "/projection", run="a", embedding="emb", format="json")
    assert status == 200
    entries = sorted(cache.glob("*.entry"))
    assert len(entries) == 3  # the kNN graph, the statistics (result_entries.py) and the PCA map
    for number, path in enumerate(entries):
        blob = bytearray(path.read_bytes())
        if number % 2 == 0:
            blob[-200] ^= 0xFF  # a flipped bit in the arrays: still the right size and header
        else:
            del blob[len(blob) // 2:]  # truncated
        path.write_bytes(bytes(blob))
    caplog.set_level(logging.WARNING)
    fresh = make_client(tmp_path / "logs", cache)  # cold memory: must go to the disk cache
    assert get(fresh, "/clusters", run="a", embedding="emb") == (200, clusters)
    assert get(fresh, "/projection", run="a", embedding="emb", format="json") == (200, projection)
    assert sum("damaged cache entry" in r.getMessage() for r in caplog.records) == 3
    reader = DiskCache(str(cache))
    for path in entries:  # recomputed and written again, whole
        assert reader.decode(path.read_bytes(), path.name[:-len(".entry")]) is not None


@pytest.mark.parametrize("when", ["at start", "while running"])
def test_unwritable_cache_dir_falls_back_to_memory(tmp_path, caplog, when):
    write_run(tmp_path / "logs", "a", 1)
    cache = tmp_path / "cache"
    if when == "at start":
        cache.write_text("a file where the cache dir should be")
    caplog.set_level(logging.WARNING)
    client = make_client(tmp_path / "logs", cache)
    if when == "while running":
        shutil.rmtree(cache)
        cache.write_text("the directory was replaced by a file")
    status, body = get(client, "/clusters", run="a", embedding="emb")
    assert status == 200 and body["overall"]["n"] == N
    assert get(client, "/projection", run="a", embedding="emb", format="json")[0] == 200
    warnings = [r.getMessage() for r in caplog.records if "caching in memory only" in r.getMessage()]
    assert len(warnings) == 1 and str(cache) in warnings[0]


# Both sides of the cache run in fresh processes importing the package from disk: the
# writers (killed) and the reader. The reader once ran in the test process instead, with the
# package it imported when the suite started; a commit during a long run bumped the cache
# VERSION, so the writers' entries had other key digests, the reader found none, and the
# test failed ("no complete entry") with nothing wrong in the cache. Each child now prints
# the code it runs (MAGIC and a key's digest), and the test checks they all agree.
CACHE_CODE = """
import json, logging, os, sys, time
import numpy as np
from tb_embedanalysis.analysis import disk_cache

def arrays(i):
    return {"values": np.full(1_500_000, i, dtype=np.float64), "index": np.arange(1000) + i}

print(json.dumps(["code", disk_cache.MAGIC.decode("ascii"), disk_cache.key_digest({"kind": "test", "i": 0})]),
      flush=True)
"""

CACHE_WRITER = CACHE_CODE + textwrap.dedent("""
    cache = disk_cache.DiskCache(sys.argv[1])
    stop_at = int(sys.argv[2])
    for i in range(stop_at):
        assert cache.put({"kind": "test", "i": i}, arrays(i))
        print(json.dumps(["written", i]), flush=True)

    class HalfWritten:
        # The entry's temporary file: its first write goes through, the array data only
        # half-way; then the writer says so and waits to be killed (SIGKILL: no clean-up).
        def __init__(self, f):
            self.f, self.writes = f, 0
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.f.close()
        def write(self, data):
            self.writes += 1
            if self.writes == 1:
                return self.f.write(data)
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            print(json.dumps(["mid-write", stop_at]), flush=True)
            time.sleep(600)

    real_fdopen = os.fdopen
    os.fdopen = lambda fd, *args, **kwargs: HalfWritten(real_fdopen(fd, *args, **kwargs))
    cache.put({"kind": "test", "i": stop_at}, arrays(stop_at))
    print(json.dumps(["finished the entry it should have been killed in", stop_at]), flush=True)
""")

CACHE_READER = CACHE_CODE + textwrap.dedent("""
    warned = []

    class Recorder(logging.Handler):
        def emit(self, record):
            warned.append(record.getMessage())  # "damaged cache entry ...": a half-written file was read

    logging.getLogger("tb_embedanalysis").addHandler(Recorder())
    cache = disk_cache.DiskCache(sys.argv[1])
    found = {}
    for i in range(4):
        got = cache.get({"kind": "test", "i": i})
        if got is None:
            found[i] = "missing"
        else:
            expected = arrays(i)
            same = set(got) == set(expected) and all(np.array_equal(got[k], expected[k]) for k in expected)
            found[i] = "complete" if same else "wrong"
    print(json.dumps(["read", found, warned]), flush=True)
""")


CACHE_KEY_MAKER = CACHE_CODE + textwrap.dedent("""
    import secrets
    real_token_bytes = secrets.token_bytes

    def paused(n):  # the key being made: wait for the test's word (or its SIGKILL)
        print(json.dumps(["making the key"]), flush=True)
        sys.stdin.readline()
        return real_token_bytes(n)

    secrets.token_bytes = paused
    cache = disk_cache.DiskCache(sys.argv[1])
    print(json.dumps(["enabled", cache.enabled]), flush=True)
    print(json.dumps(["written", cache.put({"kind": "test", "i": 0}, arrays(0))]), flush=True)
""")


def cache_child(script, errors, *args, stdin=None):
    """A child running `script` (stderr into the file `errors`); (Popen, a queue of its JSON
    lines as they come, read by a thread so that a child that never says what the test
    waits for fails the test after a bounded time instead of hanging it)."""
    with open(errors, "w") as stderr:
        child = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdin=stdin,
                                 stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO)
    lines: "queue.Queue[list]" = queue.Queue()

    def read(stdout):
        with stdout:  # closed at the child's end (the test kills or waits for every child)
            for line in stdout:
                try:
                    lines.put(json.loads(line))
                except ValueError:
                    lines.put(["not JSON", line])
        lines.put(["exited"])

    threading.Thread(target=read, args=(child.stdout,), daemon=True).start()
    return child, lines


def next_line(child, lines, errors, seconds=120.0):
    """The child's next line; a child silent for `seconds` (a hang, not a slow machine: each
    line takes well under a second) is killed and fails the test with its stderr."""
    try:
        return lines.get(timeout=seconds)
    except queue.Empty:
        child.kill()
        child.wait()
        raise AssertionError("the cache child said nothing for %.0f s; stderr: %s" % (
            seconds, pathlib.Path(errors).read_text()[-2000:])) from None


@pytest.mark.parametrize("stop_at", [2, 1], ids=["new-entry", "entry-being-replaced"])
def test_process_killed_while_writing_the_cache_leaves_nothing_half_written(tmp_path, stop_at):
    """A writer finishes entries 0 and 1 and is SIGKILLed half-way through entry 2's arrays;
    with stop_at=1 a second writer then rewrites entry 0 and is killed half-way through
    replacing entry 1. A fresh reader gets every finished entry intact (the replaced one as
    it was), nothing for the half-written one, and never meets a damaged file."""
    cache = tmp_path / "cache"
    codes = []
    for stop in sorted({2, stop_at}, reverse=True):
        before = set(cache.glob(".tmp-*"))
        errors = tmp_path / ("writer-%d.err" % stop)
        writer, lines = cache_child(CACHE_WRITER, errors, cache, stop)
        codes.append(next_line(writer, lines, errors))
        said = [next_line(writer, lines, errors) for _ in range(stop + 1)]
        writer.kill()  # SIGKILL: no clean-up of any kind
        writer.wait()
        assert said == [["written", i] for i in range(stop)] + [["mid-write", stop]], (said, errors.read_text()[-2000:])
        left = set(cache.glob(".tmp-*")) - before
        whole = {p.stat().st_size for p in cache.glob("*.entry") if not p.name.startswith(".")}
        assert len(left) == 1 and len(whole) == 1, (left, whole)
        assert 0 < next(iter(left)).stat().st_size < min(whole), "the kill must land inside the write"
    errors = tmp_path / "reader.err"
    reader, lines = cache_child(CACHE_READER, errors, cache)
    codes.append(next_line(reader, lines, errors))
    kind, found, warned = next_line(reader, lines, errors)
    assert reader.wait(timeout=60) == 0, errors.read_text()[-2000:]
    assert all(code == codes[0] for code in codes), ("the package changed on disk while the test ran", codes)
    assert kind == "read" and warned == [], (kind, warned)
    assert found == {"0": "complete", "1": "complete", "2": "missing", "3": "missing"}, found


@pytest.mark.parametrize("maker_is", ["killed", "slow"])
def test_a_process_stopped_while_making_the_cache_key_never_turns_the_cache_off(tmp_path, caplog, maker_is):
    """The first process to use a cache dir makes its key. Another process opening the dir
    meanwhile, or any later one after the maker was killed, must get a working cache: before,
    they read a key file created but not yet filled, and ran without a disk cache (and the
    empty file stayed, so every later start did too)."""
    cache, errors = tmp_path / "cache", tmp_path / "maker.err"
    maker, lines = cache_child(CACHE_KEY_MAKER, errors, cache, stdin=subprocess.PIPE)
    assert maker.stdin is not None
    code = next_line(maker, lines, errors)
    assert next_line(maker, lines, errors) == ["making the key"]
    if maker_is == "killed":
        maker.kill()
        maker.wait()
        maker.stdin.close()
    caplog.set_level(logging.WARNING)
    other = DiskCache(str(cache))  # another process's first use of the same dir, meanwhile
    assert other.enabled and [r.getMessage() for r in caplog.records] == []
    if maker_is == "slow":
        maker.stdin.write("go on\n")
        maker.stdin.close()
        assert [next_line(maker, lines, errors) for _ in range(2)] == [["enabled", True], ["written", True]]
        assert maker.wait(timeout=60) == 0, errors.read_text()[-2000:]
        # The maker kept the key that was linked first (the other's): a fresh reader, with
        # the key on disk, gets the maker's entry.
        errors = tmp_path / "reader.err"
        reader, lines = cache_child(CACHE_READER, errors, cache)
        assert next_line(reader, lines, errors) == code
        assert next_line(reader, lines, errors)[1]["0"] == "complete"
        assert reader.wait(timeout=60) == 0, errors.read_text()[-2000:]
