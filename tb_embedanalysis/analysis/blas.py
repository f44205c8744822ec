"""How the kNN graphs use the cores: BLAS on one thread, the rows shared out over threads.

one_blas_thread: the BLAS limit is process-wide (threadpoolctl), so it is reference-counted
here, once for the whole package: overlapping users on different threads (two jobs building
graphs) restore the original limit only when the last one leaves. Each change is made, and
released, by the thread that makes it (`_in_this_thread`): threadpoolctl ≥ 3.8 lets one thread
at a time change a pthreads OpenBLAS's limit and silently ignores the others. share_out: the worker
threads of the plain graph (neighbors.knn_graph) and the certified one (certified_graph.py).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from typing import Any, Callable, Iterable, Iterator, List, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _BlasUsers:
    """Threads inside one_blas_thread, and the threadpoolctl limiter they share."""

    count = 0
    limiter: Any = None


_blas = threading.Lock()
_blas_users = _BlasUsers()


@contextlib.contextmanager
def one_blas_thread():
    """BLAS on one thread while any thread is inside this context (reference-counted, so
    overlapping users from different threads restore the original limit only when the last
    leaves; the limit is process-wide). Many mid-sized products are faster so: OpenBLAS's own
    threads hand work off at every call, which under load costs more than the products
    (plain kNN graph at 10,000 × 32 on a loaded 2-core machine: 1.3 s with 2 BLAS threads,
    0.39 s with 1; certified search at 30,000 × 128: 12.8 s vs 1.1 s)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        yield
        return
    with _blas:
        if _blas_users.count == 0:
            _blas_users.limiter = _in_this_thread(lambda: threadpool_limits(limits=1, user_api="blas"))
        _blas_users.count += 1
    try:
        yield
    finally:
        with _blas:
            _blas_users.count -= 1
            if _blas_users.count == 0:
                _in_this_thread(_blas_users.limiter.restore_original_limits)
                _blas_users.limiter = None


def _in_this_thread(change: Callable[[], T]) -> T:
    """change() (a threadpoolctl limit set or restored), then this thread's control of
    OpenBLAS released. threadpoolctl ≥ 3.8: with OpenBLAS's own (pthreads) pool, only its
    "controlling thread" (the first to set a limit, until it releases it or ends) changes the
    limit, any other thread's change is silently ignored; only `with threadpool_limits(...)`
    releases it by itself. Without this, the first job thread to enter kept control for the
    server's life (a pool thread never ends) and every later graph in another thread ran its
    products on two BLAS threads beside its two graph threads (issue 25.3: k = 1,000 at
    100,000 × 64, the tab's graph 96 s against 63 s in-process; its products 5 × slower).
    Enter and leave may happen in different threads (the reference count), hence the release
    after each. Older threadpoolctl has no controlling thread: nothing to release."""
    try:
        return change()
    finally:
        try:
            from threadpoolctl import OpenBLASController
        except ImportError:  # pragma: no cover - threadpoolctl < 3.8
            pass
        else:
            release = getattr(OpenBLASController, "clear_controlling_thread", None)
            if release is not None:
                release()  # only when this thread holds it


def share_out(items: Iterable[T], worker: Callable[[Iterator[T]], R], threads: int, *, name: str) -> List[R]:
    """worker(shared iterator) on `threads` threads (in this thread if threads <= 1), each
    item taken by exactly one of them; their results. Once a worker raises (an error, or
    jobs.Cancelled from a progress report) the others take no new item, and the first
    error is raised here when they have stopped."""
    lock, failed, source = threading.Lock(), threading.Event(), iter(items)

    def shared() -> Iterator[T]:
        while not failed.is_set():
            with lock:
                try:
                    item = next(source)
                except StopIteration:
                    return
            yield item

    def run() -> R:
        try:
            return worker(shared())
        except BaseException:
            failed.set()
            raise

    if threads <= 1:
        return [run()]
    with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix=name) as pool:
        futures = [pool.submit(run) for _ in range(threads)]
        return [future.result() for future in futures]
