"""`tb-embedanalysis precompute` (issue 28): the tab's first-open work on a real Dask cluster of
2 worker processes, bit for bit the in-process pass, into the cache a fresh workspace (what
TensorBoard opens) then answers from, saying where the results came from."""

import json
import logging
import os
import shutil
import signal

import numpy as np
import pytest

from tb_embedanalysis import cli, queries, write_embedding
from tb_embedanalysis.analysis import certified_graph, graph_tasks, neighbors
from tb_embedanalysis.analysis.disk_cache import SECRET_NAME, SUFFIX, DiskCache

distributed = pytest.importorskip("distributed")  # the [dask] extra, part of [test]

from tb_embedanalysis.precompute.dask_runner import DaskRunner  # noqa: E402


def clustered(n, d, *, centres, spread, seed=0):
    """Gaussian clusters around N(0, 1) centres: tight enough that the certified search proves
    most rows from a few cells (pilot well under certified_graph.PILOT_MAX_SEARCHED)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d)).astype(np.float32)
    labels = rng.integers(0, centres, n)
    return (c[labels] + spread * rng.standard_normal((n, d)).astype(np.float32)).astype(np.float32), labels


@pytest.fixture(scope="module")
def runner():
    """A local Dask cluster of 2 worker processes, one thread each (what CI has: 2 cores)."""
    with DaskRunner(workers=2) as dask:
        yield dask


def test_two_workers_build_the_in_process_graph_bit_for_bit_at_140k(runner):
    x, _ = clustered(140_000, 64, centres=200, spread=0.3)
    x[[5, 70_000]] = np.nan  # invalid rows stay out, as in the tab
    prep = neighbors.prepare(x, "euclidean", np.isfinite(x).all(axis=1))
    local = certified_graph.knn_graph_exact_fast(prep, 10)
    plan = graph_tasks.plan(prep, 10)
    # 140,000 rows: 9 tasks of TASK_ROWS (16,384), enough for both workers to take several
    assert plan.method == "certified" and len(plan.tasks) >= 8  # both workers get work
    seen = []
    before = runner.shipped.plan_bytes
    remote = runner.graph(plan, on_progress=lambda f, m: seen.append(f))
    assert remote.indices.dtype == local.indices.dtype == np.int32
    assert np.array_equal(remote.indices, local.indices)
    assert np.array_equal(remote.distances, local.distances, equal_nan=True)  # bit for bit, NaN rows too
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == len(plan.tasks)
    # the plan went to each worker once: the matrix (36 MB) twice, not once per task
    assert runner.shipped.plan_bytes - before == 2 * plan.nbytes
    assert 2 * x.nbytes <= 2 * plan.nbytes < 3 * x.nbytes


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Two steps of 3,000 labelled points written by the real writer."""
    root = tmp_path_factory.mktemp("precompute_logs")
    x, labels = clustered(3000, 16, centres=12, spread=0.35, seed=1)
    rng = np.random.default_rng(2)
    for step in (100, 200):
        write_embedding(root / "run", x + (0.05 * rng.standard_normal(x.shape)).astype(np.float32), name="emb",
                        metadata=[str(v) for v in labels], step=step)
    return str(root)


def entries(directory):
    """{file name: arrays} of every authentic entry of a cache directory (its own secret)."""
    cache = DiskCache(directory)
    out = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(SUFFIX):
            with open(os.path.join(directory, name), "rb") as f:
                out[name] = cache.decode(f.read(), name[:-len(SUFFIX)])
    return out


@pytest.fixture(scope="module")
def caches(logdir, runner, tmp_path_factory):
    """The same logdir precomputed by the CLI in-process and on the cluster (--address)."""
    local, remote = (str(tmp_path_factory.mktemp(name)) for name in ("local_cache", "dask_cache"))
    assert cli.main(["precompute", logdir, "--cache-dir", local]) == 0
    address = runner.client.scheduler.address
    assert cli.main(["precompute", logdir, "--cache-dir", remote, "--engine", "dask", "--address", address]) == 0
    return local, remote


def test_dask_and_in_process_passes_write_the_same_entries(caches, capsys):
    local, remote = (entries(d) for d in caches)
    assert set(local) == set(remote) and len(local) >= 2 * 3  # graphs, maps, records of both steps
    compared = 0
    for name, arrays in local.items():
        assert arrays is not None and remote[name] is not None, name  # each signed by its own cache
        if set(arrays) == {"record"}:  # provenance: says which engine, so it differs
            continue
        assert set(arrays) == set(remote[name])
        for key in arrays:
            if key == "doc":  # a result entry's document: the same but for the pass that wrote it
                local_doc, remote_doc = (json.loads(a[name][key].tobytes()) for a in (local, remote))
                assert local_doc.pop("origin") != remote_doc.pop("origin") and local_doc == remote_doc, name
                continue
            assert np.array_equal(arrays[key], remote[name][key], equal_nan=True), (name, key)
        compared += 1
    assert compared >= 4  # a graph and a map per step


def answer_of(logdir, cache_dir, step=200, run="run"):
    workspace = queries.Workspace.open(logdir, cache_dir=cache_dir)
    embedding = workspace.load(run, "emb", step)
    return workspace, queries.clusters(workspace.engine, embedding, wait=True)


def graph_files(directory):
    """(inode, size) of the graph entries (the big ones) of a cache directory."""
    out = {}
    for name, arrays in entries(directory).items():
        if arrays is not None and "indices" in arrays:
            info = os.stat(os.path.join(directory, name))
            out[name] = (info.st_ino, info.st_size)
    return out


