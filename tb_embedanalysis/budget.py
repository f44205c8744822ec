"""The working-memory budget: what one computation may hold while it runs, on top of what
the caches keep (issue 24, item 3).

`--embedanalysis_work_memory_mb` (the CLI's `--work-memory-mb`) sets it. The analysis
questions estimate their working memory up front (analysis/estimates.py) and refuse what
would not fit (queries/rules.py `check_work_memory`); sprite decodes, which many requests
start at once, share it through a `BytesInFlight`: a decode that would pass it waits.

Imports nothing heavy: the plugin's loader reads the default from here.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

#: Default working-memory budget of one computation, in MB: it admits the tab's default
#: analysis (k = 10, hard examples and cluster statistics) of 1,000,000 points with 1,000
#: labels, and k ≤ 500 at 100,000 points, while a laptop runs two such jobs beside its
#: caches (2 GB of embeddings, 1 GB of results) without swapping.
DEFAULT_WORK_MEMORY_MB = 1536.0
MB = 1024 * 1024


def budget_bytes(work_memory_mb: float) -> int:
    """The budget in bytes; a ValueError for a budget that is not positive."""
    if not work_memory_mb > 0:
        raise ValueError("the working-memory budget must be positive, got %r MB" % (work_memory_mb,))
    return max(1, int(work_memory_mb * MB))


def mb(nbytes: float) -> int:
    """Bytes in whole MB, rounded up (a need is never understated)."""
    return -(-int(nbytes) // MB)


def fmt_mb(nbytes: float) -> str:
    """Bytes as whole MB with thousands separators, rounded up ("1,145 MB"): for messages."""
    return "{:,} MB".format(mb(nbytes))


class BytesInFlight:
    """A semaphore counted in bytes: at most `capacity` bytes held by callers at once.

    `hold(nbytes)` waits until that many more fit, then holds them for its `with` block.
    Waiters are served in arrival order (a big one is not starved by a stream of small
    ones). Asking for more than the whole capacity is a ValueError: it could never fit, so
    callers check `fits` first and refuse with their own message.
    """

    def __init__(self, capacity: int):
        if capacity <= 0:
            raise ValueError("capacity must be positive, got %r bytes" % (capacity,))
        self.capacity = int(capacity)
        self._held = 0
        self._condition = threading.Condition()
        self._queue: list = []  # tickets of waiting callers, in arrival order

    def fits(self, nbytes: int) -> bool:
        """Whether `nbytes` could ever be held (alone)."""
        return nbytes <= self.capacity

    @contextlib.contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        nbytes = max(0, int(nbytes))
        if not self.fits(nbytes):
            raise ValueError("%d bytes can never fit in a capacity of %d" % (nbytes, self.capacity))
        ticket = object()
        with self._condition:
            self._queue.append(ticket)
            try:
                self._condition.wait_for(lambda: self._queue[0] is ticket and self._held + nbytes <= self.capacity)
            finally:
                self._queue.remove(ticket)
                self._condition.notify_all()  # the next in line may fit now (or its turn came)
            self._held += nbytes
        try:
            yield
        finally:
            with self._condition:
                self._held -= nbytes
                self._condition.notify_all()

    @property
    def held(self) -> int:
        """Bytes held right now."""
        return self._held
