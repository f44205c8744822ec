"""The engine's jobs over several embeddings of the same rows (the logged steps): how much
each row's k nearest neighbours changed between two (changes.knn_overlap), and the training
history with its label-error score over every step (history.py, label_errors.py). Each step's
graph and label context are the engine's cached ones, the ones /clusters and /hard_examples read."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Optional, Sequence, Union

import numpy as np

from tb_embedanalysis.analysis import changes, label_errors
from tb_embedanalysis.analysis.history import PointHistory, point_history
from tb_embedanalysis.analysis.labels import EncodedLabels
from tb_embedanalysis.analysis.progress import ProgressFn, Share
from tb_embedanalysis.analysis.reports import Pending
from tb_embedanalysis.analysis.space import Space
from tb_embedanalysis.cache import CacheKey

if TYPE_CHECKING:  # pragma: no cover
    from tb_embedanalysis.analysis.engine import AnalysisEngine


class StepJobs:
    """The across-steps jobs of one AnalysisEngine (its graphs, cache and jobs): `engine.steps`."""

    def __init__(self, engine: "AnalysisEngine"):
        self._engine = engine

    def overlap(self, first: Space, second: Space, *, k: int = 10, wait: bool = True,
                on_progress: ProgressFn = None) -> Union[np.ndarray, Pending]:
        """(n,) int64 per valid row (in row order): how many of its k nearest neighbours in
        `first` are among its k nearest in `second` (changes.knn_overlap). The two spaces hold
        the same rows with the same valid rows; each graph is the cached one."""
        if first.valid.shape != second.valid.shape or not np.array_equal(first.valid, second.valid):
            raise ValueError("overlap needs the same valid rows in both spaces")
        engine = self._engine
        data = hashlib.sha256((first.ident + "\0" + second.ident).encode("ascii")).hexdigest()[:32]
        key = CacheKey.of("overlap", data, k=k)

        def compute(job):
            rows = np.flatnonzero(first.valid)
            graphs = []
            for i, space in enumerate((first, second)):
                part = Share(job, i / 2, 1 / 2)
                graphs.append(engine._graph(part, space, k, width=1.0).indices[rows])
            return changes.knn_overlap(*graphs)

        return engine._cached(key, compute, message="neighbourhood changes", wait=wait, on_progress=on_progress)

    def history(self, spaces: Sequence[Space], steps: Sequence[Optional[int]], encoded: EncodedLabels, *,
                k: int = 10, wait: bool = True, on_progress: ProgressFn = None) -> Union[PointHistory, Pending]:
        """history.PointHistory of the same rows over `spaces`, one per step (oldest first),
        all with the same valid rows and metric, labelled by `encoded` (of those rows). Each
        step's graph and label context are the cached ones /clusters and /hard_examples use."""
        if len({space.metric for space in spaces}) != 1 or any(
                not np.array_equal(space.valid, spaces[0].valid) for space in spaces):
            raise ValueError("history needs one metric and the same valid rows at every step")
        engine = self._engine
        data = hashlib.sha256("\0".join(space.ident for space in spaces).encode("ascii")).hexdigest()[:32]
        key = CacheKey.of("history", data, k=k, labels=encoded.digest, steps=tuple(steps))

        def compute(job):
            rows = np.flatnonzero(spaces[0].valid)
            position = np.full(spaces[0].valid.shape[0], -1, dtype=np.int64)
            position[rows] = np.arange(rows.size)
            votes, neighbors_at = [], []
            for i, space in enumerate(spaces):
                # This step's share of the job's progress: [i / S, (i + 1) / S].
                part = Share(job, i / len(spaces), 0.9 / len(spaces))
                ctx = engine._context(part, space, encoded, k)
                votes.append(ctx.votes)
                neighbors_at.append(position[ctx.graph.indices[rows]])
            job.report(0.9, "history score")
            errors = label_errors.analyse(neighbors_at, encoded.codes, len(encoded.names),
                                          np.stack([v.predicted for v in votes]),
                                          [space.vectors[rows] for space in spaces])
            return point_history(steps, encoded.names, rows, encoded.codes, votes, neighbors_at, k, errors)

        return engine._cached(key, compute, message="training history", wait=wait, on_progress=on_progress,
                              persist=True)
