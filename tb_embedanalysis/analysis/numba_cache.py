"""numba's on-disk cache in our cache directory, so UMAP's kernels compile once, not per start.

What a fresh process spends before its first UMAP map of 2,500 points (2 shared cores,
umap-learn 0.5.12, pynndescent 0.7.0, numba 0.68): `import umap` 4-6 s (numba, llvmlite,
pynndescent's ~200 `cache=True` kernels loaded or compiled, umap-learn's typed helpers), then
~6.5 s compiling the five umap-learn kernels our `projection.umap_2d` calls, none of which
umap-learn marks `cache=True`: `umap_.smooth_knn_dist`, `umap_.compute_membership_strengths`,
`distances.euclidean`, `layouts.clip`, `layouts._nb_optimize_layout_euclidean_single_epoch`.

Two steps, both process-wide because numba's configuration is:

* `use_cache_dir` points NUMBA_CACHE_DIR at `<cache dir>/numba` (numba reads it when imported
  and again whenever a cache is created, so it is also set on a numba already imported).
  By default numba writes next to the library's source, in site-packages, when that is
  writable; now every numba cache of this process lives in our directory.
* `cache_umap_kernels` turns on numba's cache for the five kernels, through
  `Dispatcher.enable_caching()` — what `@njit(cache=True)` itself calls; no umap-learn
  function is replaced. Safe because each is a module-level function without closure
  variables (numba keys its cache on the bytecode and the source file's time stamp, so an
  upgrade of umap-learn recompiles), and only before it has compiled anything. Not the
  parallel twin `_nb_optimize_layout_euclidean_single_epoch_parallel`: it wraps the same
  Python function, numba's cache key does not carry the `parallel` flag, so the two would
  share cache files (we run UMAP single-threaded and never call it).

Cache dir None ("none": memory only) does neither: nothing is written, kernels compile per
start as before. Size: ~6 MB after one UMAP (umap-learn's five kernels ~1 MB, pynndescent's
the rest); it grows only with new argument types and library versions (numba never deletes
its stale files) and is not counted by disk_cache.DiskCache's cap, which counts its entries.

Every cache turned on here (`enable_caching`: our kernels and the five above) reads and writes
numba's files under an exclusive lock (LOCK_NAME, flock) in the kernel's cache folder. numba
(0.68: caching.IndexDataCacheFile.save) adds a signature by reading the function's index,
taking the first free data-file number, writing the index and then the data, with no lock:
two processes compiling two signatures of one kernel at once (make test's two workers, a
TensorBoard child) both take number 1, and the index then names one signature and the file
holds the other's machine code. The next process that loads that signature runs code
compiled for other argument types: pair_kernel._kernel reading a float32 matrix as float64
read past its end (tests/test_numba_cache_processes.py forces that interleaving; numba/numba#4807
and #10128 are open reports of the same race; the revert's segfault itself was pair_kernel's
recursive callee, see pair_kernel.py). Saving
under the lock, the second process sees the first's entry and takes number 2; loading under
it, no process reads an index before its data file is written. The lock is held for the
files only, not the compile. Without fcntl (Windows) the kernels compile per process.
pynndescent's own `cache=True` kernels are cached by numba as they are, unlocked.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional

try:  # POSIX; without it numba_cache turns no cache on (the module docstring)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

#: The folder inside the cache directory that holds numba's cache.
SUBDIR = "numba"
#: (module, name) of the umap-learn kernels projection.umap_2d compiles (see the docstring).
UMAP_KERNELS = (
    ("umap.umap_", "smooth_knn_dist"),
    ("umap.umap_", "compute_membership_strengths"),
    ("umap.distances", "euclidean"),
    ("umap.layouts", "clip"),
    ("umap.layouts", "_nb_optimize_layout_euclidean_single_epoch"),
)

#: The lock file in each of numba's cache folders that holds our kernels' files.
LOCK_NAME = "embedanalysis.lock"

_lock = threading.Lock()
_locked_cache: Any = None  # the FunctionCache subclass, made when numba is first needed
_folder: Optional[str] = None  # set once per process: numba has one cache directory
_umap_done = False


def use_cache_dir(cache_dir: Optional[str]) -> Optional[str]:
    """Point numba's on-disk cache at ``<cache_dir>/numba``; the folder in use, or None.

    The first workspace of a process decides (numba has one cache directory per process).
    A NUMBA_CACHE_DIR the user set is kept. Cache dir None, or a folder that cannot be
    made: None, and umap-learn's kernels stay uncached.
    """
    global _folder
    if cache_dir is None:
        return None
    with _lock:
        if _folder is not None:
            return _folder
        folder = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(os.path.abspath(cache_dir), SUBDIR)
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError as error:
            logger.warning("embedanalysis: numba cache %s is not usable (%s); UMAP compiles at every start",
                           folder, error.strerror or error)
            return None
        os.environ["NUMBA_CACHE_DIR"] = folder
        numba = sys.modules.get("numba")
        if numba is not None:  # already imported: its config was read without our folder
            numba.config.CACHE_DIR = folder
        _folder = folder
        return folder


def folder() -> Optional[str]:
    """The folder use_cache_dir set for this process, or None (kernels compile per start)."""
    return _folder


def cache_umap_kernels() -> None:
    """After ``import umap``: numba's on-disk cache for UMAP_KERNELS, if use_cache_dir set a
    folder. Idempotent; a kernel already compiled in this process is left as it is."""
    global _umap_done
    with _lock:
        if _umap_done or _folder is None:
            return
        _umap_done = True
        for module_name, name in UMAP_KERNELS:
            kernel = getattr(sys.modules.get(module_name), name, None)
            if kernel is None or not hasattr(kernel, "enable_caching") or kernel.signatures:
                continue  # another umap-learn version, or compiled before we got here
            try:
                enable_caching(kernel)
            except RuntimeError as error:  # numba found no writable place for this file
                logger.warning("embedanalysis: %s.%s compiles at every start (%s)", module_name, name, error)


def enable_caching(kernel: Any) -> None:
    """numba's on-disk cache for the dispatcher `kernel` (what `Dispatcher.enable_caching()`
    does), its files read and written under the folder's lock (the module docstring). Call it
    before the kernel's first compile, and only where folder() is set. No fcntl: nothing."""
    if fcntl is None:  # pragma: no cover - Windows: compiled per process, never half-written
        return
    kernel._cache = _locked_cache_class()(kernel.py_func)


