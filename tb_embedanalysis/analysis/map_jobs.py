"""The engine's maps as cached jobs: a 2-D or 3-D projection (PCA, t-SNE, UMAP) of all valid
rows with its settings, and the custom linear map; projections also kept in the engine's
authenticated disk cache, keyed by the settings each method uses (map_settings.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

import numpy as np

from tb_embedanalysis.analysis import custom_axes, pca, projection
from tb_embedanalysis.analysis.disk_cache import array_of
from tb_embedanalysis.analysis.map_settings import DEFAULT as DEFAULT_MAP, MapSettings
from tb_embedanalysis.analysis.progress import ProgressFn
from tb_embedanalysis.analysis.reports import Pending, ProjectionResult
from tb_embedanalysis.analysis.space import Space
from tb_embedanalysis.cache import CacheKey

if TYPE_CHECKING:  # pragma: no cover
    from tb_embedanalysis.analysis.engine import AnalysisEngine


class MapJobs:
    """The maps of one AnalysisEngine (its cache, disk cache and jobs): `engine.maps`."""

    def __init__(self, engine: "AnalysisEngine"):
        self._engine = engine

    def projection(self, space: Space, *, method: str = "pca", seed: int = 0, wait: bool = True,
                   on_progress: ProgressFn = None, settings: MapSettings = DEFAULT_MAP) -> Union[ProjectionResult, Pending]:
        """2-D or 3-D map of all valid rows (projection.PROJECTIONS), NaN rows for invalid
        ones; cached per the settings `method` uses (map_settings.py). While UMAP lays it out,
        a Pending carries the layout so far as `preview` (umap_preview.LayoutPreview)."""
        engine = self._engine
        space = space.with_metric("euclidean")  # maps ignore the metric: one per embedding
        extra = {} if settings.is_default(method) else settings.key(method)  # default maps keep their old key
        key = CacheKey.of("projection", space.ident, method=method, seed=int(seed), **extra)
        n = space.vectors.shape[0]
        dims = len(settings.components) if method == "pca" else settings.dims
        expect = {"coords": array_of(np.float32, (n, dims))}
        if method == "pca":
            expect["variance"] = array_of(np.float64, (pca.MAX_COMPONENTS,))

        def compute(job):
            stored = engine.disk.get(key.as_dict(), expect=expect)
            if stored is not None:
                return ProjectionResult(stored["coords"], method, sampled=False, n_embedded=space.n_valid,
                                        variance=stored.get("variance"))
            # An estimate the tab waits for has the cores first: the map waits at its next report.
            result = projection.PROJECTIONS[method](space.vectors, space.valid, seed=seed,
                                                    on_progress=engine.estimates.pausing(job.report),
                                                    settings=settings, on_layout=job.show)
            arrays = {"coords": result.coords}
            if result.variance is not None:
                arrays["variance"] = result.variance
            engine.disk.put(key.as_dict(), arrays)
            return result

        return engine._cached(key, compute, message="%s projection" % method, wait=wait, on_progress=on_progress)

    def custom_map(self, space: Space, x_ends, y_ends=None, *, ident: str, wait: bool = True,
                   on_progress: ProgressFn = None) -> Union[custom_axes.CustomMap, Pending]:
        """custom_axes.custom_map of the valid rows (x_ends, y_ends: (from rows, to rows));
        `ident` names the row sets (their hash), the result's cache key with the vectors'."""
        engine = self._engine
        space = space.with_metric("euclidean")
        key = CacheKey.of("custom-map", space.ident, ends=ident)

        def compute(job):
            job.report(0.0, "custom projection")
            return custom_axes.custom_map(space.vectors, space.valid, x_ends, y_ends)

        return engine._cached(key, compute, message="custom projection", wait=wait, on_progress=on_progress)
