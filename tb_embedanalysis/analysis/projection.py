"""2-D and 3-D maps of all valid points: PCA (instant, deterministic), t-SNE (openTSNE) and UMAP.

No sampling: every valid row is placed; invalid rows are NaN. Why openTSNE over
scikit-learn's TSNE — measured here on 10,000 × 128 clustered float32, 2 shared cores:
openTSNE 33.6 s vs scikit-learn 51.5 s, same trustworthiness@10 (0.990 vs 0.990); openTSNE
uses FFT-accelerated gradients (linear in N, so 100,000 points stay in minutes) and takes
a callback, which gives the tab its progress bar. UMAP is umap-learn, the reference
implementation the Projector, FiftyOne and Embedding Atlas offer (see `umap_2d`).
"""

from __future__ import annotations

import threading
import warnings
from typing import Callable, Dict, Optional

import numpy as np

from tb_embedanalysis.analysis import certified_graph, neighbors, numba_cache, pca, umap_preview
from tb_embedanalysis.analysis.umap_preview import EpochWatcher, LayoutPreview
from tb_embedanalysis.analysis.map_settings import DEFAULT, MapSettings
from tb_embedanalysis.analysis.progress import ProgressFn
from tb_embedanalysis.analysis.reports import ProjectionResult

#: t-SNE schedule (openTSNE's defaults): early exaggeration then the main phase.
TSNE_EXAGGERATION_ITERS = 250
TSNE_ITERS = 500
#: Up to this many points t-SNE runs single-threaded with Barnes-Hut and half the
#: iterations: on the 719 demo digits, 2.7 s instead of 11.6 s (threads cost more than they
#: give on small inputs; fft's grid dominates), trustworthiness(10) unchanged at 0.9936.
TSNE_SMALL = 5000
#: t-SNE's progress bar: the kNN graph up to TSNE_GRAPH_SHARE (reported block by block),
#: the perplexity calibration up to TSNE_AFFINITY_END (seconds at 100,000 points), then the
#: optimisation from 0.2 (its callbacks, every 10 iterations).
TSNE_GRAPH_SHARE = 0.15
TSNE_AFFINITY_END = 0.18
#: The fewest valid rows UMAP is run on: below that a 15-neighbour graph (umap-learn's
#: default size, map_settings.NEIGHBOURS) would join nearly every pair of points, and the
#: map would say nothing PCA does not (so PCA places them, as for t-SNE below 4 rows).
UMAP_MIN_ROWS = 16
#: UMAP's progress bar: the exact kNN graph up to UMAP_GRAPH_SHARE, umap-learn's fuzzy
#: graph and spectral initialisation up to UMAP_LAYOUT_START, layout epochs to 1.
#: Measured on 2 shared cores: 20,000 x 64 takes 25 s (graph 2.6 s, initialisation 2.0 s,
#: 200 epochs 20.4 s); the 1,797 digits 6.6 s (500 epochs 6.2 s; trustworthiness(10) 0.989).
#: The first UMAP of a process also compiles umap-learn's numba kernels (~6.5 s; 4-6 s to
#: import umap) unless numba_cache found them on disk from an earlier start (then ~0.5 s).
#: umap-learn's own NN-descent would add ~40 s of compiling for N > 4,096.
UMAP_GRAPH_SHARE = 0.1
UMAP_LAYOUT_START = 0.2
#: What a projection calls with its layout in progress (umap_preview.LayoutPreview), or None.
LayoutFn = Optional[Callable[[LayoutPreview], None]]


def pca_2d(vectors, valid: np.ndarray, *, seed: int = 0, on_progress: ProgressFn = None,
           settings: MapSettings = DEFAULT, on_layout: LayoutFn = None) -> ProjectionResult:
    """Coordinates (N, m) float32 on the chosen principal components (settings.components,
    1-based; default the top two) of the valid rows, and the variance ratio of the top ten
    (pca.py: exact, float64, signs fixed so the map never flips)."""
    coords, ratios = pca.pca_map(vectors, valid, settings.components, on_progress=on_progress)
    return ProjectionResult(coords, "pca", sampled=False, n_embedded=int(np.count_nonzero(valid)), variance=ratios)


