"""The exact search's numba kernel is made ready as the plugin starts (analysis/kernel_warmup.py):
compiled into our cache directory by a first start (in a child process, so the server's GIL
is free meanwhile), loaded from it by that start and the next one, so the tab's first graph
does not compile it. Each start is a fresh process (numba's compiled
dispatchers die with it); the suite's own NUMBA_CACHE_DIR is taken out of the child's
environment, as a user's TensorBoard has none.
"""

import json
import os
import subprocess
import sys
import textwrap

from tb_embedanalysis.analysis import kernel_warmup

CHILD = textwrap.dedent("""
    import json, sys, time
    from tb_embedanalysis.analysis import kernel_warmup
    started = time.perf_counter()
    thread = kernel_warmup.start(sys.argv[1])
    assert thread is not None, "nothing warmed"
    assert kernel_warmup.start(sys.argv[1]) is None  # once per process
    thread.join()
    seconds = time.perf_counter() - started
    from tb_embedanalysis.analysis import topk_fold
    stats = topk_fold._kernel.stats
    print(json.dumps({"seconds": seconds, "compiled": topk_fold.compiled(),
                      "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
""")


def start(cache_dir):
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(cache_dir)], env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_first_start_compiles_into_the_cache_dir_and_the_next_loads_it(tmp_path):
    first = start(tmp_path)
    # compiled by the warm-up's child process, not in the server's (its GIL): loaded here
    assert first["compiled"] and first["misses"] == 0 and first["hits"] == 1, first
    assert os.listdir(tmp_path / "numba"), "nothing cached in our directory"
    second = start(tmp_path)
    assert second["compiled"] and second["hits"] == 1 and second["misses"] == 0, second
    print("kernel warm-up: first start %.2f s (compiles), second %.2f s (loads)" % (first["seconds"], second["seconds"]))


def test_no_warm_up_where_numba_caches_elsewhere_or_nowhere(tmp_path):
    assert kernel_warmup.start(None) is None  # memory only: nothing written, nothing warmed
    # conftest points the suite's NUMBA_CACHE_DIR elsewhere: its kernels are not this cache's
    assert os.environ.get("NUMBA_CACHE_DIR") and kernel_warmup.start(str(tmp_path / "cache")) is None