def _locked_cache_class() -> Any:
    global _locked_cache
    if _locked_cache is None:
        from numba.core.caching import FunctionCache

        class LockedFunctionCache(FunctionCache):
            """numba's FunctionCache, its index and data files read and written under
            folder_lock (the check of the index, the choice of a data file and both writes
            are one step for every process that uses this class)."""

            def load_overload(self, sig, target_context):
                with folder_lock(self.cache_path):
                    return super().load_overload(sig, target_context)

            def save_overload(self, sig, data):
                with folder_lock(self.cache_path):
                    super().save_overload(sig, data)

        _locked_cache = LockedFunctionCache
    return _locked_cache


@contextmanager
def folder_lock(path: str) -> Iterator[None]:
    """An exclusive flock on `path`/LOCK_NAME while the block runs (processes and threads
    alike: each call opens its own file). A folder that does not exist yet has nothing to
    read and is made by numba's save: it is made here; one that cannot be made or written
    (a read-only cache) is read unlocked, as nobody can write it either."""
    try:
        os.makedirs(path, exist_ok=True)
        fd: Optional[int] = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        fd = None
    if fd is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def compiled(module_name: str) -> bool:
    """Whether the kernel module `module_name` (topk_fold, pair_kernel) is imported and its
    kernel compiled in this process, without importing it or numba. False while a warm-up
    thread is still importing it (a partly initialised module has no `compiled` yet)."""
    check = getattr(sys.modules.get(module_name), "compiled", None)
    return check is not None and bool(check())
