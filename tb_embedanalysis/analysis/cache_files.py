"""The disk cache's files (analysis/disk_cache.py): its HMAC key, made whole before anyone
can read it, and files opened only if they are regular files of a bounded size (never
through a symlink, never blocking on a FIFO)."""

from __future__ import annotations

import errno
import os
import secrets
import stat
import tempfile
from typing import Optional, Tuple

SECRET_NAME = "secret.key"


def secret(directory: str) -> bytes:
    """The cache's HMAC key, made on first use (mode 0600, never replaced once it exists).

    Made whole in a temporary file and then linked into place, so the key file is never
    seen half-written. It was created empty and then filled: another process opening the
    same directory in between (TensorBoard and the CLI, two TensorBoards) read an empty
    key and ran without a disk cache, and a process killed in between left the empty key
    behind, which turned the disk cache off for every later start."""
    path = os.path.join(directory, SECRET_NAME)
    if not os.path.lexists(path):
        key = secrets.token_bytes(32)
        fd, made = tempfile.mkstemp(dir=directory, prefix=".tmp-key-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(key)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(made, path)  # never replaces: if another process linked first, theirs is the key
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links: created in place, as before
                _create_key(path, key)
        finally:
            remove(made)
    secret = read_regular(path, 1024)
    if secret is None or len(secret) < 32:
        raise OSError(errno.EINVAL, "%s is not a readable key file" % SECRET_NAME)
    return secret


def _create_key(path: str, key: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(key)


def open_regular(path: str, limit: int) -> Optional[Tuple[int, int]]:
    """(descriptor, size) of `path` if it is a regular file (not a symlink) of at most
    `limit` bytes, else None; the caller closes the descriptor."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        return None
    return fd, int(info.st_size)


def read_regular(path: str, limit: int) -> Optional[bytes]:
    """The bytes of `path` if it is a regular file (not a symlink) of at most `limit` bytes
    (read to its size: never a buffer of `limit` bytes)."""
    found = open_regular(path, limit)
    if found is None:
        return None
    fd, size = found
    try:
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(size)
    except OSError:
        return None
    finally:
        os.close(fd)


def remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
