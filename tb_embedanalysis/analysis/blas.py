"""BLAS on one thread while analysis code makes many mid-sized products.

The limit is process-wide (threadpoolctl), so it is reference-counted here, once for the
whole package: overlapping users on different threads (two jobs building graphs) restore
the original limit only when the last one leaves. Used by the plain kNN graph
(neighbors.knn_graph) and the certified search (certified.py).
"""

from __future__ import annotations

import contextlib
import threading

_blas = threading.Lock()
_blas_users = [0, None]  # threads inside one_blas_thread, the threadpoolctl limiter


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
        if _blas_users[0] == 0:
            _blas_users[1] = threadpool_limits(limits=1, user_api="blas")
        _blas_users[0] += 1
    try:
        yield
    finally:
        with _blas:
            _blas_users[0] -= 1
            if _blas_users[0] == 0:
                _blas_users[1].restore_original_limits()
                _blas_users[1] = None
