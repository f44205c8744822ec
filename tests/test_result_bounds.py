"""Results held in memory, on disk and in flight are bounded (issue: a request per k must not
grow the server without end). The memory-growth test runs the plugin in a capped child."""

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

from tb_embedanalysis.analysis import engine as engine_module
from tb_embedanalysis.analysis import neighbors
from tb_embedanalysis.cache import CacheKey, ResultCache, nbytes_of
from tb_embedanalysis.analysis.disk_cache import DiskCache
from tb_embedanalysis.analysis.engine import AnalysisEngine, Space
from tb_embedanalysis.analysis.jobs import QUEUED, Jobs
from tb_embedanalysis.analysis.reports import Pending

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clustered(n=3000, d=16, labels=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, labels, n)
    x = (rng.normal(size=(n, d)) + 4 * rng.normal(size=(labels, d))[y]).astype(np.float32)
    return x, [str(v) for v in y]


# -- memory ------------------------------------------------------------------------------
def test_result_cache_evicts_least_recently_used_by_bytes():
    cache = ResultCache(1000)
    keys = [CacheKey.of("x", "d", i=i) for i in range(5)]
    for key in keys[:3]:
        cache.put(key, np.zeros(300, dtype=np.uint8))
    cache.get(keys[0])  # used: kept over keys[1]
    cache.put(keys[3], np.zeros(300, dtype=np.uint8))
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None and cache.held_bytes == 900
    huge = np.zeros(2000, dtype=np.uint8)
    assert cache.put(keys[4], huge) is huge and cache.get(keys[4]) is None, "larger than the budget: not kept"
    assert cache.held_bytes <= 1000


def test_hold_newest_keeps_one_entry_larger_than_the_budget_until_the_next_put():
    """The store's bound (an embedding larger than --embedanalysis_max_memory_mb is served
    from memory until another load evicts it), on the package's one LRU."""
    cache = ResultCache(1000, hold_newest=True)
    small, huge, other = (CacheKey.of("x", "d", i=i) for i in range(3))
    cache.put(small, np.zeros(300, dtype=np.uint8))
    cache.put(huge, np.zeros(2000, dtype=np.uint8))
    assert cache.get(small) is None and cache.get(huge) is not None and cache.held_bytes == 2000
    cache.put(other, np.zeros(300, dtype=np.uint8))
    assert cache.get(huge) is None and cache.get(other) is not None and cache.held_bytes == 300


def test_prepared_matrix_does_not_count_the_vectors_it_borrows():
    x, _ = clustered()
    prep = neighbors.prepare(x, "cosine")
    assert nbytes_of(prep) < x.nbytes / 4


def test_forty_values_of_k_build_three_graphs_and_stay_in_budget(monkeypatch):
    x, labels = clustered()
    budget = 8 * 1024 * 1024
    eng = AnalysisEngine(memory_budget_bytes=budget)
    built, original = [], neighbors.knn_graph

    def counting(prep, k, on_progress=None):
        built.append(k)
        return original(prep, k, on_progress=on_progress)

    monkeypatch.setattr(engine_module.neighbors, "knn_graph", counting)
    space = Space(x, "fp", np.ones(len(x), dtype=bool), "cosine")
    encoded = eng.labels(space, labels)
    for k in range(1, 41):
        eng.hard_examples(space, encoded, k=k)
        assert eng.memory.held_bytes <= budget
    assert sorted(set(built)) == [10, 20, 50], built
    prep = neighbors.prepare(x, "cosine")
    for k in (1, 7, 10, 33):  # a slice of the bucket's graph is the graph for k
        sliced = eng.knn_graph(space, k=k)
        assert not isinstance(sliced, Pending)  # wait=True by default
        direct = original(prep, k)
        np.testing.assert_array_equal(sliced.indices, direct.indices)
        np.testing.assert_allclose(sliced.distances, direct.distances, rtol=0, atol=1e-12)


