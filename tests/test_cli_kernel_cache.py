"""The CLI keeps the exact search's compiled kernel across runs (issue 25, item 2): without
--cache-dir, numba's cache lives in the tab's default cache directory, so a second
`analyze --quick` loads topk_fold's kernel instead of compiling it; `--cache-dir none` writes
nothing. Each run is a fresh process (a user's shell), XDG_CACHE_HOME in a temporary folder
and the suite's own NUMBA_CACHE_DIR taken out of the environment, as a user has none.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tb_embedanalysis import write_embedding
from tb_embedanalysis.analysis import estimate_sample, numba_cache

pytestmark = pytest.mark.slow  # fresh processes, the first compiles the kernel: ~15 s

CHILD = textwrap.dedent("""
    import json, sys, threading
    from tb_embedanalysis import cli
    status = cli.main(sys.argv[1:])
    for thread in threading.enumerate():  # the warm-up, if it is still loading numba
        if thread.name == "embedanalysis-kernel-warmup":
            thread.join()
    from tb_embedanalysis.analysis import topk_fold
    stats = topk_fold._kernel.stats
    print(json.dumps({"status": status, "compiled": topk_fold.compiled(),
                      "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}),
          file=sys.stderr)
""")


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """QUICK_MIN_ROWS × 8 rows in 5 labels: the smallest embedding --quick estimates, whose
    sample is searched against all rows by the kernel's sweep."""
    root = tmp_path_factory.mktemp("cli_kernel")
    rng = np.random.default_rng(0)
    n = estimate_sample.QUICK_MIN_ROWS
    labels = rng.integers(0, 5, n)
    x = (rng.normal(size=(5, 8))[labels] + rng.normal(size=(n, 8))).astype(np.float32)
    write_embedding(str(root / "run"), x, name="features", metadata=["c%d" % v for v in labels])
    return root


def run_quick(logdir, xdg, *extra):
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(xdg)
    done = subprocess.run([sys.executable, "-c", CHILD, "analyze", str(logdir), "--quick", "--metric", "euclidean",
                           "--sample", "500", "--format", "json", *extra], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["estimate"]["sample_size"] == 500
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_a_second_run_loads_the_kernel_the_first_compiled_into_the_default_cache_dir(logdir, tmp_path):
    folder = tmp_path / "tb-embedanalysis" / numba_cache.SUBDIR
    first = run_quick(logdir, tmp_path)
    assert first["compiled"] and first["misses"] == 1 and first["hits"] == 0, first
    assert any(path.name.startswith("topk_fold") for path in folder.rglob("*.nbi")), list(folder.rglob("*"))
    second = run_quick(logdir, tmp_path)
    assert second["compiled"] and second["hits"] == 1 and second["misses"] == 0, second
    # Nothing else of a disk cache appears without --cache-dir: only numba's folder.
    assert os.listdir(tmp_path / "tb-embedanalysis") == [numba_cache.SUBDIR]


def test_cache_dir_none_writes_nothing(logdir, tmp_path):
    result = run_quick(logdir, tmp_path, "--cache-dir", "none")
    assert result["compiled"] and result["misses"] == 1, result
    assert not (tmp_path / "tb-embedanalysis").exists()
    assert not (logdir.parent / "none").exists() and not os.path.exists("none")


def test_analyze_warms_the_kernel_even_where_its_graph_would_not_use_it_cold(tmp_path):
    """Below propose.SWEEP_COLD_MIN_ROWS a cold process's graph takes whole key rows, never
    the kernel; the CLI's warm-up compiles it anyway, in the background while the embedding
    loads, so the runs after it load the kernel from the cache before they need it."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    x = (rng.normal(size=(3, 4))[labels] * 3 + rng.normal(size=(300, 4))).astype(np.float32)
    write_embedding(str(tmp_path / "logs" / "small"), x, name="features", metadata=["c%d" % v for v in labels])
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    done = subprocess.run([sys.executable, "-c", CHILD, "analyze", str(tmp_path / "logs"), "--format", "json"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stderr.strip().splitlines()[-1])
    # Compiled here (a miss) or, where the warm-up's niced child compiled it into the cache
    # first (kernel_warmup.compile_in_child), loaded from there (a hit): ready either way.
    assert result["compiled"] and result["misses"] + result["hits"] == 1, result
    folder = tmp_path / "xdg" / "tb-embedanalysis" / numba_cache.SUBDIR
    assert any(path.name.startswith("topk_fold") for path in folder.rglob("*.nbi")), list(folder.rglob("*"))