def test_the_tab_answers_from_the_precomputed_graphs_and_says_so(caches, logdir):
    remote = caches[1]
    before = graph_files(remote)
    workspace, answer = answer_of(logdir, remote)
    provenance = answer["provenance"]
    assert provenance["engine"] == "dask" and provenance["workers"] == 2
    assert provenance["seconds"] > 0 and provenance["finished_at"].endswith("+00:00")
    # read, not rebuilt: a rebuilt graph is a new file (written and renamed into place)
    assert graph_files(remote) == before
    # and the very answer the in-process cache gives, which says "local"
    _, local_answer = answer_of(logdir, caches[0])
    assert local_answer["provenance"]["engine"] == "local"
    assert {k: v for k, v in answer.items() if k != "provenance"} == \
        {k: v for k, v in local_answer.items() if k != "provenance"}


def test_entries_signed_by_another_cache_are_ignored_with_a_warning(caches, logdir, tmp_path, caplog):
    foreign = tmp_path / "foreign"
    DiskCache(str(foreign))  # its own secret
    for name in os.listdir(caches[1]):
        if name.endswith(SUFFIX):
            shutil.copy(os.path.join(caches[1], name), foreign / name)
    with caplog.at_level(logging.WARNING):
        _, answer = answer_of(logdir, str(foreign))
    assert answer["provenance"] is None  # computed here, and not claimed otherwise
    assert "damaged cache entry" in caplog.text
    _, reference = answer_of(logdir, caches[0])
    assert answer["overall"] == reference["overall"]


def test_a_cache_url_gets_the_entries_signed_with_its_own_secret(logdir, tmp_path, capsys):
    fsspec = pytest.importorskip("fsspec")
    url = "memory://tb-embedanalysis-test/cache"
    assert cli.main(["precompute", logdir, "--cache-dir", url, "--steps", "200", "--k", "10"]) == 0
    assert "uploaded" in capsys.readouterr().out
    fs = fsspec.filesystem("memory")
    names = [os.path.basename(p) for p in fs.ls("/tb-embedanalysis-test/cache", detail=False)]
    assert SECRET_NAME in names and sum(n.endswith(SUFFIX) for n in names) >= 3
    synced = tmp_path / "synced"  # what a sync of the bucket to TensorBoard's cache dir gives
    synced.mkdir(mode=0o700)
    for name in names:
        fs.get_file("/tb-embedanalysis-test/cache/" + name, str(synced / name))
    os.chmod(synced / SECRET_NAME, 0o600)
    _, answer = answer_of(logdir, str(synced))
    assert answer["provenance"]["engine"] == "local"
    fs.rm("/tb-embedanalysis-test", recursive=True)


@pytest.mark.parametrize("argv, message", [
    (["--engine", "local", "--address", "tcp://127.0.0.1:1"], "--address is the Dask scheduler's"),
    (["--steps", "7"], "has no step 7; its steps: 100, 200"),
], ids=["address-without-dask", "unknown-step"])
def test_bad_input_exits_2_naming_it(logdir, tmp_path, capsys, argv, message):
    assert cli.main(["precompute", logdir, "--cache-dir", str(tmp_path / "c")] + argv) == 2
    assert message in capsys.readouterr().err


def test_the_writer_starts_one_background_precompute_at_a_time(tmp_path):
    from tb_embedanalysis.writer import precompute_launch

    logdir, cache = tmp_path / "live", str(tmp_path / "cache")
    x, labels = clustered(2000, 16, centres=8, spread=0.35, seed=3)
    metadata = [str(v) for v in labels]
    write_embedding(logdir, x, name="emb", metadata=metadata, step=1, precompute=cache)
    first = precompute_launch.running()
    assert first is not None  # started, in the background: write_embedding did not wait
    write_embedding(logdir, x * np.float32(1.5), name="emb", metadata=metadata, step=2, precompute=cache)
    assert precompute_launch.running() is first  # bounded: no second one while it runs
    assert first.wait(timeout=120) == 0, open(precompute_launch.log_path()).read()[-2000:]
    assert precompute_launch.running() is None
    step1, step2 = (answer_of(str(logdir), cache, step, run=".")[1] for step in (1, 2))
    assert step1["provenance"]["engine"] == "local"  # the tab opens warm on step 1
    assert step2["provenance"] is None  # written while step 1's ran: left to the tab
    write_embedding(logdir, x, name="emb", metadata=metadata, step=3)  # off by default
    assert precompute_launch.running() is None


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="kills a worker with SIGKILL (POSIX)")
def test_a_worker_lost_mid_graph_is_replaced_and_its_tasks_rerun_by_dask(runner):
    """Last in this module: it kills one of the shared cluster's workers (its nanny restarts it)."""
    x, _ = clustered(70_000, 32, centres=70, spread=0.3, seed=4)
    prep = neighbors.prepare(x, "euclidean")
    plan = graph_tasks.plan(prep, 10)
    assert len(plan.tasks) >= 4
    pids = runner.client.run(os.getpid)  # {worker address: its process}, on this machine
    killed: list = []

    def on_progress(fraction, message):
        if not killed:  # after the first task: the others are running or waiting
            victim = sorted(pids)[0]
            killed.append(victim)
            os.kill(pids[victim], signal.SIGKILL)  # a crash, not a shutdown

    remote = runner.graph(plan, on_progress=on_progress)
    local = certified_graph.knn_graph_exact_fast(prep, 10)
    assert np.array_equal(remote.indices, local.indices) and np.array_equal(remote.distances, local.distances)
    runner.client.wait_for_workers(2, timeout=60)
    assert killed and killed[0] not in set(runner.client.scheduler_info()["workers"])  # it did die
