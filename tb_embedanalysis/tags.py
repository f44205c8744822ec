"""Tags users give points ("label error", "ambiguous", "ok", a corrected label), kept on disk.

State, not analysis: the one place tags are stored. A tag belongs to a row of an embedding's
*content* (`Embedding.fingerprint`, the hash of its vectors, and the row index), so it
follows the data, not a file name, and a changed tensor starts without tags.

Stored in an embedded SQLite database (stdlib `sqlite3`): no server to run, nothing to
install, and transactional, so a crash or two TensorBoards on one cache directory never
leave half a write. It lives in the cache directory the engine's disk cache uses
(``--embedanalysis_cache_dir`` or its default; the directory is created 0700), never in the
logdir: the logs stay read-only to the tab. With no cache directory (``none``) or one that
can't be used, tags are kept in memory and `persistent` says so.

Bounded: at most MAX_ROWS_PER_WRITE rows per write, MAX_LABEL_CHARS per corrected label, and
the database at most `max_bytes` (writes past it are refused; clearing tags always works).
Thread-safe: TensorBoard serves requests on several threads; one connection, used under a
lock, in WAL mode (readers in other processes are not blocked by a writer).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from tb_embedanalysis.errors import Unanalysable

logger = logging.getLogger(__name__)

TAGS = ("label error", "ambiguous", "ok")
DB_NAME = "tags.sqlite3"
MAX_ROWS_PER_WRITE = 10_000
MAX_LABEL_CHARS = 200
DEFAULT_MAX_BYTES = 128 * 1024 ** 2  # ~400,000 tagged rows
_BUSY_SECONDS = 5.0  # wait this long for another process's write before failing


def default_cache_dir() -> str:
    """The tab's cache directory unless --embedanalysis_cache_dir says otherwise (the disk
    cache and this database): ~/.cache/tb-embedanalysis, or $XDG_CACHE_HOME/tb-embedanalysis."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "tb-embedanalysis")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tags (
    fingerprint TEXT NOT NULL,
    row INTEGER NOT NULL,
    tag TEXT,
    corrected_label TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (fingerprint, row)
) WITHOUT ROWID
"""

#: "leave this field as it is" in `TagStore.write` (None clears it).
KEEP = object()


class TagStoreFull(Unanalysable):
    """The database reached its size cap (HTTP 422)."""


class TagStoreUnreadable(Unanalysable):
    """The database file is damaged, or is not an SQLite database (HTTP 422, CLI exit 2)."""


@contextlib.contextmanager
def _readable():
    """sqlite3's errors about the file (damaged pages, not a database, locked past the busy
    timeout) as TagStoreUnreadable: a file the user can move away, not a bug of ours."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        raise TagStoreUnreadable("the tag database %s cannot be read (%s); if it is damaged, move it away to "
                                 "start a new one" % (DB_NAME, error)) from None


