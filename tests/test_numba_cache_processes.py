"""numba's on-disk cache shared by processes, as make test's two workers and TensorBoard's
children share the suite's: the segfault in pair_kernel._kernel that reverted issue 25.3's
kernel from main. Two causes, each a test that crashed before its fix:

* a process that loaded pair_kernel._kernel from the cache (compiled by an earlier one)
  crashed at its first call: the kernel called a recursive function, which numba's cache
  cannot hold (numba/numba#6061); pair_kernel._pairwise now walks numpy's tree with a stack;
* two processes that saved two signatures of the kernel at once both took data file 1: the
  index named one signature, the file held the other's code (numba_cache.enable_caching:
  numba's files now read and written under a lock).

Each process is a fresh interpreter (numba's compiled dispatchers live per process); the
suite's own NUMBA_CACHE_DIR is taken out of their environment so that the cache is this
test's own, empty one. tests/numba_race_child.py makes the two saves meet every run.
"""

import json
import os
import subprocess
import sys

import pytest

from tb_embedanalysis.analysis import numba_cache

pytestmark = pytest.mark.slow  # fresh processes, each compiles or loads the kernel: ~20 s

CHILD = os.path.join(os.path.dirname(__file__), "numba_race_child.py")


def start(role, cache_dir, sync):
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR"}
    return subprocess.Popen([sys.executable, "-X", "faulthandler", CHILD, role, str(cache_dir), str(sync)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, (process.returncode, err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def test_a_process_loads_the_kernel_an_earlier_one_compiled_and_computes_right(tmp_path):
    first = result(start("C", tmp_path, tmp_path))
    assert first == {"role": "C", "equal": True, "hits": 0, "misses": 1}, first  # compiled, saved
    second = result(start("C", tmp_path, tmp_path))
    assert second == {"role": "C", "equal": True, "hits": 1, "misses": 0}, second  # loaded


def test_two_processes_saving_two_signatures_at_once_keep_each_its_own_code(tmp_path):
    sync = tmp_path / "sync"
    sync.mkdir()
    a, b = start("A", tmp_path, sync), start("B", tmp_path, sync)
    first, second = result(a), result(b)
    assert first["equal"] and second["equal"] and first["misses"] == second["misses"] == 1, (first, second)
    folder = tmp_path / numba_cache.SUBDIR
    data = sorted(name for _, _, files in os.walk(folder) for name in files if name.endswith(".nbc"))
    assert len(data) == 2, data  # one data file per signature, not one for both
    # A third process loads the float32 signature: its own code, the oracle's distances
    third = result(start("C", tmp_path, sync))
    assert third == {"role": "C", "equal": True, "hits": 1, "misses": 0}, third

