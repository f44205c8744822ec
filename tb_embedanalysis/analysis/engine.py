"""AnalysisEngine: the analysis layer's one stateful entry point, for routes and CLI alike.

It takes a `Space` (vectors, their content fingerprint, the valid rows, a metric), already
validated by the caller (tb_embedanalysis.queries owns every rule), and answers with the
kernels' results. Two collaborators do the bookkeeping:

* `ResultCache` (cache.py): every result held in memory, under one `CacheKey` type, in
  one byte budget; kNN graphs, projections and the results the tab asks first (statistics,
  hard examples, outliers, duplicates, history: result_entries.py) also go to the
  authenticated `DiskCache`, under the same key.
* `Jobs` (jobs.py): single-flight background jobs, a bounded number at a time; wait=False: `Pending`.

Three more sets of jobs use them: `engine.estimates` (estimate_jobs.py), `engine.maps`
(map_jobs.py: projections, the custom map) and `engine.steps` (step_jobs.py: neighbourhood
changes and the training history across steps, from the graphs and contexts here).

Everything is exact at every N, and the same on every run. kNN graphs (certified_graph:
cells proven by a bound, or the plain blocked search) are built per bucket of k (GRAPH_KS)
and sliced: k = 1 … 40 builds at most three, and the graph for k is the same slice whatever
else is cached. A row's neighbours come from a graph in memory (graph_form.exact_row), else
from one exact matrix-vector product (15–20 ms at 1,000,000 × 128).
"""

from __future__ import annotations

import functools
from typing import Optional, Sequence, Union

import numpy as np

from tb_embedanalysis.analysis import (
    certified_graph, clusters, graph_form, hardness, labels as label_codes, metric_choice, neighbors,
)
from tb_embedanalysis.analysis.metric_choice import MetricChoice
from tb_embedanalysis.budget import DEFAULT_WORK_MEMORY_MB, budget_bytes
from tb_embedanalysis.cache import DEFAULT_BUDGET_BYTES, CacheKey, ResultCache
from tb_embedanalysis.analysis.disk_cache import DiskCache, array_of
from tb_embedanalysis.analysis import duplicates as near_duplicates, numba_cache, outliers as outlier_scores, result_entries
from tb_embedanalysis.analysis.map_jobs import MapJobs
from tb_embedanalysis.analysis.estimate_jobs import SampleEstimates
from tb_embedanalysis.analysis.hardness import DEFAULT_HARDNESS_METHOD, HARDNESS_METHODS  # noqa: F401
from tb_embedanalysis.analysis.jobs import Job, Jobs
from tb_embedanalysis.analysis.labels import EncodedLabels
from tb_embedanalysis.analysis.neighbors import METRICS, KnnGraph, NeighborResult  # noqa: F401
from tb_embedanalysis.analysis.progress import ProgressFn, Reporter
from tb_embedanalysis.analysis.reports import ClusterReport, HardnessReport, Pending
from tb_embedanalysis.analysis.space import GRAPH_KS, Space, graph_k
from tb_embedanalysis.analysis.step_jobs import StepJobs

