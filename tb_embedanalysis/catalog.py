"""What the logdir holds right now: discovery results, refreshed in the background.

Discovery reads small config files and lists checkpoints; doing it on every request would
be wasteful, doing it once would miss new training steps. The catalog keeps the last result
and discovers again when it is older than `ttl` seconds, or sooner when a cheap check
says something changed: at most every `check_interval` seconds it stats the logdir, every
config file, and the directories holding configs and checkpoints (a directory's mtime moves
whenever a file in it is created, renamed over or deleted: a new checkpoint, TF's
``checkpoint`` index, a rewritten config, a step deleted by max_to_keep). A few stat calls
per request make new steps appear within a fraction of a second, and steps deleted by
retention disappear as fast; runs nested deeper in a brand-new directory still wait for `ttl`.

Signatures are taken *before* discovery reads anything, never after: a change made while
discovery runs then differs at the next check instead of hiding until `ttl` (a step deleted
meanwhile must answer 404 "deleted", not 422 "file does not exist").
"""

import os
import threading
import time
from typing import Dict, Optional, Tuple

from tb_embedanalysis import logs
from tb_embedanalysis.cache import ResultCache
from tb_embedanalysis.logs.model import EmbeddingRef, EmbeddingSeries, RunInfo
from tb_embedanalysis.logs.paths import run_dir_of_config, signature
from tb_embedanalysis.errors import NotFound

_GONE_KEPT = 10_000  # deleted steps remembered: days of checkpoints


class Catalog:
    def __init__(self, logdir: str, *, ttl: float = 5.0, check_interval: float = 0.2):
        self._logdir = logdir
        self._ttl = ttl
        self._check_interval = check_interval
        self._lock = threading.Lock()
        self._runs: Optional[Tuple[RunInfo, ...]] = None
        self._runs_time = 0.0
        self._watched: Dict[str, Optional[tuple]] = {}  # path -> stat signature before discovery
        self._checked_time = 0.0
        # (run, name, step) that an earlier discovery listed and a later one did not: a 404
        # for them says "deleted", not "never existed". Bounded in entries (nbytes=1 each).
        self._gone = ResultCache(_GONE_KEPT)
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
    def runs(self, *, check_now: bool = False) -> Tuple[RunInfo, ...]:
        """The runs as of the last discovery, discovering again if it may be out of date
        (`check_now`: skip the check interval, e.g. after a file named by a ref vanished)."""
        with self._lock:
            now = time.monotonic()
            if self._runs is None or now - self._runs_time > self._ttl or self._changed(now, check_now):
                return self._discover()
            return self._runs

    def _discover(self) -> Tuple[RunInfo, ...]:
        # Caller holds self._lock. Stat first, discover second: a change in between makes the
        # next check discover again, never hides it. A path that only this discovery found
        # (a new run, a new checkpoint directory) has no signature from before it was read:
        # it gets _UNSEEN, which equals no stat, so the next check discovers once more, this
        # time with a signature taken beforehand. Costs one extra discovery per new path.
        before = {path: signature(path) for path in self._watch_paths(self._runs or ())}
        runs = logs.discover(self._logdir) if self._logdir else ()
        self._watched = {path: before.get(path, _UNSEEN) for path in self._watch_paths(runs) | before.keys()}
        old = {(r.run, r.name, r.step) for info in (self._runs or ()) for s in info.series for r in s.refs}
        new = {(r.run, r.name, r.step) for info in runs for s in info.series for r in s.refs}
        self._gone.discard(lambda key: key in new)  # back again (a rewritten step)
        for key in old - new:
            self._gone.put(key, True, nbytes=1)
        self._runs = runs
        self._runs_time = self._checked_time = time.monotonic()
        self._active = self._active or any(run.series or run.problems for run in runs)
        return runs

    def _watch_paths(self, runs) -> set:
        """The logdir, each config, and the directories of configs, runs and checkpoints."""
        logdir = os.path.abspath(self._logdir) if self._logdir else ""
        paths = {logdir} if logdir else set()
        for info in runs:
            # A problem names its config relative to the logdir (it is shown to users).
            configs = {os.path.join(logdir, p.config_path) for p in info.problems}
            for series in info.series:
                for ref in series.refs:
                    configs.add(ref.config_path)
                    if ref.tensor.kind == "checkpoint":
                        paths.add(os.path.dirname(ref.tensor.path))
            for config in configs:
                paths.update((config, os.path.dirname(config), run_dir_of_config(config)))
        return paths

    def _changed(self, now: float, check_now: bool) -> bool:
        if not check_now and now - self._checked_time < self._check_interval:
            return False
        self._checked_time = now
        return any(signature(path) != seen for path, seen in self._watched.items())

    def series(self, run: str, name: str, *, check_now: bool = False) -> EmbeddingSeries:
        try:
            return self._series(run, name, check_now=check_now)
        except NotFound:
            if check_now:
                raise
            return self._series(run, name, check_now=True)  # it may have appeared just now

    def _series(self, run: str, name: str, *, check_now: bool) -> EmbeddingSeries:
        return logs.find_series(self.runs(check_now=check_now), run, name)

    def ref(self, run: str, name: str, step: Optional[int], *, check_now: bool = False) -> EmbeddingRef:
        """The embedding at `step`, or at the latest step when step is None (404s name what exists)."""
        runs = self.runs(check_now=check_now)
        try:
            return logs.find_ref(runs, run, name, step)
        except NotFound:
            if not check_now:  # written since the last look?
                return self.ref(run, name, step, check_now=True)
            if step is None or self._gone.get((run, name, step)) is None:  # the latest step is never "gone"
                raise
        steps = ", ".join(str(s) for s in logs.find_series(runs, run, name).steps)
        raise NotFound("embedding %r of run %r has no step %d any more: it was deleted from the logdir "
                       "since it was listed (e.g. by the checkpoint retention max_to_keep); steps now: %s"
                       % (name, run, step, steps))

    def same_name_elsewhere(self, name: str):
        """Every series called `name`, in every run (for comparing runs)."""
        return [series for info in self.runs() for series in info.series if series.name == name]


_UNSEEN = ("not stat-ed before the discovery that found it",)
