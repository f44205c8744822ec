"""The exact search's numba kernel made ready while TensorBoard starts (issue 25, items 2 and 4).

Every table the tab shows starts from an exact kNN graph, and above a few thousand rows that
graph goes through topk_fold's kernel. Its first call in a process imports numba (~0.5 s)
and compiles the kernel (~1.5 CPU-s), or loads it from numba's cache in our cache directory
(numba_cache; a fraction of a second once an earlier start compiled it). Paid inside the
first request, that was most of a cold 10,000-point table and the difference between a first
answer at 1,000,000 rows in 1.5 s or in 2.4 s (bench/README.md). `start` pays it in a
background thread as the plugin starts, before a person can ask.

At the same CPU priority as the server's threads, on purpose: a compile is Python holding the
GIL, and a thread niced to yield the CPU was descheduled *while holding it* on a busy machine,
so the threads it was meant to yield to waited for the GIL instead (a priority inversion
through the GIL: requests taken ~0.1 s late while it compiled, an estimate's sample search 5.7
and 9.7 s instead of 1.4-1.6 s, a pytest worker's `ast.parse` stalled 27-60 s with 0.5 s of
CPU after a plugin test had started the warm-up). Measured at load 4: an `ast.parse` of the
package beside a Python-bound thread took 1.6-2.3× as long when that thread was niced.

The compile itself runs in a child process (`compile_in_child`, at CHILD_NICE), which writes
numba's cache; this process then only loads the kernels from it (~0.3 s). Compiled in this
process, it held the GIL for ~3-6 s from the start, which is when the tab is first opened: a
cold 10,000-point table took 1.38-1.83 s with the compile still running, 0.78 s with the
kernels compiled beforehand (bench/README.md). A child shares no GIL, and niced it yields the
cores to the server and the browser, the priority inversion above cannot happen through it.
A child that fails (or a package the child cannot import) leaves the compile to this process.

Only where numba caches in this cache directory (as umap_warmup: a NUMBA_CACHE_DIR of the
user's or the test suite's says nothing about this TensorBoard, and a memory-only cache
writes nothing); the thread is not a daemon, so an exit waits for a compile in flight (about
a second) instead of tearing numba down under it.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import threading
from typing import Optional

from tb_embedanalysis.analysis import jobs, numba_cache

logger = logging.getLogger(__name__)

_started = threading.Event()


def own_numba_folder(cache_dir: Optional[str]) -> Optional[str]:
    """numba's cache folder when it is `cache_dir`'s own (`<cache dir>/numba`), else None: a
    memory-only cache, or a NUMBA_CACHE_DIR of the user's or the test suite's."""
    folder = numba_cache.use_cache_dir(cache_dir)
    if cache_dir is None or folder != os.path.join(os.path.abspath(cache_dir), numba_cache.SUBDIR):
        return None
    return folder


def start_once(started: threading.Event, target, name: str) -> Optional[threading.Thread]:
    """`target` in a new (non-daemon) thread unless `started` is set already; sets it."""
    if started.is_set():
        return None
    started.set()
    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread


def start(cache_dir: Optional[str]) -> Optional[threading.Thread]:
    """Compile the kernels in a child process and load the sweep's here, from a background
    thread (STAGES); the thread, or None when numba does not cache in `cache_dir`'s own folder
    or a warm-up started already in this process."""
    if cache_dir is None or own_numba_folder(cache_dir) is None:
        return None
    return start_once(_started, functools.partial(_warm, cache_dir), "embedanalysis-kernel-warmup")


#: The compiling child's niceness: it yields the cores to the server and the browser while
#: the tab opens, and still finishes in seconds on an otherwise idle machine.
CHILD_NICE = 10
#: In two stages, each compiled by a child: first the sweep's heap kernel, loaded here at once
#: (a small table's graph takes it once it is loaded, propose.SWEEP_COLD_MIN_ROWS), then the
#: rest (large k's buffer, the plain graph's pair_fold), left in the cache for the first graph
#: that needs it (from 20,000 rows, where ~0.3 s of loading is small) rather than loaded here,
#: holding the GIL, while the tab may be opening.
STAGES = ("sweep", "rest")
_CHILD = ("import os, sys; os.nice(int(sys.argv[4])); sys.path.insert(0, sys.argv[3]); "
          "from tb_embedanalysis.analysis import kernel_warmup; kernel_warmup.compile_here(sys.argv[1], sys.argv[2])")


def compile_here(cache_dir: str, stage: str) -> None:
    """The child's part: compile (or load) a stage's kernels into numba's cache of `cache_dir`."""
    if own_numba_folder(cache_dir) is None:
        raise SystemExit("numba does not cache in %s's own folder" % cache_dir)
    _kernels(stage)


def compile_in_child(cache_dir: str, stage: str) -> bool:
    """Run compile_here in a child process at CHILD_NICE; whether it succeeded. Killed when the
    interpreter starts to exit (a compile must not hold TensorBoard's exit)."""
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child = subprocess.Popen([sys.executable, "-c", _CHILD, cache_dir, stage, package_parent, str(CHILD_NICE)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = b""
    while True:
        try:
            _, err = child.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if jobs.exiting():
                child.kill()
                child.communicate()
                return False
    if child.returncode != 0:
        logger.warning("embedanalysis: compiling the exact search's kernels in a child process failed "
                       "(exit %s): %s; compiling them here", child.returncode, err.decode(errors="replace")[-500:])
    return child.returncode == 0


def _kernels(stage: str) -> None:
    """A stage's kernels compiled or loaded in this process (from numba's cache when it has them)."""
    from tb_embedanalysis.analysis import topk_fold

    if stage == "sweep":
        topk_fold.warm(large=False)
        return
    topk_fold.warm()
    if jobs.exiting():
        return
    from tb_embedanalysis.analysis import pair_fold  # the plain graph's, after the sweep's

    pair_fold.warm()


def _warm(cache_dir: str) -> None:
    try:
        for stage in STAGES:
            if jobs.exiting():
                return
            compiled = compile_in_child(cache_dir, stage)  # into numba's cache, without this process's GIL
            if jobs.exiting():
                return
            if stage == STAGES[0] or not compiled:  # the rest loads where first used (a large graph)
                _kernels(stage)  # from the cache the child wrote (compiled here if it failed)
    except Exception:  # a failed warm-up only means the first graph compiles it, as before
        logger.exception("embedanalysis: compiling the exact search's kernel failed; the first graph will")
