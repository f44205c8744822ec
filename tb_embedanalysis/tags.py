"""Tags users give points ("label error", "ambiguous", "ok", a corrected label), kept on disk.

State, not analysis: the one place tags are stored. A tag belongs to a row of an embedding's
*content* (`Embedding.fingerprint`, the hash of its vectors, and the row index), so it
follows the data, not a file name, and a changed tensor starts without tags.

Stored in an embedded SQLite database (stdlib `sqlite3`): no server to run, nothing to
install, and transactional, so a crash or two TensorBoards on one cache directory never
leave half a write. It lives in the cache directory the engine's disk cache uses
(``--embedanalysis_cache_dir`` or its default; the directory is created 0700), never in the
logdir: the logs stay read-only to the tab. With no cache directory (``none``) tags are kept
in memory and `persistent` says so; a cache directory that cannot be used is a
`TagStoreError` at every use until it is fixed, never a silent fallback to memory.

What users do to files (tags_file.py opens the file and words its failures):

* ``tags.sqlite3`` alone is complete: every write is checkpointed out of the write-ahead
  log before it returns, and the database is checkpointed and closed when the interpreter
  exits (TensorBoard's SIGTERM and Ctrl+C call sys.exit), which removes the -wal and -shm
  files. So a user may copy or move that one file.
* A database deleted or replaced while TensorBoard runs (the cache directory removed, a
  backup copied over it) is noticed before every read and write, by the identity (device,
  inode) of the file at its path, and the one now at the path is opened (created if
  missing); a write is checked again after its commit and redone once if the file changed
  meanwhile. So an answer to a write means the tag is in the file at the path.
* A damaged database, a read-only or full disk: a `TagStoreError` (422 in the tab, exit 2 in
  the CLI) naming the file and saying what to do; nothing half-written.

Bounded: at most MAX_ROWS_PER_WRITE rows per write, MAX_LABEL_CHARS per corrected label, and
the database at most `max_bytes` (writes past it are refused; clearing tags always works).
Thread-safe: TensorBoard serves requests on several threads; one connection, used under a
lock, in WAL mode (readers in other processes are not blocked by a writer).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import sqlite3
import threading
import time
import weakref
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

from tb_embedanalysis.tags_file import (
    DB_NAME, SCHEMA, Identity, TagStoreClosed, TagStoreError, TagStoreFull, TagStoreUnreadable,
    TagStoreUnwritable, checkpoint, explained, identity_at, move_away, named, open_database, open_read_only,
)

__all__ = ["DB_NAME", "KEEP", "MAX_LABEL_CHARS", "MAX_ROWS_PER_WRITE", "TAGS", "TagStore", "TagStoreClosed",
           "TagStoreError", "TagStoreFull", "TagStoreUnreadable", "TagStoreUnwritable", "default_cache_dir"]

logger = logging.getLogger(__name__)

TAGS = ("label error", "ambiguous", "ok")
MAX_ROWS_PER_WRITE = 10_000
MAX_LABEL_CHARS = 200
DEFAULT_MAX_BYTES = 128 * 1024 ** 2  # ~400,000 tagged rows

T = TypeVar("T")


def default_cache_dir() -> str:
    """The tab's cache directory unless --embedanalysis_cache_dir says otherwise (the disk
    cache and this database): ~/.cache/tb-embedanalysis, or $XDG_CACHE_HOME/tb-embedanalysis."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "tb-embedanalysis")


#: "leave this field as it is" in `TagStore.write` (None clears it).
KEEP = object()


def _close_at_exit(ref: "weakref.ref[TagStore]") -> None:
    store = ref()
    if store is not None:
        store.close()


