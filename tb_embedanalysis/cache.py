"""ResultCache: the one in-memory LRU of the package, bounded in bytes.

Every result the engine keeps (prepared matrices, kNN graphs, label contexts, reports,
projections) lives in one under a `CacheKey`, and counts its bytes against one budget
(`--embedanalysis_result_cache_mb`). The other layers keep their own instances (any
hashable key): the store its loaded embeddings (`--embedanalysis_max_memory_mb`), decoded
sprites and listings; checkpoint_listing its variable maps; the catalog the steps it saw
deleted (bounded in entries: each is put with nbytes=1). Least recently used entries are
evicted first. An entry larger than the whole budget is handed back to its caller but not
kept (keeping it would evict everything else and still break the bound), unless the cache
is made with hold_newest=True (see ResultCache).

Sizes are what the result's numpy arrays hold (`nbytes_of`), not Python object overhead;
arrays shared with another entry (a graph inside a label context) are counted where they
are stored, once per entry, so the count errs on the safe (larger) side.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Any, Callable, Hashable, Optional, Tuple

import numpy as np

DEFAULT_BUDGET_BYTES = 1024 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class CacheKey:
    """What determines a result: its kind, the data it was computed from, its parameters.

    kind: "graph", "clusters", "projection", ...; data: a digest naming the input (the
    embedding's fingerprint plus metric and valid rows, see engine.Space.ident); params:
    sorted (name, value) pairs of everything else that changes the result.
    """

    kind: str
    data: str
    params: Tuple[Tuple[str, Hashable], ...] = ()

    @classmethod
    def of(cls, kind: str, data: str, **params) -> "CacheKey":
        return cls(kind, data, tuple(sorted(params.items())))

    def as_dict(self) -> dict:
        """The key as JSON-ready dict (the disk cache's key)."""
        return dict(self.params, kind=self.kind, data=self.data)


def nbytes_of(value: Any, _seen: Optional[set] = None) -> int:
    """Bytes held by the numpy arrays inside `value` (dataclasses, tuples, lists, dicts,
    objects exposing `nbytes`), each array counted once."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (str, bytes, int, float, bool, type(None))):
        return 0
    if isinstance(value, (tuple, list)):
        return sum(nbytes_of(item, seen) for item in value)
    if isinstance(value, dict):
        return sum(nbytes_of(item, seen) for item in value.values())
    nbytes = getattr(value, "nbytes", None)  # an object that knows what it holds
    if isinstance(nbytes, (int, np.integer)):
        return int(nbytes)
    if dataclasses.is_dataclass(value):
        return sum(nbytes_of(getattr(value, field.name), seen) for field in dataclasses.fields(value))
    return 0


class ResultCache:
    """Thread-safe LRU of results, bounded by the bytes they hold.

    hold_newest: keep the entry put last even when it alone exceeds the budget (everything
    older is evicted; the next put evicts it). For what is dearer to read again than to
    hold: an embedding larger than --embedanalysis_max_memory_mb is still served from
    memory to the requests that follow, not re-read for each one.
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES, *, hold_newest: bool = False):
        if budget_bytes <= 0:
            raise ValueError("the result cache budget must be positive, got %r bytes" % (budget_bytes,))
        self.budget_bytes = int(budget_bytes)
        self._hold_newest = hold_newest
        self._lock = threading.Lock()
        self._items: "collections.OrderedDict[Hashable, Tuple[Any, int]]" = collections.OrderedDict()
        self._bytes = 0
        self._computing: dict = {}  # key -> Lock of the thread computing it (see once)

    def get(self, key: Hashable) -> Any:
        """The value stored under `key`, or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, value: Any, nbytes: Optional[int] = None) -> Any:
        """Keep `value` (unless it alone exceeds the budget and hold_newest is off) and return it."""
        size = nbytes_of(value) if nbytes is None else int(nbytes)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.budget_bytes and not self._hold_newest:
                return value
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.budget_bytes and len(self._items) > 1:  # the new entry stays
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted
        return value

    def once(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        """The value under `key`, else fn() stored there: computed by one thread while the
        others asking for the same key wait for it (in their own threads: not a job)."""
        hit = self.get(key)
        if hit is not None:
            return hit
        with self._lock:
            lock = self._computing.setdefault(key, threading.Lock())
        try:
            with lock:
                hit = self.get(key)
                return hit if hit is not None else self.put(key, fn())
        finally:
            with self._lock:
                if self._computing.get(key) is lock:
                    del self._computing[key]

    def discard(self, predicate) -> None:
        """Drop every entry whose key satisfies predicate(key) (e.g. an older file version)."""
        with self._lock:
            for key in [key for key in self._items if predicate(key)]:
                self._bytes -= self._items.pop(key)[1]

    def make_room(self, nbytes: int) -> None:
        """Evict least recently used entries until `nbytes` more would fit (before building
        something that big, so old and new never coexist over the budget)."""
        with self._lock:
            while self._items and self._bytes + nbytes > self.budget_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
