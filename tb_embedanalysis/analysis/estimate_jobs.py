"""The engine's sample estimates (estimate_sample.py) as cached jobs: made first by a cold
/clusters or /hard_examples job of a large embedding, read by the 202 answers while the
exact pass runs, or asked for on their own (the CLI's --quick).

Made *before* the exact pass in the same job, not beside it: on two cores a concurrent
estimate would slow the pass and take several times longer itself. And before that job waits
for one of the engine's two permits (Jobs.run's `first`): the tab's map and /outliers' graph
hold both as it opens, and 1,000,000 rows' estimate waited for the map's end. Another job's graph (the
tab's /outliers asks for the same graph at the same moment) waits at its next progress
report while an estimate computes (`pausing`): beside a k = 1,000 graph the tab's estimate at
100,000 × 64 took 19.5 s, against 3.2 s alone.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Callable, Optional, Union

from tb_embedanalysis.analysis import estimate_sample
from tb_embedanalysis.analysis.jobs import Cancelled
from tb_embedanalysis.analysis.labels import EncodedLabels
from tb_embedanalysis.analysis.progress import ProgressFn, Reporter
from tb_embedanalysis.analysis.reports import Pending
from tb_embedanalysis.analysis.space import Space
from tb_embedanalysis.cache import CacheKey

if TYPE_CHECKING:  # pragma: no cover
    from tb_embedanalysis.analysis.engine import AnalysisEngine

logger = logging.getLogger(__name__)
MESSAGE = "estimate on a sample"


class SampleEstimates:
    """The sample estimates of one AnalysisEngine (its cache and jobs)."""

    def __init__(self, engine: "AnalysisEngine"):
        self._engine = engine
        self._idle = threading.Condition()
        self._computing = 0  # estimates computing now (any embedding)

    @staticmethod
    def key(space: Space, encoded: EncodedLabels, k: int, size: Optional[int] = None) -> CacheKey:
        extra = {} if size is None else {"size": int(size)}
        return CacheKey.of("estimate", space.ident, k=k, labels=encoded.digest, **extra)

    def _compute(self, reporter: Reporter, space: Space, encoded: EncodedLabels, k: int,
                 size: Optional[int]) -> estimate_sample.SampleEstimate:
        with self._idle:
            self._computing += 1
        try:
            return estimate_sample.estimate(self._engine.prepared(space), encoded, k,
                                            seed=estimate_sample.seed_of(space.fingerprint), size=size,
                                            on_progress=reporter.report)
        finally:
            with self._idle:
                self._computing -= 1
                self._idle.notify_all()

    @property
    def computing(self) -> int:
        """How many estimates are computing now."""
        with self._idle:
            return self._computing

    def pausing(self, report: ProgressFn) -> Callable[..., None]:
        """`report` that first waits while any estimate computes: a graph's progress callback,
        so the graph's threads stop at their next chunk and the estimate (a few seconds at
        most, SAMPLE_FLOPS) has the cores. Only the timing changes, never a result."""
        def paused(*args, **kwargs):
            with self._idle:
                self._idle.wait_for(lambda: self._computing == 0)
            if report is not None:
                report(*args, **kwargs)
        return paused

    def run(self, space: Space, encoded: EncodedLabels, *, k: int = 10, size: Optional[int] = None,
            wait: bool = True, on_progress: ProgressFn = None) -> Union[estimate_sample.SampleEstimate, Pending]:
        """The estimate for k (size None: estimate_sample.sample_size rows), as its own job."""
        return self._engine._cached(self.key(space, encoded, k, size),
                                    lambda job: self._compute(job, space, encoded, k, size),
                                    message=MESSAGE, wait=wait, on_progress=on_progress)

    def early(self, space: Space, encoded: EncodedLabels, *, k: int) -> Optional[estimate_sample.SampleEstimate]:
        """The estimate a running job made first (`first`), waiting up to the engine's
        sync_seconds while it is being made; None when there is none (a small embedding, a
        graph at hand, not started yet, or it failed)."""
        engine = self._engine
        key = self.key(space, encoded, k)
        hit = engine.memory.get(key)
        if hit is None:
            job = engine.jobs.running(key)
            if job is not None and job.done.wait(engine.jobs.sync_seconds):
                hit = engine.memory.get(key)
        return hit

    def wanted(self, space: Space, k: int) -> bool:
        """Whether a cold pass is coming that an estimate should precede: at least
        QUICK_MIN_ROWS valid rows and no graph for k's bucket in memory or on disk."""
        if space.n_valid < estimate_sample.QUICK_MIN_ROWS:
            return False
        engine = self._engine
        graph_key = engine.graph_key(space, k)
        if engine.memory.get(graph_key) is not None:
            return False
        return not (engine.disk.enabled and os.path.exists(engine.disk.path(graph_key.as_dict())))

    def first(self, job: Reporter, space: Space, encoded: EncodedLabels, k: int) -> None:
        """A /clusters or /hard_examples job's `first` part (Jobs.run: before the job waits
        for its permit, so not queued behind the map and a graph): the estimate when `wanted`
        (≈ 1 s), computed in the job's thread and cached for `early`. A failure is logged and
        the exact pass goes on (it must not cost the user the real answer)."""
        if not self.wanted(space, k):
            return
        try:
            self._engine._sub(job, self.key(space, encoded, k), lambda child: self._compute(child, space, encoded, k, None),
                              start=0.0, width=0.0, message=MESSAGE, news=True)
        except Cancelled:
            raise
        except Exception:  # logged with its traceback; the exact answer still comes
            logger.exception("embedanalysis: the sample estimate failed; the exact pass goes on")