class TagStore:
    """read(fingerprint) / write(fingerprint, rows, tag=, corrected_label=); see module doc."""

    def __init__(self, directory: Optional[str], *, max_bytes: int = DEFAULT_MAX_BYTES, strict: bool = False,
                 read_only: bool = False, shown: Optional[str] = None):
        """directory: where tags.sqlite3 is (None: tags in memory only). A database that cannot
        be opened raises its TagStoreError here when `strict` (the CLI); else (TensorBoard,
        which must start anyway) the failure is logged, and every later use tries again and
        raises it until the user has fixed what it says: tags are never kept in memory
        instead, where a tag acknowledged would not survive. read_only (the CLI; strict too):
        open an existing database without creating or changing anything. shown: how messages name
        the directory (the plugin's answers show no absolute server path); default `directory`."""
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._directory = directory
        self._read_only = read_only
        self._where = named(shown or directory or "memory")
        self._closed = False
        self.path: Optional[str] = None if directory is None else os.path.join(directory, DB_NAME)
        self._identity: Optional[Identity] = None
        self._db: Optional[sqlite3.Connection] = None
        self._at_exit: Optional[Callable[[], None]] = None
        if directory is None:
            self._db = sqlite3.connect(":memory:", check_same_thread=False)
            self._db.execute(SCHEMA)
            return
        try:
            if read_only:
                self._db, _ = open_read_only(directory, self._where)
            else:
                self._db, _, self._identity = open_database(directory, self._where)
        except TagStoreError as error:
            if strict or read_only:
                raise
            logger.warning("embedanalysis: %s; tagging answers this until it is fixed", error)
        if not read_only:
            # Checkpointed and closed when the interpreter exits, so tags.sqlite3 is complete
            # on its own even if a write's own checkpoint was kept from finishing.
            self._at_exit = functools.partial(_close_at_exit, weakref.ref(self))
            atexit.register(self._at_exit)

    @property
    def persistent(self) -> bool:
        """Whether tags go to a file (else they last until the process ends)."""
        return self.path is not None

    # -- the connection: the file now at the path ------------------------------------------
    def _connection(self, *, writing: bool = False) -> sqlite3.Connection:
        """The connection to the database now at `self.path` (called under the lock): opened
        again when the file was deleted or replaced since it was opened, or could not be
        opened before. Raises TagStoreError when it cannot be."""
        if self._closed:
            raise TagStoreClosed("TensorBoard is stopping: the tag database %s is closed" % self._where)
        if self._directory is None or self._read_only:  # in memory; or the CLI, which reads once
            assert self._db is not None
            return self._db
        assert self.path is not None
        if self._db is not None and identity_at(self.path) == self._identity:
            return self._db
        if self._db is not None:
            logger.warning("embedanalysis: the tag database %s was deleted or replaced while TensorBoard ran; "
                           "using the one now at that path (a new, empty one if there is none)", self.path)
            self._drop()
        self._db, _, self._identity = open_database(self._directory, self._where, writing=writing)
        return self._db

    def _drop(self) -> None:
        """Close the connection to a file no longer at the path: what it holds is
        checkpointed into that file (wherever it went) and its -wal/-shm removed, so that
        they are not taken for the new database's."""
        db, self._db = self._db, None
        if db is None:
            return
        try:
            db.close()
        except sqlite3.Error as error:
            logger.warning("embedanalysis: closing the replaced tag database %s: %s", self.path, error)

    def _still_there(self) -> bool:
        """Whether the file written is still the one at the path (always, in memory)."""
        return self._identity is None or (self.path is not None and identity_at(self.path) == self._identity)

    def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock, explained(self._where, writing=False):
            return query(self._connection())

    # -- reading ---------------------------------------------------------------------------
    def read(self, fingerprint: str) -> List[Tuple[int, Optional[str], Optional[str], float]]:
        """(row, tag, corrected_label, updated) of every tagged row, by row."""
        def query(db):
            cursor = db.execute("SELECT row, tag, corrected_label, updated FROM tags WHERE fingerprint = ? "
                                "ORDER BY row", (fingerprint,))
            return [(int(r), t, c, float(u)) for r, t, c, u in cursor]
        return self._read(query)

    def rows_tagged(self, fingerprint: str, tags: Iterable[str]) -> List[int]:
        """Rows whose tag is one of `tags`, ascending."""
        tags = list(tags)
        if not tags:
            return []
        marks = ",".join("?" * len(tags))

        def query(db):
            cursor = db.execute("SELECT row FROM tags WHERE fingerprint = ? AND tag IN (%s) ORDER BY row" % marks,
                                (fingerprint, *tags))
            return [int(r) for (r,) in cursor]
        return self._read(query)

    def size_bytes(self) -> int:
        return self._read(self._size)

    def _size(self, db: sqlite3.Connection) -> int:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        wal = 0
        if self.path is not None:
            try:
                wal = os.stat(self.path + "-wal").st_size
            except OSError:
                pass
        return int(pages) * int(size) + wal

    def counts(self, fingerprint: str) -> Dict[str, int]:
        """{tag: rows} for every tag (0 included), plus "corrected": rows with a corrected label."""
        def query(db):
            found = dict(db.execute("SELECT tag, COUNT(*) FROM tags WHERE fingerprint = ? AND tag IS NOT NULL "
                                    "GROUP BY tag", (fingerprint,)).fetchall())
            corrected = db.execute("SELECT COUNT(*) FROM tags WHERE fingerprint = ? AND corrected_label IS NOT "
                                   "NULL", (fingerprint,)).fetchone()[0]
            return found, corrected
        found, corrected = self._read(query)
        counts = {name: int(found.get(name, 0)) for name in TAGS}
        counts["corrected"] = int(corrected)
        return counts

    # -- writing ---------------------------------------------------------------------------
    def write(self, fingerprint: str, rows: Sequence[int], *, tag=KEEP, corrected_label=KEEP,
              now: Optional[float] = None) -> int:
        """Set `tag` and/or `corrected_label` of `rows` (KEEP: unchanged, None: cleared); a row
        left with neither is deleted. Arguments are trusted (queries/tags.py validates them).
        Returns the number of rows written, once they are in the file at the path and in its
        main file (checkpointed). Raises TagStoreFull past the size cap, unless the write only
        clears; TagStoreError when the file cannot take it (nothing written then)."""
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
        statement = ("INSERT INTO tags (fingerprint, row, tag, corrected_label, updated) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT (fingerprint, row) DO UPDATE SET " + ", ".join(updates))

        def apply(db: sqlite3.Connection) -> int:
            db.executemany(statement, params)
            db.execute("DELETE FROM tags WHERE fingerprint = ? AND tag IS NULL AND corrected_label IS NULL",
                       (fingerprint,))
            return len(params)
        return self.transact(apply, clearing=clearing)

    def read_with(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """query(connection) on the database now at the path, under the lock: another table
        in the same file (bookmarks.py) reads with the same checks and errors as the tags."""
        return self._read(query)

    def transact(self, apply: Callable[[sqlite3.Connection], T], *, clearing: bool = False) -> T:
        """apply(connection) as one transaction in the file at the path, checkpointed before it
        returns and redone once if the file was replaced meanwhile (the module doc). Refused
        with TagStoreFull past the size cap unless `clearing` (it only removes)."""
        if self._read_only:
            raise TagStoreUnwritable("the tag database %s was opened for reading only" % self._where)
        with self._lock:
            # Twice at most: a file replaced during the first write is written again in the new one.
            for _ in range(2):
                with explained(self._where, writing=True):
                    db = self._connection(writing=True)
                    if not clearing and self._size(db) > self.max_bytes:
                        raise TagStoreFull(
                            "the tag database %s is full (%.1f MB, at most %.1f MB): clear tags you no longer need; "
                            "or keep them (tb-embedanalysis tags --export csv) and %s"
                            % (self._where, self._size(db) / 1024 ** 2, self.max_bytes / 1024 ** 2, move_away()))
                    with db:  # one transaction: all rows or none
                        result = apply(db)
                    if self._identity is not None and not checkpoint(db):
                        logger.info("embedanalysis: a reader kept the tag database's log from being checkpointed; "
                                    "the next write or the exit will")
                if self._still_there():
                    return result
            raise TagStoreUnwritable("the tag database %s was deleted or replaced twice while these tags were written; "
                                     "they may not be on disk: write them again" % self._where)

    def close(self) -> None:
        """Checkpoint and close (the -wal and -shm files go); later calls raise TagStoreClosed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._at_exit is not None:
                atexit.unregister(self._at_exit)
            db, self._db = self._db, None
            if db is None:
                return
            try:
                if self._identity is not None and self._still_there():
                    checkpoint(db)
                db.close()
            except sqlite3.Error as error:  # at exit: say it, the process ends anyway
                logger.warning("embedanalysis: closing the tag database %s: %s", self.path, error)
