"""What the logdir holds right now: discovery results, refreshed in the background.

Discovery reads small config files and lists checkpoints; doing it on every request would
be wasteful, doing it once would miss new training steps. The catalog keeps the last result
and refreshes it when it is older than `ttl` seconds.
"""

import threading
import time
from typing import Optional, Tuple

from tb_embedanalysis import logs
from tb_embedanalysis.logs.model import EmbeddingRef, EmbeddingSeries, RunInfo
from tb_embedanalysis.errors import NotFound


class Catalog:
    def __init__(self, logdir: str, *, ttl: float = 5.0):
        self._logdir = logdir
        self._ttl = ttl
        self._lock = threading.Lock()
        self._runs: Optional[Tuple[RunInfo, ...]] = None
        self._runs_time = 0.0
        self._active = False
        self._active_time = 0.0
        self._active_refreshing = False
        self._start_active_refresh()

    # -- is_active: never blocks ------------------------------------------------------
    def is_active(self) -> bool:
        """Cached answer to "is there a projector config?"; refreshed in the background."""
        if time.monotonic() - self._active_time > self._ttl:
            self._start_active_refresh()
        return self._active

    def _start_active_refresh(self):
        with self._lock:
            if self._active_refreshing:
                return
            self._active_refreshing = True
        thread = threading.Thread(target=self._refresh_active, name="embedanalysis-is-active", daemon=True)
        thread.start()

    def _refresh_active(self):
        try:
            self._active = bool(self._logdir) and logs.has_projector_config(self._logdir)
        except OSError:
            self._active = False
        finally:
            self._active_time = time.monotonic()
            self._active_refreshing = False

    # -- discovery --------------------------------------------------------------------
    def runs(self) -> Tuple[RunInfo, ...]:
        with self._lock:
            if self._runs is None or time.monotonic() - self._runs_time > self._ttl:
                self._runs = logs.discover(self._logdir) if self._logdir else ()
                self._runs_time = time.monotonic()
                self._active = self._active or any(run.series or run.problems for run in self._runs)
            return self._runs

    def series(self, run: str, name: str) -> EmbeddingSeries:
        runs = {info.run: info for info in self.runs()}
        if run not in runs:
            raise NotFound("unknown run %r; known runs: %s" % (run, ", ".join(sorted(runs)) or "none"))
        for series in runs[run].series:
            if series.name == name:
                return series
        names = ", ".join(series.name for series in runs[run].series) or "none"
        raise NotFound("run %r has no embedding %r; it has: %s" % (run, name, names))

    def ref(self, run: str, name: str, step: Optional[int]) -> EmbeddingRef:
        """The embedding at `step`, or at the latest step when step is None."""
        series = self.series(run, name)
        if step is None:
            return series.refs[-1]
        for ref in series.refs:
            if ref.step == step:
                return ref
        steps = ", ".join(str(s) for s in series.steps)
        raise NotFound("embedding %r of run %r has no step %d; steps: %s" % (name, run, step, steps))

    def same_name_elsewhere(self, name: str):
        """Every series called `name`, in every run (for comparing runs)."""
        return [series for info in self.runs() for series in info.series if series.name == name]