class AnalysisEngine:
    """Thread-safe; see the module docstring."""

    def __init__(self, *, cache_dir: Optional[str] = None, silhouette_exact_max: int = clusters.SILHOUETTE_EXACT_MAX, sync_seconds: float = 0.5,
                 memory_budget_bytes: int = DEFAULT_BUDGET_BYTES, disk_budget_bytes: Optional[int] = None,
                 workers: int = 2, work_memory_bytes: int = budget_bytes(DEFAULT_WORK_MEMORY_MB)):
        self.silhouette_exact_max = int(silhouette_exact_max)
        #: What one computation may hold while it runs (budget.py): queries/rules.py refuses,
        #: before a job starts, what analysis/estimates.py says would not fit.
        self.work_memory_bytes = int(work_memory_bytes)
        disk_args = {} if disk_budget_bytes is None else {"max_bytes": disk_budget_bytes}
        self.disk = DiskCache(cache_dir, **disk_args)
        # UMAP's compiled kernels next to the disk cache, so a second start skips ~7 s of JIT.
        numba_cache.use_cache_dir(cache_dir if self.disk.enabled else None)
        self.memory = ResultCache(memory_budget_bytes)
        self.jobs = Jobs(workers=workers, sync_seconds=sync_seconds, on_done=self.memory.put)
        #: The first answer of /clusters and /hard_examples while their exact pass runs.
        self.estimates = SampleEstimates(self)
        #: Maps (projections, the custom map: map_jobs.py) and jobs across steps (step_jobs.py).
        self.maps = MapJobs(self)
        self.steps = StepJobs(self)
        #: Who computes through this engine: a precompute pass's id (precompute/passes.py),
        #: written into each result entry, or None (TensorBoard, the CLI's other commands).
        self.origin: Optional[str] = None

    # -- shared pieces -------------------------------------------------------------------
    def _cached(self, key: CacheKey, fn, *, message: str, wait: bool, on_progress: ProgressFn,
                persist: bool = False, first=None):
        """The result for `key`: from memory, else from (or as) a background job. `persist`:
        a result the tab asks for first, also kept in the disk cache under the same key
        (result_entries.py), and read from there here, in the caller's thread, before any
        job: a TensorBoard started after `precompute` (or after an earlier start) answers it
        at once. Its job writes what it computes, so the tab's first computation persists too.
        first: Jobs.run's (the sample's estimate, before the job's permit)."""
        hit = self.memory.get(key)
        if hit is not None:
            return hit
        if persist:
            stored = result_entries.read(self.disk, key)
            if stored is not None:
                return self.memory.put(key, stored)
            fn = functools.partial(self._persisted, key, fn)
        return self.jobs.run(key, lambda job: self._get_or(key, fn, job), message=message, wait=wait,
                             on_progress=on_progress, first=first)

    def _persisted(self, key: CacheKey, fn, job: Job):
        result = fn(job)
        result_entries.write(self.disk, key, result, origin=self.origin)
        return result

    def _get_or(self, key: CacheKey, fn, job: Job):
        # A job that finished between our cache check and this start stored its result.
        hit = self.memory.get(key)
        return fn(job) if hit is None else hit

    def _sub(self, job: Reporter, key: CacheKey, fn, *, start: float, width: float, message: str, news: bool = False):
        """A sub-result a job needs, computed in the job's thread (Jobs.compute; `news`: its
        end wakes the job's pollers), progress mirrored into the job's [start, start + width]."""
        hit = self.memory.get(key)
        if hit is not None:
            return hit
        return self.jobs.compute(key, lambda child: self._get_or(key, fn, child), message=message,
                                 on_progress=lambda f, m: job.report(start + width * f, m), news=news)

    def prepared(self, space: Space) -> neighbors.PreparedMatrix:
        """Row norms for (space, metric), computed once."""
        key = CacheKey.of("prepared", space.ident)
        prep = self.memory.get(key)
        if prep is None:
            prep = self.memory.put(key, neighbors.prepare(space.vectors, space.metric, space.valid))
        return prep

    def labels(self, space: Space, values: Sequence[str], *, column: Optional[str] = None) -> EncodedLabels:
        """`values` (N labels) encoded once per content for the valid rows of `space` (whatever
        its metric: metric=auto reads them under one metric, then analyses under another);
        raises labels.NoClustersError when every label is unique."""
        rows_of = space.with_metric(neighbors.METRICS[0])
        key = CacheKey.of("labels", rows_of.ident, values=label_codes.content_digest(values), column=column)
        # once: the tab's first four requests ask at the same moment (0.2 s each at 1,000,000 rows)
        return self.memory.once(key, lambda: label_codes.encode_rows(values, np.flatnonzero(space.valid), column=column))

    @staticmethod
    def graph_key(space: Space, k: int) -> CacheKey:
        """The key of the graph a k-neighbour analysis of `space` reads: its bucket's (GRAPH_KS),
        in memory and on disk (precompute/ writes graphs built elsewhere under it)."""
        return CacheKey.of("graph", space.ident, k=graph_k(k, space.n_valid), method="exact")

    def keep_graph(self, space: Space, graph: KnnGraph) -> None:
        """A bucket's exact graph of `space` built elsewhere (precompute/): signed to disk
        under graph_key, as _build_graph stores its own, and held in memory."""
        key = self.graph_key(space, graph.k)
        if key.params != (("k", graph.k), ("method", "exact")) or not graph.exact:
            raise ValueError("only the exact graph of a k bucket is kept, got k = %d" % graph.k)
        dtype = neighbors.graph_distance_dtype(*graph.indices.shape)
        if graph.distances.dtype != dtype:  # a graph from an older builder: the dtype this size has
            graph = KnnGraph(graph.indices, graph.distances.astype(dtype), graph.metric, graph.k, exact=True)
        self.disk.put(key.as_dict(), {"indices": graph.indices, "distances": graph.distances})
        self.memory.put(key, graph)

    def _graph(self, job: Reporter, space: Space, k: int, *, width: float) -> KnnGraph:
        """The kNN graph with k neighbours, sliced from its bucket's graph."""
        key = self.graph_key(space, k)
        size = graph_k(k, space.n_valid)
        graph = self._sub(job, key, lambda child: self._build_graph(child, space, key, size),
                          start=0.0, width=width, message="kNN graph")
        if graph.k == k:
            return graph
        return KnnGraph(graph.indices[:, :k], graph.distances[:, :k], graph.metric, k, exact=graph.exact)

    def _build_graph(self, job: Reporter, space: Space, key: CacheKey, k: int) -> KnnGraph:
        prep = self.prepared(space)
        n = prep.matrix.shape[0]
        # int32 indices since the cold-pass memory work: an older int64 entry is refused
        expect = {"indices": array_of(neighbors.graph_index_dtype(n), (n, k), index_below=n),
                  "distances": array_of(neighbors.graph_distance_dtype(n, k), (n, k))}
        stored = self.disk.get(key.as_dict(), expect=expect)
        if stored is not None:
            return KnnGraph(stored["indices"], stored["distances"], prep.metric, k, exact=True)
        report = self.estimates.pausing(job.report)  # an estimate the tab waits for has the cores first
        report(0.0, "kNN graph")
        graph = certified_graph.knn_graph_exact_fast(prep, k, on_progress=report)
        self.disk.put(key.as_dict(), {"indices": graph.indices, "distances": graph.distances})
        return graph

    def _context(self, job: Reporter, space: Space, encoded: EncodedLabels, k: int, *, span: float = 0.8):
        key = CacheKey.of("context", space.ident, k=k, labels=encoded.digest, exact=True)
        # The context first: it holds its graph, which the result cache may have evicted
        # meanwhile (k = 1,000 at 100,000 rows: the context counts the graph's 800 MB too);
        # asking for the graph first rebuilt it, minutes, for a context already in memory.
        held = self.memory.get(key)
        if held is not None:
            return held
        graph = self._graph(job, space, k, width=span)
        job.report(span, "label statistics")
        return self._sub(job, key, lambda _: clusters.label_context(self.prepared(space), graph, encoded),
                         start=span, width=0.0, message="label statistics")

    # -- public API ------------------------------------------------------------------------
    def neighbors(self, space: Space, *, index: Optional[int] = None, vector=None, k: int = 10) -> NeighborResult:
        """k nearest valid rows of row `index` (itself excluded) or of a free `vector` (D,).
        Exact and synchronous; indices into the original matrix, distances ascending, ties
        by index. The caller has checked index, k and vector."""
        if (index is None) == (vector is None):
            raise ValueError("pass exactly one of index= or vector=")
        if index is not None:
            row = self._graph_row(space, index, k)
            if row is not None:
                return row
        prep = self.prepared(space)
        if index is not None:
            query, exclude = prep.matrix[index], np.array([index])
        else:
            query, exclude = np.asarray(vector, dtype=prep.matrix.dtype).reshape(-1), None
        idx, dist = neighbors.search(prep, query[None, :], k, exclude=exclude)
        return NeighborResult(idx[0], dist[0], exact=True)

    def _graph_row(self, space: Space, index: int, k: int) -> Optional[NeighborResult]:
        """Row `index` of an exact kNN graph of `space` in memory (any bucket ≥ k, sliced), else
        None: a search's answer, the row the tab's statistics used; spares a 488 MB scan at 1M × 128."""
        if not space.valid[index]:
            return None
        for size in sorted({graph_k(k, space.n_valid), *(s for s in GRAPH_KS if s >= k)}):
            graph = self.memory.get(self.graph_key(space, size))
            if graph is not None and graph.k >= k:
                return NeighborResult(*graph_form.exact_row(graph, index, k, lambda: self.prepared(space)), exact=True)
        return None

    def knn_graph(self, space: Space, *, k: int = 10, wait: bool = True,
                  on_progress: ProgressFn = None) -> Union[KnnGraph, Pending]:
        """The shared (exact) kNN graph with k neighbours per valid row."""
        key = CacheKey.of("graph-of", space.ident, k=k)
        return self._cached(key, lambda job: self._graph(job, space, k, width=1.0), message="kNN graph",
                            wait=wait, on_progress=on_progress)

    def clusters(self, space: Space, encoded: EncodedLabels, *, k: int = 10, wait: bool = True,
                 on_progress: ProgressFn = None, estimate: bool = True) -> Union[ClusterReport, Pending]:
        """Per-label statistics and kNN-vote confusion (see clusters.statistics); with wait=False
        and `estimate`, a sample's estimate first (estimate_jobs.py)."""
        def compute(job):
            ctx = self._context(job, space, encoded, k)
            return clusters.statistics(ctx, silhouette_exact_max=self.silhouette_exact_max)

        return self._cached(self.clusters_key(space, encoded, k), compute, message="cluster statistics", wait=wait,
                            on_progress=on_progress, persist=True,
                            first=self._estimate_first(space, encoded, k) if estimate and not wait else None)

    def _estimate_first(self, space: Space, encoded: EncodedLabels, k: int):
        """A job's `first` part for the tab: the sample's estimate, for its 202 answers."""
        return lambda job: self.estimates.first(job, space, encoded, k)

    def clusters_key(self, space: Space, encoded: EncodedLabels, k: int) -> CacheKey:
        """The key of the cluster statistics (memory and disk; queries/provenance.py asks
        whether their entry is on disk)."""
        return CacheKey.of("clusters", space.ident, k=k, labels=encoded.digest, silhouette=self.silhouette_exact_max)

    def hard_examples(self, space: Space, encoded: EncodedLabels, *, method: str = DEFAULT_HARDNESS_METHOD,
                      k: int = 10, wait: bool = True, on_progress: ProgressFn = None
                      ) -> Union[HardnessReport, Pending]:
        """Hard examples ranked by `method` (a hardness.HARDNESS_METHODS name)."""
        key = CacheKey.of("hard", space.ident, k=k, labels=encoded.digest, method=method)

        def compute(job):
            return hardness.hard_examples(self._context(job, space, encoded, k), method=method)

        return self._cached(key, compute, message="hard examples", wait=wait, on_progress=on_progress,
                            persist=True, first=None if wait else self._estimate_first(space, encoded, k))

    def outliers(self, space: Space, *, k: int = 10, wait: bool = True,
                 on_progress: ProgressFn = None) -> Union[outlier_scores.OutlierReport, Pending]:
        """Valid rows ranked by their mean distance to their k nearest neighbours (outliers.py)."""
        key = CacheKey.of("outliers", space.ident, k=k)

        def compute(job):
            return outlier_scores.outlier_scores(self._graph(job, space, k, width=1.0), space.valid)

        return self._cached(key, compute, message="outlier scores", wait=wait, on_progress=on_progress,
                            persist=True)

    def duplicates(self, space: Space, *, threshold: Optional[float] = None, wait: bool = True,
                   on_progress: ProgressFn = None) -> Union[near_duplicates.DuplicateReport, Pending]:
        """Pairs within `threshold` (None: the default rule) and their groups (duplicates.py),
        from the kNN graph for k = 10 (the one /clusters uses by default), verified exactly.
        Raises duplicates.TooManyPairs."""
        key = CacheKey.of("duplicates", space.ident, threshold=None if threshold is None else float(threshold))
        k = min(near_duplicates.GRAPH_K, space.n_valid - 1)

        def compute(job):
            if threshold is not None:  # refuses a threshold that links too many pairs before the graph
                job.report(0.0, "near-duplicates: counting pairs")
                near_duplicates.check_pair_bound(self.prepared(space), threshold)
            graph = self._graph(job, space, k, width=0.6)
            job.report(0.6, "near-duplicates")
            return near_duplicates.find_duplicates(self.prepared(space), graph, threshold=threshold,
                                                   on_progress=lambda f, m=None: job.report(0.6 + 0.4 * f, m))

        return self._cached(key, compute, message="near-duplicates", wait=wait, on_progress=on_progress,
                            persist=True)

    def metric_choice(self, space: Space, encoded: EncodedLabels) -> MetricChoice:
        """The metric the label analyses of `space`'s vectors use when none is asked for
        (metric_choice.py), from `encoded` (labels of space's valid rows). Synchronous and
        bounded (a sample of at most metric_choice.SAMPLE_MAX rows): it never waits behind
        a running job; cached per (vectors, valid rows, labels)."""
        base = space.with_metric(neighbors.METRICS[0])
        key = CacheKey.of("metric-choice", base.ident, labels=encoded.digest)
        # The tab's first /clusters and /hard_examples requests all ask at once: one computes.
        return self.memory.once(key, lambda: metric_choice.choose_for(space.vectors, space.valid, encoded.codes,
                                                                 len(encoded.names)))
