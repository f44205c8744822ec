"""Give the C heap's free memory back to the operating system after a job.

numpy's temporaries of a few MB are allocated by malloc. glibc serves them from per-thread
arenas and, after a large block is freed, raises its mmap threshold (up to 32 MB), so the
next ones stay in the arenas too: freed, but still counted in the server's RSS, and the
next phase of the pass (label statistics after the kNN graph) allocates beside them. At
1,000,000 × 128 that kept ~0.1–0.2 × the tensor's bytes above what the pass holds live.
`malloc_trim(0)` returns the free pages of every arena (the same call Dask's workers use
to trim their memory). glibc only: elsewhere (macOS, Windows, musl) `trim` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Callable, Optional


def _find_malloc_trim() -> Optional[Callable[[int], int]]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        function = libc.malloc_trim  # AttributeError on a libc without it (musl)
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


_malloc_trim = _find_malloc_trim()


def trim() -> bool:
    """Return free heap memory to the OS; True if the C library could (glibc)."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True
