"""Atomic file replacement and a per-logdir lock, so readers never see half a file.

TensorBoard reads the log directory while training writes it. Every file the writer
produces goes to a temporary name in the same directory first and is then renamed over
the target with `os.replace`, which is atomic on POSIX and Windows: a reader sees the
old file or the new one, never a mixture.

A writer killed mid-write (SIGKILL, out of memory, a power cut) leaves its temporary
behind, up to the size of the tensor. The next write to the same directory removes such
leftovers (`remove_stale_temporaries`), but never the temporary of a writer still
writing: on POSIX each writer holds an `flock` on its temporary until the rename, and
the kernel drops that lock when its process dies, so "unlocked" means "abandoned".
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import threading
from typing import BinaryIO, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

try:  # POSIX only; on Windows the lock below is per process.
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

_TEMP_SUFFIX = ".tmp"


def temporary_name(base: str) -> str:
    """``.<base>.<8 hex digits>.tmp``: hidden, unique, and recognisable as ours."""
    return f".{base}.{secrets.token_hex(4)}{_TEMP_SUFFIX}"


def atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace `path` with what `write(file)` writes, atomically.

    The temporary file is created with mode 0o666 minus the umask (like `open`), not
    0o600 like `tempfile.mkstemp`, so a TensorBoard running as another user can read it.
    """
    directory, base = os.path.split(path)
    fd, tmp, lock = _create_temporary(directory, base)
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
    finally:
        if lock is not None:
            os.close(lock)  # the last descriptor of the temporary: its flock ends here


def _create_temporary(directory: str, base: str) -> Tuple[int, str, Optional[int]]:
    """A new temporary for `base` in `directory`: (descriptor, path, lock descriptor).

    POSIX: the temporary is flocked until the lock descriptor (a duplicate, so the lock
    outlives the file object closed before the rename) is closed; a cleaner only removes
    temporaries it can lock. A cleaner may lock and remove ours in the instant between
    `open` and `flock`: then the file we hold has no name any more, and we take another.
    Windows: an open file cannot be removed, which protects the temporary just as well.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, temporary_name(base))
        fd = os.open(tmp, flags, 0o666)
        if fcntl is None:  # pragma: no cover - Windows
            return fd, tmp, None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink > 0:
                return fd, tmp, os.dup(fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # removed by a cleaner before we locked it: try a new name


def remove_stale_temporaries(directory: str, bases: Iterable[str]) -> List[str]:
    """Remove the temporaries of `bases` in `directory` that no live writer holds.

    Only our own names (``.<base>.<8 hex>.tmp``, regular files) are candidates; a
    temporary that another writer, in this process or another, is still writing is
    locked (POSIX) or open (Windows) and is left alone. Returns the names removed.
    """
    pattern = re.compile(
        r"\.(?:%s)\.[0-9a-f]{8}%s\Z" % ("|".join(re.escape(b) for b in bases), re.escape(_TEMP_SUFFIX))
    )
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [name for name in sorted(names) if pattern.match(name) and _remove_if_abandoned(os.path.join(directory, name))]


def _remove_if_abandoned(path: str) -> bool:
    if fcntl is None:  # pragma: no cover - Windows: removing a file open elsewhere fails
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                return False
            os.remove(path)
        except (FileNotFoundError, PermissionError):
            return False
        return True
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:  # gone (its writer renamed it), a symlink, unreadable: not ours to remove
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # its writer is alive and still writing
            return False
        try:  # locked by us now: its writer died, or finished and renamed it (then: gone)
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)


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