CHILD = textwrap.dedent("""
    import json, os, resource, sys, time
    import numpy as np
    resource.setrlimit(resource.RLIMIT_AS, (6 * 1024 ** 3, 6 * 1024 ** 3))
    from werkzeug.test import Client
    from tensorboard.backend.application import TensorBoardWSGI
    from tensorboard.plugins import base_plugin
    from tb_embedanalysis import write_embedding
    from tb_embedanalysis.plugin.plugin import EmbedAnalysisPlugin

    logdir, cache = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 20000)
    x = (rng.normal(size=(20000, 32)) + 3 * rng.normal(size=(10, 32))[y]).astype(np.float32)
    write_embedding(logdir, x, name="emb", metadata={"Label": y})

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    plugin = EmbedAnalysisPlugin(base_plugin.TBContext(logdir=logdir), cache_dir=cache, result_cache_mb=64)
    client = Client(TensorBoardWSGI([plugin]))
    def get(path, **args):
        for _ in range(600):
            response = client.get("/data/plugin/embedanalysis" + path, query_string=args)
            if response.status_code != 202:
                return response.status_code
            time.sleep(0.1)
    assert get("/runs") == 200 and get("/hard_examples", run=".", embedding="emb", k=1) == 200
    base = rss_mb()
    peak = base
    for k in range(2, 41):
        assert get("/hard_examples", run=".", embedding="emb", k=k) == 200
        peak = max(peak, rss_mb())
    print(json.dumps({"base": base, "peak": peak, "held": plugin._workspace.engine.memory.held_bytes}))
""")


@pytest.mark.slow
def test_forty_values_of_k_keep_the_server_within_its_budget(tmp_path):
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "logs"), str(tmp_path / "cache")],
                           capture_output=True, text=True, timeout=300, cwd=REPO)
    assert child.returncode == 0, child.stderr[-3000:]
    figures = __import__("json").loads(child.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["held"] <= 64 * 1024 * 1024
    # 64 MB of results plus the working memory of one graph/context build (20,000 × 50).
    assert figures["peak"] - figures["base"] < 200, figures


# -- disk --------------------------------------------------------------------------------
def test_disk_cache_is_capped_and_evicts_least_recently_used(tmp_path):
    cache = DiskCache(str(tmp_path), max_bytes=3 * 8000 + 3 * 400)
    for i in range(3):
        assert cache.put({"i": i}, {"a": np.full(1000, i, dtype=np.float64)})
        time.sleep(0.01)
    assert cache.get({"i": 0}) is not None  # used: now the most recent
    time.sleep(0.01)
    assert cache.put({"i": 3}, {"a": np.zeros(1000)})
    assert cache.get({"i": 1}) is None and cache.get({"i": 0}) is not None
    assert cache.size_bytes() <= cache.max_bytes


def test_forged_or_moved_or_unexpected_entries_are_misses(tmp_path):
    cache = DiskCache(str(tmp_path))
    assert oct(os.stat(tmp_path / "secret.key").st_mode & 0o777) == "0o600"
    cache.put({"k": 1}, {"indices": np.arange(10, dtype=np.int64).reshape(5, 2)})
    good = Path(cache.path({"k": 1})).read_bytes()
    # Another key's name: the HMAC covers the key, so a moved entry is not served.
    Path(cache.path({"k": 2})).write_bytes(good)
    assert cache.get({"k": 2}) is None
    # A forged entry (right format, made with another secret).
    other = DiskCache(str(tmp_path / "elsewhere"))
    other.put({"k": 3}, {"indices": np.zeros((5, 2), dtype=np.int64)})
    Path(cache.path({"k": 3})).write_bytes(Path(other.path({"k": 3})).read_bytes())
    assert cache.get({"k": 3}) is None
    # Authentic, but not what the request expects (shape, index range).
    expect = {"indices": lambda a: a.shape == (5, 2) and bool((a < 5).all())}
    assert cache.get({"k": 1}, expect=expect) is None
    cache.put({"k": 4}, {"indices": np.zeros((5, 2), dtype=np.int64)})
    assert cache.get({"k": 4}, expect=expect) is not None


def test_reading_an_entry_allocates_its_arrays_only(tmp_path):
    # Before: the file read into a buffer of the cache's whole limit (1 GB here, 4 GB by
    # default), its body sliced (a copy), each array copied out: a 1.2 GB kNN graph entry
    # took 3.6 GB to read. Now each array is read into its own buffer.
    import tracemalloc

    cache = DiskCache(str(tmp_path), max_bytes=2 ** 30)
    arrays: Dict[str, np.ndarray] = {"indices": np.arange(4_000_000, dtype=np.int32).reshape(-1, 40),
              "distances": np.linspace(0, 1, 4_000_000).reshape(-1, 40)}
    assert cache.put({"graph": 1}, arrays)
    size = sum(a.nbytes for a in arrays.values())  # 48 MB
    tracemalloc.start()
    try:
        read = cache.get({"graph": 1})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read is not None and all(np.array_equal(read[name], arrays[name]) for name in arrays)
    assert all(read[name].flags.writeable and read[name].flags.aligned for name in arrays)
    assert peak < size + 2 ** 20, (peak, size)
    # A truncated or padded file is a miss (and dropped), never a short array.
    path = Path(cache.path({"graph": 1}))
    whole = path.read_bytes()
    for damaged in (whole[:-8], whole + b"\0" * 8):
        path.write_bytes(damaged)
        assert cache.get({"graph": 1}) is None and not path.exists()


def test_oversized_fifo_and_symlink_entries_are_misses_without_hanging(tmp_path):
    cache = DiskCache(str(tmp_path), max_bytes=10_000)
    os.mkfifo(cache.path({"fifo": 1}))
    outside = tmp_path.parent / "outside.entry"
    outside.write_bytes(b"x" * 100)
    os.symlink(outside, cache.path({"link": 1}))
    with open(cache.path({"big": 1}), "wb") as f:
        f.truncate(10 ** 9)  # sparse: 1 GB claimed, never read
    started = time.monotonic()
    assert cache.get({"fifo": 1}) is None and cache.get({"link": 1}) is None and cache.get({"big": 1}) is None
    assert time.monotonic() - started < 5
    assert outside.exists(), "a symlinked entry is dropped, not followed"


WRITER = textwrap.dedent("""
    import resource, signal, sys
    import numpy as np
    from tb_embedanalysis.analysis.disk_cache import DiskCache
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk: writes fail with EFBIG
    cache = DiskCache(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
    print(cache.put({"big": 1}, {"a": np.zeros(500_000)}), cache.put({"small": 1}, {"a": np.arange(10.0)}),
          cache.get({"small": 1}) is not None)
""")


def test_a_failed_write_loses_only_that_entry(tmp_path):
    child = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path)], capture_output=True, text=True,
                           timeout=60, cwd=REPO)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["False", "True", "True"]
    assert "cannot write cache dir" in child.stderr
    assert not list(tmp_path.glob(".tmp-*"))


# -- jobs --------------------------------------------------------------------------------
def test_jobs_run_a_bounded_number_at_once_and_the_rest_say_queued():
    jobs = Jobs(workers=2, sync_seconds=0.0)
    gate, running, peak, lock = threading.Event(), [0], [0], threading.Lock()

    def work(job):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(10)
        with lock:
            running[0] -= 1
        return job.key

    answers = [jobs.run(("job", i), work, message="work") for i in range(6)]
    assert all(isinstance(a, Pending) for a in answers)
    time.sleep(0.2)
    running_jobs = [jobs.running(("job", i)) for i in range(6)]
    assert sum(job is not None and job.message == QUEUED for job in running_jobs) == 4
    gate.set()
    assert [jobs.run(("job", i), work, wait=True) for i in range(6)] == [("job", i) for i in range(6)]
    assert peak[0] == 2


