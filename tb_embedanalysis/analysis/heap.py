"""Give the C heap's free memory back to the operating system after a job.

numpy's temporaries of a few MB are allocated by malloc. glibc serves them from per-thread
arenas and, after a large block is freed, raises its mmap threshold (up to 32 MB), so the
next ones stay in the arenas too: freed, but still counted in the server's RSS, and the
next phase of the pass (label statistics after the kNN graph) allocates beside them. At
1,000,000 × 128 that kept ~0.1–0.2 × the tensor's bytes above what the pass holds live.
`malloc_trim(0)` returns the free pages of every arena (the same call Dask's workers use
to trim their memory). glibc only: elsewhere (macOS, Windows, musl) `trim` does nothing.

`reusing`: the other way round, for a Dask worker running graph tasks (graph_tasks.run). Dask's
nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (`distributed.nanny.pre-spawn-environ`,
to hand memory back), and setting any MALLOC_*_ variable switches glibc's dynamic mmap
threshold off: it stays at 128 KiB, so every numpy temporary above that is a fresh mmap whose
pages fault in one by one, zeroed. Measured at 200,000 × 64 (bench/README.md): a task took
~420,000 minor page faults in a worker against ~100 in-process, and 2.2–2.7× the CPU seconds
of the same task in-process (key_lower_bounds, astype, pair distances: the memory-bound steps).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import threading
from typing import Any, Callable, Iterator, Optional


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
#: glibc's mallopt parameters (malloc.h) and its defaults for them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_DEFAULT_THRESHOLD = 128 * 1024
#: Where glibc's own dynamic mmap threshold tops out on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX):
#: temporaries up to this size are reused from the heap, as in a process without MALLOC_*_.
REUSE_BYTES = 32 * 1024 * 1024
#: The variables that switch glibc's dynamic threshold off (mallopt's environment twins).
_FREEZING = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def _find_mallopt() -> Optional[Callable[[int, int], int]]:
    if _malloc_trim is None:
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    function: Any = getattr(libc, "mallopt", None)
    if function is not None:
        function.argtypes, function.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return function


_mallopt = _find_mallopt()
_reusing = threading.Lock()
_reusers = [0]  # threads inside `reusing` (mallopt is process-wide: the last one restores)


def trim() -> bool:
    """Return free heap memory to the OS; True if the C library could (glibc)."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


def _env_threshold(name: str) -> int:
    try:
        return int(os.environ.get(name, _DEFAULT_THRESHOLD))
    except ValueError:
        return _DEFAULT_THRESHOLD


@contextlib.contextmanager
def reusing() -> Iterator[bool]:
    """Inside, temporaries up to REUSE_BYTES come from the heap and are reused, when the
    environment froze glibc's mmap threshold (see the module docstring); yields whether it
    changed anything. Reference-counted across threads; the last to leave sets the
    thresholds back to what the environment says and trims, so the process hands its
    memory back as its environment asked. Elsewhere (no MALLOC_*_ set, not glibc) a no-op."""
    if _mallopt is None or not any(name in os.environ for name in _FREEZING):
        yield False
        return
    with _reusing:
        _reusers[0] += 1
        if _reusers[0] == 1:
            _mallopt(_M_MMAP_THRESHOLD, REUSE_BYTES)
            _mallopt(_M_TRIM_THRESHOLD, 2 * REUSE_BYTES)
    try:
        yield True
    finally:
        with _reusing:
            _reusers[0] -= 1
            if _reusers[0] == 0:
                _mallopt(_M_MMAP_THRESHOLD, _env_threshold("MALLOC_MMAP_THRESHOLD_"))
                _mallopt(_M_TRIM_THRESHOLD, _env_threshold("MALLOC_TRIM_THRESHOLD_"))
                trim()
