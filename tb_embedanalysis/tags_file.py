"""The tag database's file: opened privately, known by identity, and its failures in words.

tags.py keeps the tags; this module knows the file they live in:

* `open_database` creates the cache directory (0700) and ``tags.sqlite3`` (0600; a symlink or
  anything but a regular file is refused), opens it in WAL mode with ``synchronous=FULL``
  (a commit is on disk when it returns) and answers the connection and the file's
  identity (device, inode);
* `identity_at(path)`: the identity of the file now at the path, to notice a database
  deleted or replaced under a running TensorBoard (the open connection would go on
  writing to a file nobody will read again);
* `checkpoint`: copy the write-ahead log into the main file and empty the log, so that
  ``tags.sqlite3`` alone holds every tag (a user copies or moves that one file);
* `explained`: SQLite's and the OS's errors about the file (damaged, read-only, full disk,
  locked) as `TagStoreError`s whose message names the file and says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import stat
import urllib.parse
from typing import Iterator, Optional, Tuple

from tb_embedanalysis.errors import Unanalysable

logger = logging.getLogger(__name__)

DB_NAME = "tags.sqlite3"
SIDE_FILES = ("-wal", "-shm")  # SQLite's companions of a WAL database, beside it while it is open
BUSY_SECONDS = 5.0  # wait this long for another process's write before failing

SCHEMA = """
CREATE TABLE IF NOT EXISTS tags (
    fingerprint TEXT NOT NULL,
    row INTEGER NOT NULL,
    tag TEXT,
    corrected_label TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (fingerprint, row)
) WITHOUT ROWID
"""

Identity = Tuple[int, int]  # (st_dev, st_ino)


class TagStoreError(Unanalysable):
    """The tag database cannot be used as asked (HTTP 422, CLI exit 2); the message names the
    file, says what is wrong and what to do."""


class TagStoreFull(TagStoreError):
    """The database reached its size cap."""


class TagStoreUnreadable(TagStoreError):
    """The database file is damaged, or is not an SQLite database."""


class TagStoreUnwritable(TagStoreError):
    """The file, its directory or its disk cannot take the write (read-only, full, failing,
    locked by another process, deleted again while written)."""


class TagStoreClosed(TagStoreError):
    """TensorBoard is stopping: the database was closed (HTTP 503)."""


# -- SQLite's errors in words -------------------------------------------------------------------
# Primary result codes (sqlite3.h); Python >= 3.11 gives them as `sqlite_errorcode`, older
# Pythons only the message, which is SQLite's fixed text for the code.
_CORRUPT, _NOTADB, _FULL, _READONLY, _PERM, _CANTOPEN, _IOERR, _BUSY, _LOCKED = 11, 26, 13, 8, 3, 14, 10, 5, 6
_BY_MESSAGE = {
    "database disk image is malformed": _CORRUPT, "file is not a database": _NOTADB,
    "database or disk is full": _FULL, "attempt to write a readonly database": _READONLY,
    "access permission denied": _PERM, "unable to open database file": _CANTOPEN, "disk i/o error": _IOERR,
    "database is locked": _BUSY, "database table is locked": _LOCKED,
}
# Errors of our own code (a closed connection, a broken statement, a constraint): bugs, not the file.
_BUGS = (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.IntegrityError, sqlite3.NotSupportedError)


def _code(error: sqlite3.Error) -> Optional[int]:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF  # the primary code of an extended one (SQLITE_IOERR_WRITE → SQLITE_IOERR)
    message = str(error).lower()
    return next((value for words, value in _BY_MESSAGE.items() if message.startswith(words)), None)


#: What to do when the cache directory cannot take tags at all.
ELSEWHERE = ("start TensorBoard with --embedanalysis_cache_dir set to a writable directory (or 'none' to keep tags "
             "in memory until it stops)")


def move_away() -> str:
    """The advice to start a new database: all of its files, never one of three."""
    return ("stop TensorBoard, then move %s away together with any %s beside it (a new, empty one is "
            "made at the next start)" % (DB_NAME, " and ".join(DB_NAME + s for s in SIDE_FILES)))


def named(directory: str) -> str:
    """How messages name the database in `directory` ("tags.sqlite3 in DIR")."""
    return "%s in %s" % (DB_NAME, directory)


def _sqlite_problem(error: sqlite3.Error, where: str, *, writing: bool) -> Optional[TagStoreError]:
    """The TagStoreError for a SQLite error about the file; None for anything else (a bug)."""
    if isinstance(error, _BUGS):
        return None
    code, said = _code(error), str(error)
    unsaved = "; nothing was written" if writing else ""
    if code in (_CORRUPT, _NOTADB):
        return TagStoreUnreadable(
            "the tag database %s is damaged (%s): %s; `sqlite3 %s .recover` may rescue its rows"
            % (where, said, move_away(), DB_NAME))
    if code == _FULL:
        return TagStoreUnwritable("the disk holding the tag database %s is full (%s): free space on it, or start "
                                  "TensorBoard with --embedanalysis_cache_dir on another disk%s" % (where, said, unsaved))
    if code in (_READONLY, _PERM):
        return TagStoreUnwritable("the tag database %s is read-only (%s): the file, its directory or its disk does not "
                                  "take writes; make them writable, or %s%s" % (where, said, ELSEWHERE, unsaved))
    if code == _CANTOPEN:
        return TagStoreUnwritable("the tag database %s cannot be opened (%s): its directory is missing, unreadable "
                                  "or read-only; make it usable, or start TensorBoard with --embedanalysis_cache_dir "
                                  "set to another directory%s" % (where, said, unsaved))
    if code == _IOERR:
        return TagStoreUnwritable("the disk holding the tag database %s failed to read or write it (%s): check that "
                                  "disk and its free space%s" % (where, said, unsaved))
    if code in (_BUSY, _LOCKED):
        return TagStoreUnwritable("the tag database %s was locked by another process for more than %.0f s (another "
                                  "TensorBoard or tb-embedanalysis on the same cache directory): try again%s"
                                  % (where, BUSY_SECONDS, unsaved))
    return None


def _os_problem(error: OSError, where: str, *, writing: bool) -> TagStoreError:
    """The TagStoreError for an OS error opening the file or its directory."""
    words = error.strerror or str(error)
    unsaved = "; nothing was written" if writing else ""
    if error.errno == errno.ENOSPC:
        return TagStoreUnwritable("the disk holding the tag database %s is full (%s): free space on it, or start "
                                  "TensorBoard with --embedanalysis_cache_dir on another disk%s" % (where, words, unsaved))
    if error.errno == errno.EROFS:
        return TagStoreUnwritable("the tag database %s is on a read-only disk (%s): %s%s"
                                  % (where, words, ELSEWHERE, unsaved))
    if error.errno in (errno.EACCES, errno.EPERM):
        return TagStoreUnwritable("the tag database %s cannot be created or opened (%s): make it and its directory "
                                  "writable by the user running TensorBoard, or %s%s"
                                  % (where, words, ELSEWHERE, unsaved))
    return TagStoreUnwritable("the tag database %s cannot be opened (%s): it must be a regular file in a directory "
                              "of ours; %s%s" % (where, words, move_away(), unsaved))


@contextlib.contextmanager
def explained(where: str, *, writing: bool) -> Iterator[None]:
    """Errors about the database → TagStoreError (the message names it as `where`, from
    `named`, and says what to do); anything else, a bug of ours, goes on as it is."""
    try:
        yield
    except sqlite3.Error as error:
        problem = _sqlite_problem(error, where, writing=writing)
        if problem is None:
            raise
        raise problem from None
    except OSError as error:
        raise _os_problem(error, where, writing=writing) from None


# -- the file -------------------------------------------------------------------------------
def identity_at(path: str) -> Optional[Identity]:
    """(device, inode) of the file now at `path` (symlinks not followed); None when there is none."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:  # a component of the path is now a file
        return None
    return (found.st_dev, found.st_ino)


