"""Named bookmarks: a view of the tab (its URL state: embedding, step, map, colours,
selected point, search…) saved under a name, listed per embedding, shared as a link.

State, beside the tags: a `bookmarks` table in the tag database (tags.py), so bookmarks get
the same file (one `tags.sqlite3` to copy), the same durability (every write checkpointed,
a replaced file noticed), the same size cap and the same worded errors. A bookmark belongs
to a run and an embedding *name*, not to a content fingerprint: a view stays meaningful
when training writes another step. Arguments are trusted (queries/bookmarks.py checks them).
"""

from __future__ import annotations

import sqlite3
import time
from typing import List, Optional, Tuple

from tb_embedanalysis.tags import TagStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS bookmarks (
    run TEXT NOT NULL,
    embedding TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (run, embedding, name)
) WITHOUT ROWID
"""

Bookmark = Tuple[str, str, float]  # name, state, updated (seconds since the epoch)


def _has_table(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'bookmarks'").fetchone() is not None


class BookmarkStore:
    """list / count / save / delete the bookmarks of one (run, embedding) in `tags`' file."""

    def __init__(self, tags: TagStore):
        self.tags = tags

    def list(self, run: str, embedding: str) -> List[Bookmark]:
        """Every bookmark of the embedding, most recently saved first."""
        def query(db):
            if not _has_table(db):  # nothing saved yet (a read never creates the table)
                return []
            cursor = db.execute("SELECT name, state, updated FROM bookmarks WHERE run = ? AND embedding = ? "
                                "ORDER BY updated DESC, name", (run, embedding))
            return [(n, s, float(u)) for n, s, u in cursor]
        return self.tags.read_with(query)

    def save(self, run: str, embedding: str, name: str, state: str, *, limit: int,
             now: Optional[float] = None) -> Optional[int]:
        """Save (or replace) bookmark `name`; None when the embedding already has `limit`
        others (nothing written), else how many it has now."""
        stamp = time.time() if now is None else now

        def apply(db):
            db.execute(SCHEMA)
            count = db.execute("SELECT COUNT(*) FROM bookmarks WHERE run = ? AND embedding = ? AND name != ?",
                               (run, embedding, name)).fetchone()[0]
            if count >= limit:
                return None
            db.execute("INSERT INTO bookmarks (run, embedding, name, state, updated) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (run, embedding, name) DO UPDATE SET state = excluded.state, "
                       "updated = excluded.updated", (run, embedding, name, state, stamp))
            return int(count) + 1
        return self.tags.transact(apply)

    def delete(self, run: str, embedding: str, name: str) -> bool:
        """Remove bookmark `name`; whether there was one."""
        def apply(db):
            if not _has_table(db):
                return False
            cursor = db.execute("DELETE FROM bookmarks WHERE run = ? AND embedding = ? AND name = ?",
                                (run, embedding, name))
            return cursor.rowcount > 0
        return self.tags.transact(apply, clearing=True)