def test_a_job_waiting_for_a_sub_result_lets_a_queued_job_compute():
    """Two jobs waiting for one slow graph must not hold both permits: a cheap job runs."""
    jobs = Jobs(workers=2, sync_seconds=0.0)
    gate = threading.Event()

    def graph(job):
        gate.wait(10)
        return "graph"

    jobs.run("clusters", lambda job: jobs.compute("graph", graph))
    jobs.run("hard", lambda job: jobs.compute("graph", graph))
    time.sleep(0.2)
    deadline, answer = time.monotonic() + 3, None
    while time.monotonic() < deadline and answer != "map":
        answer = jobs.run("pca", lambda job: "map")
        time.sleep(0.05)
    assert answer == "map", "the cheap job is still queued behind two jobs that only wait"
    gate.set()
    assert jobs.run("hard", lambda job: None, wait=True) == "graph"


def test_jobs_sharing_a_sub_result_with_a_full_pool_do_not_deadlock():
    jobs = Jobs(workers=2, sync_seconds=0.0)
    inside, overlapped = [0], []

    def child(job):
        inside[0] += 1
        overlapped.append(inside[0] > 1)
        time.sleep(0.2)
        inside[0] -= 1
        return 41

    def parent(job):
        return jobs.compute("child", child) + 1

    jobs.run("queued child", lambda job: jobs.compute("child", child))  # may sit in the queue
    results = [jobs.run(("parent", i), parent) for i in range(3)]
    assert all(isinstance(r, Pending) for r in results)
    done = [jobs.run(("parent", i), parent, wait=True) for i in range(3)]
    assert done == [42, 42, 42]
    assert overlapped and not any(overlapped), "single-flight: never two computations of one key at once"


def test_compare_of_many_steps_runs_within_the_worker_bound(tmp_path):
    from tb_embedanalysis.analysis.jobs import Jobs as JobsType

    eng = AnalysisEngine(workers=2, sync_seconds=0.0)
    assert isinstance(eng.jobs, JobsType)
    threads_before = threading.active_count()
    x, labels = clustered(n=2000)
    spaces = [Space(x + i, "fp%d" % i, np.ones(len(x), dtype=bool), "cosine") for i in range(8)]
    for s in spaces:
        eng.clusters(s, eng.labels(s, labels), k=5, wait=False)
    # The pool's thread bound (4 × workers, ≥ 8), plus the row-chunk threads of the kNN graphs
    # the computing jobs (at most `workers` at once) are building.
    from tb_embedanalysis.analysis.neighbors import GRAPH_THREADS
    assert threading.active_count() - threads_before <= 8 + 2 * GRAPH_THREADS
    for s in spaces:
        eng.clusters(s, eng.labels(s, labels), k=5, wait=True)


def test_a_forged_header_cannot_make_a_read_allocate_more_than_the_file(tmp_path):
    # The arrays' sizes must add up to the file's, counted without int64 wrap-around, before
    # anything is allocated; only then is the HMAC checked (over what was read).
    import json as json_module
    import struct

    from tb_embedanalysis.analysis.disk_cache import MAGIC

    cache = DiskCache(str(tmp_path))
    cache.put({"k": 1}, {"a": np.zeros(4)})
    path = Path(cache.path({"k": 1}))
    # 2**62 × 2**62 × 2 elements wrap to 0 in int64: a file with no array bytes at all.
    for shape, tail in (([2 ** 62, 2 ** 62, 2], b""), ([4, 2 ** 40], b"\0" * 32)):
        header = json_module.dumps([["a", "<f8", shape]]).encode()
        path.write_bytes(MAGIC + b"\0" * 32 + struct.pack("<I", len(header)) + header + tail)
        assert cache.get({"k": 1}) is None
