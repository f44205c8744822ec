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

Only where numba caches in this cache directory (as umap_warmup: a NUMBA_CACHE_DIR of the
user's or the test suite's says nothing about this TensorBoard, and a memory-only cache
writes nothing); the thread is not a daemon, so an exit waits for a compile in flight (about
a second) instead of tearing numba down under it.
"""

from __future__ import annotations

import logging
import os
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
    """Compile or load topk_fold's kernel in a background thread; the thread, or None when numba
    does not cache in `cache_dir`'s own folder or a warm-up started already in this process."""
    if own_numba_folder(cache_dir) is None:
        return None
    return start_once(_started, _warm, "embedanalysis-kernel-warmup")


def _warm() -> None:
    try:
        if jobs.exiting():
            return
        from tb_embedanalysis.analysis import topk_fold

        topk_fold.warm()
        if jobs.exiting():
            return
        from tb_embedanalysis.analysis import pair_fold  # the plain graph's, after the sweep's

        pair_fold.warm()
    except Exception:  # a failed warm-up only means the first graph compiles it, as before
        logger.exception("embedanalysis: compiling the exact search's kernel failed; the first graph will")
