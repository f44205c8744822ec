"""Atomic file replacement and a per-logdir lock, so readers never see half a file.

TensorBoard reads the log directory while training writes it. Every file the writer
produces goes to a temporary name in the same directory first and is then renamed over
the target with `os.replace`, which is atomic on POSIX and Windows: a reader sees the
old file or the new one, never a mixture.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from typing import BinaryIO, Callable, Dict, Iterator

try:  # POSIX only; on Windows the lock below is per process.
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]


def atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace `path` with what `write(file)` writes, atomically.

    The temporary file is created with mode 0o666 minus the umask (like `open`), not
    0o600 like `tempfile.mkstemp`, so a TensorBoard running as another user can read it.
    """
    directory, base = os.path.split(path)
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not land before the data does
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str, data: bytes) -> None:
    def write(handle: BinaryIO) -> None:
        handle.write(data)

    atomic_write(path, write)


_thread_locks: Dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextlib.contextmanager
def directory_lock(directory: str) -> Iterator[None]:
    """Serialise read-modify-write of files in `directory` across threads and processes.

    Two trainers writing embeddings into the same run must not lose each other's config
    entries. Threads share a `threading.Lock` per directory; processes an advisory
    `flock` on the directory itself (no lock file is left behind).
    """
    key = os.path.realpath(directory)
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(key, threading.Lock())
    with lock:
        if fcntl is None:
            yield
            return
        fd = os.open(key, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock
