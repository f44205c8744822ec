"""Bookmark requests (bookmarks.py stores them): validated here, once.

A bookmark's `state` is the tab's URL state (frontend/state.js: `run=…&emb=…&proj=…`), kept
as text the tab reads back; the server checks only its size and characters. Bounded: at
most MAX_BOOKMARKS per embedding, names of MAX_NAME_CHARS, states of MAX_STATE_CHARS.
"""

from __future__ import annotations

import datetime
import unicodedata

from tb_embedanalysis.bookmarks import BookmarkStore
from tb_embedanalysis.errors import InvalidArgument, NotFound, Unanalysable
from tb_embedanalysis.quoting import excerpt

MAX_BOOKMARKS = 100
MAX_NAME_CHARS = 80
MAX_STATE_CHARS = 4000
_FIELDS = ("run", "embedding", "name", "state", "delete")


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="seconds")


def bookmarks(store: BookmarkStore, run: str, embedding: str) -> dict:
    """GET /bookmarks: the embedding's bookmarks, most recent first."""
    listed = [{"name": name, "state": state, "updated": _iso(updated)}
              for name, state, updated in store.list(run, embedding)]
    return {"run": run, "embedding": embedding, "bookmarks": listed, "max": MAX_BOOKMARKS,
            "persistent": store.tags.persistent}


def _text(body: dict, field: str, limit: int) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument("field %r must be non-empty text" % field)
    value = value.strip()
    if len(value) > limit:
        raise InvalidArgument("field %r is too long (%d characters, at most %d)" % (field, len(value), limit))
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in value):
        raise InvalidArgument("field %r must not hold control characters (tabs, line breaks, ...)" % field)
    return value


def write_bookmark(store: BookmarkStore, run: str, embedding: str, body: dict) -> dict:
    """POST /bookmarks (run and embedding checked by the caller): save {name, state}, or
    {name, delete: true}; answers the list afterwards."""
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise InvalidArgument("unknown field %s; fields: %s" % (excerpt(unknown[0]), ", ".join(_FIELDS)))
    name = _text(body, "name", MAX_NAME_CHARS)
    delete = body.get("delete", False)
    if not isinstance(delete, bool):
        raise InvalidArgument("field 'delete' must be true or false")
    if delete:
        if "state" in body:
            raise InvalidArgument("field 'state' is not used with 'delete'")
        if not store.delete(run, embedding, name):
            raise NotFound("no bookmark named %s for %s/%s" % (excerpt(name), excerpt(run), excerpt(embedding)))
    else:
        state = _text(body, "state", MAX_STATE_CHARS)
        if store.save(run, embedding, name, state, limit=MAX_BOOKMARKS) is None:
            raise Unanalysable("embedding %s already has %d bookmarks, the most kept: delete one first"
                               % (excerpt(embedding), MAX_BOOKMARKS))
    return bookmarks(store, run, embedding)
