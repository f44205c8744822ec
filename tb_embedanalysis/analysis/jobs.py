"""Background jobs with progress: single-flight per key, a bounded number running at once.

`Jobs.run(key, fn)` answers the result of fn(job) if it finishes within `sync_seconds`,
else `Pending(progress, message)`; later calls with the same key join the same job. At
most `workers` jobs *compute* at a time (a permit each: a t-SNE of every step must not
start a thread per step on a 2-core machine); the others wait for a permit and report
"queued" as their message. Threads are bounded too (4 × workers, at least 8).

A job that needs another result calls `Jobs.compute(key, fn)` *inside* its own thread: the
sub-result is computed right there, on the job's permit, unless another thread has it
already; then the job gives its permit back while it waits. So a permit is only ever held
by a thread that computes: a cheap PCA is not stuck behind a job that merely waits for a
kNN graph, and since keys form a DAG nothing can deadlock.

A job may have a `first` part: bounded work whose result its pollers answer with meanwhile
(the sample's estimate of /clusters, a second or so). It runs as soon as the job has a thread,
before the job waits for its permit, and its sub-results take none: the tab's first answer is
not queued behind the map and a graph already holding both permits.

A failed job is forgotten once its error has been handed to its waiters, so the next
request retries instead of serving a stale failure forever.

When the interpreter exits (TensorBoard's Ctrl+C or SIGTERM handler calls sys.exit), a
running job stops at its next progress report with `Cancelled`: the pool's threads are not
daemons (a daemon thread inside TensorFlow's reader aborts the process at exit), and
Python waits for them, so without this `kill` or Ctrl+C waited for the whole cold pass
(over a minute at 1,000,000 points).
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread  # registers its exit join now: see _on_exit
import hashlib
import threading
import time
from typing import Callable, Dict, Hashable, List, Optional, Union

from tb_embedanalysis.analysis import heap
from tb_embedanalysis.analysis.progress import ProgressFn
from tb_embedanalysis.analysis.reports import Pending

QUEUED = "queued"
#: An ETA is extrapolated only once the computation has run this long and got this far:
#: before, its rate says nothing (and the first blocks of a graph are the slowest).
ETA_MIN_SECONDS = 1.0
ETA_MIN_PROGRESS = 0.02


class Cancelled(Exception):
    """Raised from Job.report once the interpreter is exiting: the job stops there."""


_exiting = threading.Event()


def _on_exit() -> None:
    _exiting.set()


# threading._register_atexit: called when the interpreter starts to exit, before it joins
# non-daemon threads, last registered first. concurrent.futures.thread registers the join of
# every pool's threads when it is first imported (concurrent.futures imports it lazily), so
# it is imported at the top of this module: ours must run before that join, or the join
# waits for the job. Python >= 3.9; without it jobs run to the end.
if hasattr(threading, "_register_atexit"):
    threading._register_atexit(_on_exit)


def exiting() -> bool:
    """Whether the interpreter has started to exit (a background thread should stop now)."""
    return _exiting.is_set()


class Job:
    """One computation: progress in [0, 1], message, and finally result or error."""

    def __init__(self, key: Hashable, message: str):
        self.key = key
        self.progress = 0.0
        self.message = QUEUED
        self.title = message
        self.result = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.started = False  # guarded by Jobs._lock
        self.started_at: Optional[float] = None  # monotonic time it got its permit
        #: The sub-computation this job computes or waits for right now (Jobs.compute).
        self.stage: Optional[Job] = None
        #: A partial result its pollers may show until the end (`show`), or None.
        self.preview: Optional[object] = None
        self._listeners: List[Callable[[float, str], None]] = []
        #: News for callers polling this job: its end, or the end of a sub-result it computed
        #: (e.g. the sample's estimate, which a 202 answer carries as a first answer).
        self._news = threading.Condition()
        self._news_count = 0

    def report(self, progress: float, message: Optional[str] = None) -> None:
        if _exiting.is_set():
            raise Cancelled("the server is shutting down")
        self.progress = min(1.0, max(self.progress, float(progress)))  # never goes backwards
        if message is not None:
            self.message = message
        for listener in list(self._listeners):
            listener(self.progress, self.message)

    def show(self, preview: object) -> None:
        """Hand the pollers a partial result (a map's layout in progress): kept as `preview`
        for their Pending answers, and news, so a poll waiting in `settle` answers with it now."""
        self.preview = preview
        self.announce()

    def waited_on(self) -> "Job":
        """The innermost computation this job is in: itself, or its stage's (recursively)."""
        job, seen = self, set()
        while job.stage is not None and id(job) not in seen:
            seen.add(id(job))
            job = job.stage
        return job

    @property
    def task(self) -> str:
        """A short id of this computation, the same for every question that waits on it."""
        return hashlib.sha256(repr(self.key).encode("utf-8")).hexdigest()[:12]

    def eta(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds left, extrapolated linearly from the progress so far; None while queued,
        too early, or done."""
        if self.started_at is None or self.progress >= 1.0:
            return None
        elapsed = (time.monotonic() if now is None else now) - self.started_at
        if elapsed < ETA_MIN_SECONDS or self.progress < ETA_MIN_PROGRESS:
            return None
        return elapsed * (1.0 - self.progress) / self.progress

    def pending(self) -> Pending:
        """What a caller waiting on this job is told (reports.Pending)."""
        inner = self.waited_on()
        # A queued computation is named by what it will compute: "outlier scores (queued)".
        said = inner.message if inner.message != QUEUED or not inner.title else "%s (%s)" % (inner.title, QUEUED)
        return Pending(progress=float(self.progress), message=self.message, task=inner.task,
                       task_progress=float(inner.progress), task_message=said, eta_seconds=inner.eta(),
                       preview=self.preview)

    def announce(self) -> None:
        """Wake the callers in `settle`: the job ended, or a sub-result marked as news did."""
        with self._news:
            self._news_count += 1
            self._news.notify_all()

    def settle(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for this job to end or to announce news; True when it
        ended. A poll answers as soon as there is something new to tell (the estimate a /clusters
        job made first), not after the whole wait."""
        with self._news:
            seen = self._news_count
            self._news.wait_for(lambda: self.done.is_set() or self._news_count != seen, timeout)
        return self.done.is_set()

    def follow(self, listener: Callable[[float, str], None]) -> None:
        """Call listener(progress, message) on every report (a parent mirroring a child)."""
        self._listeners.append(listener)

    def wait(self, on_progress: ProgressFn = None, poll: float = 0.2):
        """Block until done, calling on_progress(progress, message) while waiting; the
        result, or the job's error raised."""
        if on_progress is None:
            self.done.wait()
        else:
            while not self.done.wait(poll):
                on_progress(self.progress, self.message)
            on_progress(1.0, self.message)
        if self.error is not None:
            raise self.error
        return self.result


class Jobs:
    """Thread-safe registry of jobs, at most one per key, at most `workers` computing."""

    def __init__(self, *, workers: int = 2, sync_seconds: float = 0.5,
                 on_done: Optional[Callable[[Hashable, object], None]] = None):
        if workers < 1:
            raise ValueError("workers must be at least 1, got %d" % workers)
        self.sync_seconds = float(sync_seconds)
        self._on_done = on_done
        self._lock = threading.Lock()
        self._jobs: Dict[Hashable, Job] = {}
        #: Computations started so far, jobs and sub-results alike: what a warm start did not do.
        self.started = 0
        self._permits = threading.Semaphore(workers)
        self._local = threading.local()  # .holding: this thread holds a permit
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(8, 4 * workers),
                                                           thread_name_prefix="embedanalysis")

    def run(self, key: Hashable, fn: Callable[[Job], object], *, message: str = "", wait: bool = False,
            on_progress: ProgressFn = None, first: Optional[Callable[[Job], None]] = None) -> Union[object, Pending]:
        """fn(job)'s result for `key`, computed once however many callers ask.

        wait=True blocks (reporting to on_progress); wait=False waits up to sync_seconds and
        then answers Pending with the job's progress. first(job): bounded work before fn
        that needs no permit (see the module docstring)."""
        job, new = self._job(key, message)
        if new:
            self._pool.submit(self._execute, job, fn, True, first)
        if wait:
            return job.wait(on_progress)
        if job.settle(self.sync_seconds):
            return job.wait()
        return job.pending()

    def compute(self, key: Hashable, fn: Callable[[Job], object], *, message: str = "",
                on_progress: ProgressFn = None, news: bool = False):
        """fn(job)'s result for `key`, in this thread unless another thread computes it
        already (then wait for it). For a job that needs a sub-result; `news`: one its pollers
        answer with (a first answer), so its end wakes them (Job.settle)."""
        job, _ = self._job(key, message)
        if on_progress is not None:
            job.follow(on_progress)
        parent: Optional[Job] = getattr(self._local, "job", None)
        if parent is not None:
            parent.stage = job  # what the parent's waiters are told about (Job.pending)
        try:
            holding = getattr(self._local, "holding", False)
            need_permit = not holding and not getattr(self._local, "in_first", False)
            if not self._execute(job, fn, need_permit) and not job.done.is_set() and holding:
                self._permits.release()  # waiting is not computing: let a queued job run
                self._local.holding = False
                job.done.wait()
                self._permits.acquire()
                self._local.holding = True
            return job.wait()
        finally:
            if parent is not None:
                parent.stage = None
                if news:
                    parent.announce()

    def _job(self, key, message):
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                return job, False
            job = self._jobs[key] = Job(key, message)
            return job, True

    def _execute(self, job: Job, fn, need_permit: bool, first: Optional[Callable[[Job], None]] = None) -> bool:
        """Run first(job), then fn(job), in this thread unless another thread has the job
        (then False at once)."""
        with self._lock:
            if job.started:
                return False
            job.started = True
            self.started += 1
        outer: Optional[Job] = getattr(self._local, "job", None)
        self._local.job = job
        acquired = False
        try:
            if first is not None:  # before the permit, and its sub-results take none
                self._local.in_first = True
                try:
                    first(job)
                finally:
                    self._local.in_first = False
            if need_permit:
                self._permits.acquire()  # the job says "queued" until here
                self._local.holding = acquired = True
            job.started_at = time.monotonic()
            job.report(0.0, job.title)
            job.result = fn(job)
            if self._on_done is not None:
                self._on_done(job.key, job.result)
            job.report(1.0)
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits for it
            job.error = error
        finally:
            self._local.job = outer
            if acquired:
                self._local.holding = False
                self._permits.release()
            with self._lock:
                if self._jobs.get(job.key) is job:
                    del self._jobs[job.key]
            job.done.set()
            job.announce()
            heap.trim()  # the job's temporaries are freed: give their pages back (heap.py)
        return True

    def running(self, key: Hashable) -> Optional[Job]:
        with self._lock:
            return self._jobs.get(key)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
