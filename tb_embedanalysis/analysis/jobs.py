"""Background jobs with progress, single-flight per key.

`Jobs.start(key, fn)` runs fn(report) in a daemon thread unless a job for `key` is already
running, in which case the caller shares it; `report(fraction, message)` updates what
pollers see. A failed job is forgotten after its error has been handed to its waiters, so
the next request retries instead of serving a stale failure forever.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, Hashable, Optional

ProgressCallback = Callable[[float, str], None]


class Job:
    """One computation: progress in [0, 1], message, and finally result or error."""

    def __init__(self, key: Hashable, message: str):
        self.key = key
        self.progress = 0.0
        self.message = message
        self.result = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()

    def report(self, progress: float, message: Optional[str] = None) -> None:
        self.progress = min(1.0, max(self.progress, float(progress)))  # never goes backwards
        if message is not None:
            self.message = message

    def wait(self, on_progress: Optional[ProgressCallback] = None, poll: float = 0.2):
        """Block until done; call on_progress(progress, message) while waiting. Returns the
        result or raises the job's error."""
        while not self.done.wait(poll if on_progress is not None else None):
            on_progress(self.progress, self.message)
        if on_progress is not None:
            on_progress(1.0, self.message)
        if self.error is not None:
            raise self.error
        return self.result


class Jobs:
    """Thread-safe registry of running jobs, at most one per key."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: Dict[Hashable, Job] = {}

    def start(self, key: Hashable, fn: Callable[[Job], object], *, message: str = "",
              on_done: Optional[Callable[[object], None]] = None) -> Job:
        """The running job for `key`, or a new one running fn(job) in a daemon thread.
        on_done(result) runs in that thread before waiters wake (e.g. to store the result)."""
        with self._lock:
            job = self._running.get(key)
            if job is not None:
                return job
            job = self._running[key] = Job(key, message)

        def run():
            try:
                job.result = fn(job)
                if on_done is not None:
                    on_done(job.result)
                job.progress = 1.0
            except BaseException as error:  # noqa: BLE001 - handed to whoever waits for it
                job.error = error
            finally:
                with self._lock:
                    self._running.pop(key, None)
                job.done.set()

        threading.Thread(target=run, name="embedanalysis:%s" % (key[0] if isinstance(key, tuple) else key),
                         daemon=True).start()
        return job

    def running(self, key: Hashable) -> Optional[Job]:
        with self._lock:
            return self._running.get(key)