def _create_or_open(path: str) -> Identity:
    """Make `path` a private regular file if it is missing; its identity. 0600 before SQLite
    sees it (its -wal/-shm files take the same mode); a symlink or anything but a regular
    file in its place is refused (OSError)."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "it is a symbolic link, which is refused") from None
        raise
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return (found.st_dev, found.st_ino)
    finally:
        os.close(fd)


def open_database(directory: str, where: str, *, writing: bool = False) -> Tuple[sqlite3.Connection, str, Identity]:
    """(connection, path, identity) of the tag database in `directory`, created if missing.
    Raises TagStoreError (naming the database as `where`; `writing`: for a write, which it
    then says was not done), never sqlite3.Error or OSError."""
    path = os.path.join(directory, DB_NAME)
    with explained(where, writing=writing):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # A -wal left beside a file just created (its database moved away after a kill) is
        # not replayed into it: SQLite discards the log of an empty database file.
        identity = _create_or_open(path)
        connection = sqlite3.connect(path, timeout=BUSY_SECONDS, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # A commit returns once the log is on disk: a 2xx means the tag survives a power cut.
            connection.execute("PRAGMA synchronous=FULL")
            with connection:
                connection.execute(SCHEMA)
            checkpoint(connection)
            if identity_at(path) != identity:  # replaced between our check and SQLite's open
                raise OSError(errno.ESTALE, "replaced while it was opened")
        except BaseException:
            connection.close()
            raise
    return connection, path, identity


def open_read_only(directory: str, where: str) -> Tuple[sqlite3.Connection, str]:
    """The tag database in `directory` for reading only (the CLI): nothing created or changed.
    On a read-only file system SQLite cannot make the -shm file a WAL database needs, and
    nothing can change the file there, so it is opened as immutable. Raises TagStoreError."""
    path = os.path.join(directory, DB_NAME)
    uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path))
    with explained(where, writing=False):
        if os.statvfs(directory).f_flag & getattr(os, "ST_RDONLY", 1):
            uri += "&immutable=1"
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, check_same_thread=False)
        try:
            found = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tags'").fetchone()
        except BaseException:
            connection.close()
            raise
    if found is None:
        connection.close()
        raise TagStoreUnreadable("the tag database %s holds no tags table: it is empty, or a copy of %s made without "
                                 "its %s-wal file while an older tb-embedanalysis ran" % (where, DB_NAME, DB_NAME))
    return connection, path


def checkpoint(connection: sqlite3.Connection) -> bool:
    """Copy the write-ahead log into the main file and truncate it: the main file alone then
    holds every committed tag. Never waits: a reader in another process still on an older
    snapshot keeps the frames it may need in the log (durable there; the next checkpoint, at
    the latest the one at exit, copies them), and False says so. Cost bounded by what the log
    holds since the last checkpoint (one write: at most 10,000 rows)."""
    connection.execute("PRAGMA busy_timeout = 0")  # TRUNCATE would wait for readers otherwise
    try:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.execute("PRAGMA busy_timeout = %d" % int(BUSY_SECONDS * 1000))
    return not busy