def tsne_2d(vectors, valid: np.ndarray, *, seed: int = 0, on_progress: ProgressFn = None,
            settings: MapSettings = DEFAULT, on_layout: LayoutFn = None, n_jobs: int = -1) -> ProjectionResult:
    """openTSNE t-SNE (euclidean, PCA initialisation, seeded) of all valid rows, in
    settings.dims dimensions with its perplexity and learning rate (None: openTSNE's auto).
    3-D maps use Barnes-Hut (openTSNE's FFT gradients are 2-D only).

    Progress: 0–TSNE_GRAPH_SHARE the exact kNN graph (by blocks), then affinities up to
    TSNE_AFFINITY_END, 0.2–0.45 early exaggeration, 0.45–1 main phase. Fewer than
    4 valid rows are placed by PCA instead (t-SNE needs neighbours).
    """
    import openTSNE
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    rows = np.flatnonzero(valid)
    dims = settings.dims
    if rows.size < 4:
        result = pca_2d(vectors, valid, settings=MapSettings(dims=dims, components=tuple(range(1, dims + 1))))
        return ProjectionResult(result.coords, "tsne", sampled=False, n_embedded=result.n_embedded)
    report = on_progress or (lambda fraction, message: None)
    data = np.ascontiguousarray(np.asarray(vectors)[rows], dtype=np.float64)
    perplexity = min(settings.perplexity, (rows.size - 1) / 3.0)
    small = rows.size <= TSNE_SMALL
    n_jobs, gradient = (1, "bh") if small else (n_jobs, "auto" if dims == 2 else "bh")
    early, main = (TSNE_EXAGGERATION_ITERS // 2, TSNE_ITERS // 2) if small else (TSNE_EXAGGERATION_ITERS, TSNE_ITERS)
    report(0.0, "t-SNE neighbours")
    # The affinities start from our exact kNN graph (3 × perplexity neighbours, openTSNE's
    # own choice of k) instead of openTSNE's Annoy / BallTree search: that search reports no
    # progress (the map sat at 0 % for 80 % of a 100,000-point run), and the exact graph is
    # the one the other panels show. openTSNE takes it through its public PrecomputedNeighbors.
    k = min(rows.size - 1, int(3 * perplexity))
    graph = certified_graph.knn_graph_exact_fast(
        neighbors.prepare(np.ascontiguousarray(data, dtype=np.float32), "euclidean"), k,
        on_progress=lambda f, m=None: report(TSNE_GRAPH_SHARE * f, "t-SNE neighbours (exact kNN graph)"))
    report(TSNE_GRAPH_SHARE, "t-SNE affinities")
    affinities = openTSNE.affinity.PerplexityBasedNN(
        perplexity=perplexity, n_jobs=n_jobs, random_state=seed, verbose=False,
        knn_index=PrecomputedNeighbors(graph.indices, graph.distances))
    del graph
    report(TSNE_AFFINITY_END, "t-SNE initial layout")
    init = openTSNE.initialization.pca(data, n_components=dims, random_state=seed)
    del data

    def phase(start: float, width: float, total: int, message: str):
        def callback(iteration, error, embedding):
            report(start + width * min(1.0, iteration / total), message)
        return callback

    rate = "auto" if settings.learning_rate is None else settings.learning_rate
    embedding = openTSNE.TSNEEmbedding(init, affinities, n_jobs=n_jobs, random_state=seed, verbose=False,
                                       negative_gradient_method=gradient, learning_rate=rate)
    embedding = embedding.optimize(early, exaggeration=12, momentum=0.5,
                                   callbacks=phase(0.2, 0.25, early, "t-SNE early exaggeration"),
                                   callbacks_every_iters=10)
    embedding = embedding.optimize(main, momentum=0.8,
                                   callbacks=phase(0.45, 0.55, main, "t-SNE"), callbacks_every_iters=10)
    coords = np.full((np.asarray(vectors).shape[0], dims), np.nan, dtype=np.float32)
    coords[rows] = np.asarray(embedding, dtype=np.float32)
    return ProjectionResult(coords, "tsne", sampled=False, n_embedded=int(rows.size))


_umap_used = threading.Event()  # set after the first UMAP of this process (numba compiled)


def umap_2d(vectors, valid: np.ndarray, *, seed: int = 0, on_progress: ProgressFn = None,
            settings: MapSettings = DEFAULT, on_layout: LayoutFn = None) -> ProjectionResult:
    """umap-learn UMAP (euclidean, spectral initialisation, seeded) of all valid rows, in
    settings.dims dimensions with its n_neighbors, min_dist and layout epochs (None: umap-learn's
    default, 500 below 10,000 points and 200 above).

    The neighbour graph UMAP starts from is the exact one (certified_graph.knn_graph_exact_fast)
    rather than umap-learn's NN-descent: the same neighbours the other panels show, progress
    while it is built, and no NN-descent kernels to compile (~40 s in every new process).
    Deterministic: with ``random_state`` umap-learn runs single-threaded (its parallel
    epochs race on purpose), which is what makes the same seed give the same map.
    Progress: 0–UMAP_GRAPH_SHARE the kNN graph, then umap-learn's fuzzy graph and spectral
    initialisation (no reports inside), then by layout epochs up to 1. Fewer than
    UMAP_MIN_ROWS valid rows are placed by PCA instead. Timings: see UMAP_GRAPH_SHARE.
    `on_layout`: called with the run's layout in progress (umap_preview.LayoutPreview, up to
    umap_preview.MAX_POINTS points, every ~0.25 s): the map's first picture; it changes
    nothing in the run, whose final layout is the same bits with or without it.
    """
    rows = np.flatnonzero(valid)
    report = on_progress or (lambda fraction, message=None: None)
    dims = settings.dims
    if rows.size < UMAP_MIN_ROWS:
        result = pca_2d(vectors, valid, settings=MapSettings(dims=dims, components=tuple(range(1, dims + 1))))
        report(1.0, "UMAP needs %d points; %d placed by PCA" % (UMAP_MIN_ROWS, rows.size))
        return ProjectionResult(result.coords, "umap", sampled=False, n_embedded=result.n_embedded)
    report(0.0, "UMAP neighbour graph")
    data = np.ascontiguousarray(np.asarray(vectors)[rows], dtype=np.float32)
    k = min(settings.n_neighbors, rows.size - 1)
    graph = certified_graph.knn_graph_exact_fast(neighbors.prepare(data, "euclidean"), k - 1,
                                           on_progress=lambda f: report(UMAP_GRAPH_SHARE * f, "UMAP neighbour graph"))
    # umap-learn's graphs list each point as its own first neighbour (distance 0).
    knn_indices = np.hstack([np.arange(rows.size)[:, None], graph.indices])
    knn_dists = np.hstack([np.zeros((rows.size, 1)), graph.distances]).astype(np.float32)
    del graph
    report(UMAP_GRAPH_SHARE, "UMAP initial layout" if _umap_used.is_set()
           else "UMAP initial layout (loading UMAP: ~15 s the first time, a few seconds once its kernels are cached)")
    import umap  # loads numba kernels: seconds, so only when a UMAP map is asked for

    numba_cache.cache_umap_kernels()  # compiled once per cache dir, not once per start

    # Two notices that do not apply, silenced by message (process-wide filters, because
    # warnings.catch_warnings is not thread-safe): we never call transform(), which is what
    # an NNDescent object in precomputed_knn would be for; and scikit-learn's "not fully
    # connected" comes from umap-learn placing the centroids of separate clusters, which it
    # handles (spectral.multi_component_layout).
    warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\] \(knn_search_index\)", category=UserWarning)
    warnings.filterwarnings("ignore", message="Graph is not fully connected, spectral embedding", category=UserWarning)

    def on_epoch(done: int, total: int) -> None:
        report(UMAP_LAYOUT_START + (1.0 - UMAP_LAYOUT_START) * done / total,
               "UMAP layout, epoch %d of %d" % (done, total))

    reducer = umap.UMAP(
        n_components=dims, n_neighbors=k, min_dist=settings.min_dist, metric="euclidean",
        n_epochs=settings.epochs, precomputed_knn=(knn_indices, knn_dists, None), random_state=seed, n_jobs=1,
        verbose=False,
        tqdm_kwds={"disable": False, "bar_format": "{n} {total}", "mininterval": umap_preview.MIN_INTERVAL,
                   "ascii": True, "file": EpochWatcher(on_epoch, on_layout=on_layout, rows=rows,
                                                       n_rows=np.asarray(vectors).shape[0])})
    layout = reducer.fit_transform(data)
    _umap_used.set()
    del data, reducer
    coords = np.full((np.asarray(vectors).shape[0], dims), np.nan, dtype=np.float32)
    coords[rows] = np.asarray(layout, dtype=np.float32)
    report(1.0, "UMAP layout")
    return ProjectionResult(coords, "umap", sampled=False, n_embedded=int(rows.size))


#: name → function(vectors (N, D), valid (N,) bool, *, seed, on_progress, settings, on_layout) -> ProjectionResult.
PROJECTIONS: Dict[str, Callable[..., ProjectionResult]] = {"pca": pca_2d, "tsne": tsne_2d, "umap": umap_2d}


def check_projection(method: str) -> str:
    if method not in PROJECTIONS:
        raise ValueError("unknown projection %r; projections: %s" % (method, ", ".join(PROJECTIONS)))
    return method
