"""AnalysisEngine: what the routes and the CLI call. Ties kernels, jobs and caches together.

Everything expensive is keyed by the embedding's content `fingerprint` (plus metric, k,
labels, valid mask, method), computed once (single-flight across threads) and kept in a
small in-memory LRU; kNN graphs and projections also go to the on-disk cache. With
wait=False an unfinished computation runs in the background and the call returns
`Pending(progress, message)` (after waiting up to `sync_seconds`, so small inputs answer
at once); with wait=True it blocks, reporting to on_progress(fraction, message).

Exact vs approximate: below `approximate_threshold` valid rows everything is exact. At or
above it the kNN graph comes from the HNSW index (ann.py), and single queries use that
index once it exists (building it starts in the background; until then they are exact).
`exact=True` always searches exactly, `exact=False` always uses (and if need be builds) the
index. The threshold is measured (bench/bench_hardness.py): exact graph 100k ≈ 57 s vs
HNSW ≈ 9 s; the costs cross near 30,000 rows, we switch at 50,000 to stay exact longer.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from typing import Callable, Optional, Sequence, Union

import numpy as np

from tb_embedanalysis.analysis import ann, clusters, hardness, labels as label_codes, neighbors, projection
from tb_embedanalysis.analysis.disk_cache import DiskCache
from tb_embedanalysis.analysis.hardness import DEFAULT_HARDNESS_METHOD, HARDNESS_METHODS  # noqa: F401
from tb_embedanalysis.analysis.jobs import Job, Jobs
from tb_embedanalysis.analysis.neighbors import METRICS, KnnGraph, NeighborResult  # noqa: F401
from tb_embedanalysis.analysis.reports import ClusterReport, HardnessReport, Pending, ProjectionResult  # noqa: F401

APPROXIMATE_THRESHOLD = 50_000
ProgressFn = Optional[Callable[[float, str], None]]


def _digest(parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


class _LRU:
    def __init__(self, size: int):
        self._size, self._items, self._lock = size, collections.OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class AnalysisEngine:
    """Thread-safe entry point of the analysis layer; see the module docstring."""

    def __init__(self, *, cache_dir: Optional[str] = None, approximate_threshold: int = APPROXIMATE_THRESHOLD,
                 silhouette_exact_max: int = clusters.SILHOUETTE_EXACT_MAX, sync_seconds: float = 0.5,
                 max_entries: int = 32):
        self.approximate_threshold = int(approximate_threshold)
        self.silhouette_exact_max = int(silhouette_exact_max)
        self.sync_seconds = float(sync_seconds)
        self.disk = DiskCache(cache_dir)
        self._memory = _LRU(max_entries)
        self._checked_labels = _LRU(8)
        self._jobs = Jobs()
        self._lock = threading.Lock()

    # -- shared pieces -------------------------------------------------------------------
    def _prepared(self, vectors, fingerprint: str, metric: str, valid) -> neighbors.PreparedMatrix:
        """Row norms etc. for (fingerprint, metric, valid), computed once."""
        neighbors.check_metric(metric)
        matrix = neighbors.as_matrix(vectors)
        mask = np.ones(matrix.shape[0], dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        key = ("prep", fingerprint, matrix.shape, metric, _digest([np.packbits(mask).tobytes()]))
        prep = self._memory.get(key)
        if prep is None:
            prep = neighbors.prepare(matrix, metric, mask)
            self._memory.put(key, prep)
        return prep

    @staticmethod
    def _ident(prep, fingerprint) -> str:
        """Digest naming (fingerprint, shape, metric, valid mask) — the identity of prep."""
        return _digest(sorted(AnalysisEngine._base_key(prep, fingerprint).items()))

    @staticmethod
    def _base_key(prep, fingerprint) -> dict:
        return {"fingerprint": str(fingerprint), "shape": list(prep.matrix.shape), "metric": prep.metric,
                "valid": _digest([np.packbits(prep.valid).tobytes()])}

    def _run(self, key, fn, *, message: str, wait: bool, on_progress: ProgressFn):
        """Memory hit, else start (or join) the job for `key`; block or answer Pending."""
        hit = self._memory.get(key)
        if hit is not None:
            return hit
        job = self._jobs.start(key, fn, message=message, on_done=lambda result: self._memory.put(key, result))
        if wait:
            return job.wait(on_progress)
        if job.done.wait(self.sync_seconds):
            return job.wait()
        return Pending(progress=float(job.progress), message=job.message)

    @staticmethod
    def _follow(child: Job, parent: Job, start: float, width: float):
        """Wait for `child`, mirroring its progress into parent's [start, start+width]."""
        return child.wait(lambda fraction, message: parent.report(start + width * fraction, message))

    def _graph_job(self, prep, fingerprint: str, k: int) -> Union[KnnGraph, Job]:
        """The kNN graph (from memory or disk) or the job computing it."""
        approximate = prep.n_valid >= self.approximate_threshold and ann.available()
        disk_key = dict(self._base_key(prep, fingerprint), kind="knn_graph", k=int(k),
                        method="hnsw" if approximate else "exact")
        key = ("graph", _digest(sorted(disk_key.items())))
        graph = self._memory.get(key)
        if graph is not None:
            return graph

        def compute(job: Job) -> KnnGraph:
            stored = self.disk.get(disk_key)
            if stored is not None:
                return KnnGraph(stored["indices"], stored["distances"], prep.metric, k, exact=not approximate)
            if approximate:
                job.report(0.0, "building the neighbour index")
                index_job = self._index_job(prep, fingerprint)
                index = self._follow(index_job, job, 0.0, 0.6) if isinstance(index_job, Job) else index_job
                job.report(0.6, "kNN graph (approximate)")
                graph = index.knn_graph(k, on_progress=lambda f: job.report(0.6 + 0.4 * f))
            else:
                job.report(0.0, "kNN graph")
                graph = neighbors.knn_graph(prep, k, on_progress=job.report)
            self.disk.put(disk_key, {"indices": graph.indices, "distances": graph.distances})
            return graph

        return self._jobs.start(key, compute, message="kNN graph",
                                on_done=lambda result: self._memory.put(key, result))

    def _index_job(self, prep, fingerprint):
        key = ("ann", self._ident(prep, fingerprint))
        found = self._memory.get(key)
        if found is not None:
            return found
        return self._jobs.start(key, lambda job: ann.HnswIndex(prep, on_progress=job.report),
                                message="building the neighbour index",
                                on_done=lambda index: self._memory.put(key, index))

    def _context(self, job: Job, prep, fingerprint, labels, k, column, span=0.8) -> clusters.LabelContext:
        graph = self._graph_job(prep, fingerprint, k)
        if isinstance(graph, Job):
            graph = self._follow(graph, job, 0.0, span)
        job.report(span, "label statistics")
        key = ("ctx", self._ident(prep, fingerprint), k, graph.exact, _digest(labels))
        ctx = self._memory.get(key)
        if ctx is None:
            ctx = clusters.label_context(prep, graph, labels, column=column)
            self._memory.put(key, ctx)
        return ctx

    def _labels(self, prep, labels, column):
        """(labels as a list of str, their digest), checked once per labels object.

        Routes pass the same metadata tuple on every request (and poll while a job runs);
        checking and hashing 100,000 labels costs ~30 ms of GIL each time, which under 32
        clients starved every other request. The memo holds the objects themselves, so an
        id() can't be reused while it is remembered.
        """
        key = (id(labels), id(prep), column)
        hit = self._checked_labels.get(key)
        if hit is not None and hit[0] is labels and hit[1] is prep:
            return hit[2], hit[3]
        checked = self._check_labels(prep, labels, column)
        digest = _digest(checked)
        self._checked_labels.put(key, (labels, prep, checked, digest))
        return checked, digest

    def _check_labels(self, prep, labels, column):
        labels = [str(v) for v in labels]
        if len(labels) != prep.matrix.shape[0]:
            raise ValueError("%d labels for %d rows" % (len(labels), prep.matrix.shape[0]))
        label_codes.encode([labels[i] for i in np.flatnonzero(prep.valid)], column=column)  # raises NoClustersError
        return labels

    @staticmethod
    def _check_k(prep, k):
        if not 1 <= k <= prep.n_valid - 1:
            raise ValueError("k must be between 1 and %d (valid rows − 1), got %d" % (prep.n_valid - 1, k))

    # -- public API ------------------------------------------------------------------------
    def neighbors(self, vectors, fingerprint: str, *, index: Optional[int] = None, vector=None, k: int = 10,
                  metric: str = "cosine", exact: Optional[bool] = None, valid=None) -> NeighborResult:
        """k nearest valid rows of row `index` (itself excluded) or of a free `vector` (D,).
        Synchronous; indices into the original matrix, distances ascending, ties by index."""
        prep = self._prepared(vectors, fingerprint, metric, valid)
        n = prep.matrix.shape[0]
        if (index is None) == (vector is None):
            raise ValueError("pass exactly one of index= or vector=")
        if index is not None:
            if not 0 <= index < n:
                raise IndexError("index %d is out of range for %d rows" % (index, n))
            if not prep.valid[index]:
                raise ValueError("row %d is not valid (non-finite) and has no neighbours" % index)
            query, exclude = prep.matrix[index], index
        else:
            query, exclude = np.asarray(vector, dtype=prep.matrix.dtype).reshape(-1), -1
            if query.shape != (prep.matrix.shape[1],) or not np.all(np.isfinite(query)):
                raise ValueError("vector must be %d finite numbers" % prep.matrix.shape[1])
        if exclude >= 0:
            self._check_k(prep, k)
        use_index = None
        if exact is False:
            index_or_job = self._index_job(prep, fingerprint)
            use_index = index_or_job.wait() if isinstance(index_or_job, Job) else index_or_job
        elif exact is None and prep.n_valid >= self.approximate_threshold and ann.available():
            index_or_job = self._index_job(prep, fingerprint)
            use_index = None if isinstance(index_or_job, Job) else index_or_job
        if use_index is not None:
            idx, dist = use_index.search(query[None, :], k, exclude=np.array([exclude]))
            return NeighborResult(idx[0], dist[0], exact=False)
        idx, dist = neighbors.search(prep, query[None, :], k, exclude=None if exclude < 0 else np.array([exclude]))
        return NeighborResult(idx[0], dist[0], exact=True)

    def knn_graph(self, vectors, fingerprint: str, *, k: int = 10, metric: str = "cosine", valid=None,
                  wait: bool = True, on_progress: ProgressFn = None) -> Union[KnnGraph, Pending]:
        """The shared kNN graph (exact below approximate_threshold valid rows, else HNSW)."""
        prep = self._prepared(vectors, fingerprint, metric, valid)
        self._check_k(prep, k)
        graph = self._graph_job(prep, fingerprint, k)
        if not isinstance(graph, Job):
            return graph
        if wait:
            return graph.wait(on_progress)
        if graph.done.wait(self.sync_seconds):
            return graph.wait()
        return Pending(progress=float(graph.progress), message=graph.message)

    def clusters(self, vectors, fingerprint: str, labels: Sequence[str], *, k: int = 10, metric: str = "cosine",
                 valid=None, wait: bool = True, on_progress: ProgressFn = None,
                 label_column: Optional[str] = None) -> Union[ClusterReport, Pending]:
        """Per-label statistics and kNN-vote confusion (see clusters.statistics)."""
        prep = self._prepared(vectors, fingerprint, metric, valid)
        self._check_k(prep, k)
        labels, labels_digest = self._labels(prep, labels, label_column)
        key = ("clusters", self._ident(prep, fingerprint), k, labels_digest, self.silhouette_exact_max)

        def compute(job):
            ctx = self._context(job, prep, fingerprint, labels, k, label_column)
            return clusters.statistics(ctx, silhouette_exact_max=self.silhouette_exact_max)

        return self._run(key, compute, message="cluster statistics", wait=wait, on_progress=on_progress)

    def hard_examples(self, vectors, fingerprint: str, labels: Sequence[str], *, method: Optional[str] = None,
                      k: int = 10, metric: str = "cosine", valid=None, wait: bool = True,
                      on_progress: ProgressFn = None, label_column: Optional[str] = None
                      ) -> Union[HardnessReport, Pending]:
        """Hard examples ranked by `method` (default DEFAULT_HARDNESS_METHOD)."""
        method = hardness.check_method(method)
        prep = self._prepared(vectors, fingerprint, metric, valid)
        self._check_k(prep, k)
        labels, labels_digest = self._labels(prep, labels, label_column)
        key = ("hard", self._ident(prep, fingerprint), k, method, labels_digest)

        def compute(job):
            return hardness.hard_examples(self._context(job, prep, fingerprint, labels, k, label_column), method=method)

        return self._run(key, compute, message="hard examples", wait=wait, on_progress=on_progress)

    def projection(self, vectors, fingerprint: str, *, method: str = "pca", valid=None, seed: int = 0,
                   wait: bool = True, on_progress: ProgressFn = None) -> Union[ProjectionResult, Pending]:
        """2-D map of all valid rows (projection.PROJECTIONS), NaN rows for invalid ones."""
        projection.check_projection(method)
        prep = self._prepared(vectors, fingerprint, "euclidean", valid)
        disk_key = dict(self._base_key(prep, fingerprint), kind="projection", method=method, seed=int(seed))
        key = ("projection", _digest(sorted(disk_key.items())))

        def compute(job):
            stored = self.disk.get(disk_key)
            if stored is not None:
                return ProjectionResult(stored["coords"], method, sampled=False, n_embedded=prep.n_valid)
            result = projection.PROJECTIONS[method](prep.matrix, prep.valid, seed=seed, on_progress=job.report)
            self.disk.put(disk_key, {"coords": result.coords})
            return result

        return self._run(key, compute, message="%s projection" % method, wait=wait, on_progress=on_progress)