class TagStore:
    """read(fingerprint) / write(fingerprint, rows, tag=, corrected_label=); see module doc."""

    def __init__(self, directory: Optional[str], *, max_bytes: int = DEFAULT_MAX_BYTES, fallback: bool = True):
        """fallback: if the database in `directory` cannot be opened, keep tags in memory
        (TensorBoard: the tab keeps working) instead of raising OSError/TagStoreUnreadable
        (the CLI, which only reads the database)."""
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self.path: Optional[str] = None
        connection = None
        if directory is not None:
            try:
                with _readable():
                    connection = self._open_file(directory)
            except (OSError, sqlite3.Error, TagStoreUnreadable) as error:
                if not fallback:
                    raise
                logger.warning("embedanalysis: cannot keep tags in %s (%s); tags are kept in memory only "
                               "until TensorBoard stops", directory, getattr(error, "strerror", None) or error)
                self.path = None
        if connection is None:
            connection = sqlite3.connect(":memory:", check_same_thread=False)
            connection.execute(_SCHEMA)
        self._db = connection

    @property
    def persistent(self) -> bool:
        return self.path is not None

    def _open_file(self, directory: str) -> sqlite3.Connection:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        path = os.path.join(directory, DB_NAME)
        # Made 0600 before SQLite sees it (its -wal/-shm files take the same mode); a
        # symlink or anything but a regular file in its place is refused.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0),
                     0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError("%s is not a regular file" % DB_NAME)
        finally:
            os.close(fd)
        connection = sqlite3.connect(path, timeout=_BUSY_SECONDS, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            with connection:
                connection.execute(_SCHEMA)
        except sqlite3.Error:
            connection.close()
            raise
        self.path = path
        return connection

    # -- reading ---------------------------------------------------------------------------
    def read(self, fingerprint: str) -> List[Tuple[int, Optional[str], Optional[str], float]]:
        """(row, tag, corrected_label, updated) of every tagged row, by row."""
        with self._lock, _readable():
            cursor = self._db.execute("SELECT row, tag, corrected_label, updated FROM tags WHERE fingerprint = ? "
                                      "ORDER BY row", (fingerprint,))
            return [(int(r), t, c, float(u)) for r, t, c, u in cursor]

    def rows_tagged(self, fingerprint: str, tags: Iterable[str]) -> List[int]:
        """Rows whose tag is one of `tags`, ascending."""
        tags = list(tags)
        if not tags:
            return []
        marks = ",".join("?" * len(tags))
        with self._lock, _readable():
            cursor = self._db.execute("SELECT row FROM tags WHERE fingerprint = ? AND tag IN (%s) ORDER BY row" % marks,
                                      (fingerprint, *tags))
            return [int(r) for (r,) in cursor]

    def size_bytes(self) -> int:
        with self._lock, _readable():
            return self._size()

    def _size(self) -> int:
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        size = self._db.execute("PRAGMA page_size").fetchone()[0]
        wal = 0
        if self.path is not None:
            try:
                wal = os.stat(self.path + "-wal").st_size
            except OSError:
                pass
        return int(pages) * int(size) + wal

    # -- writing ---------------------------------------------------------------------------
    def write(self, fingerprint: str, rows: Sequence[int], *, tag=KEEP, corrected_label=KEEP,
              now: Optional[float] = None) -> int:
        """Set `tag` and/or `corrected_label` of `rows` (KEEP: unchanged, None: cleared); a row
        left with neither is deleted. Arguments are trusted (queries/tags.py validates them).
        Returns the number of rows written. Raises TagStoreFull past the size cap, unless the
        write only clears."""
        if tag is KEEP and corrected_label is KEEP:
            return 0
        clearing = tag in (KEEP, None) and corrected_label in (KEEP, None)
        now = time.time() if now is None else now
        params = [(fingerprint, int(row), None if tag is KEEP else tag,
                   None if corrected_label is KEEP else corrected_label, now) for row in rows]
        updates = ["updated = excluded.updated"]
        if tag is not KEEP:
            updates.append("tag = excluded.tag")
        if corrected_label is not KEEP:
            updates.append("corrected_label = excluded.corrected_label")
        with self._lock, _readable():
            if not clearing and self._size() > self.max_bytes:
                raise TagStoreFull("the tag database is full (%.1f MB, at most %.1f MB): clear tags, or move %s "
                                   "away to start a new one" % (self._size() / 1024 ** 2, self.max_bytes / 1024 ** 2,
                                                                DB_NAME))
            with self._db:  # one transaction: all rows or none
                self._db.executemany(
                    "INSERT INTO tags (fingerprint, row, tag, corrected_label, updated) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (fingerprint, row) DO UPDATE SET " + ", ".join(updates), params)
                self._db.execute("DELETE FROM tags WHERE fingerprint = ? AND tag IS NULL AND corrected_label IS NULL",
                                 (fingerprint,))
        return len(params)

    def counts(self, fingerprint: str) -> Dict[str, int]:
        """{tag: rows} for every tag (0 included), plus "corrected": rows with a corrected label."""
        with self._lock, _readable():
            found = dict(self._db.execute("SELECT tag, COUNT(*) FROM tags WHERE fingerprint = ? AND tag IS NOT NULL "
                                          "GROUP BY tag", (fingerprint,)).fetchall())
            corrected = self._db.execute("SELECT COUNT(*) FROM tags WHERE fingerprint = ? AND corrected_label IS NOT "
                                         "NULL", (fingerprint,)).fetchone()[0]
        counts = {name: int(found.get(name, 0)) for name in TAGS}
        counts["corrected"] = int(corrected)
        return counts

    def close(self) -> None:
        with self._lock:
            self._db.close()
