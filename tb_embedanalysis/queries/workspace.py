"""The Workspace questions run in: the logdir's catalog, the loaded embeddings, the engine
and the tags, built once by `Workspace.open` for the plugin and the CLI alike."""

from __future__ import annotations

import dataclasses
from typing import Optional

from tb_embedanalysis.analysis import kernel_warmup, numba_cache, umap_warmup
from tb_embedanalysis.analysis.engine import AnalysisEngine
from tb_embedanalysis.budget import DEFAULT_WORK_MEMORY_MB, budget_bytes
from tb_embedanalysis.cache import DEFAULT_BUDGET_BYTES
from tb_embedanalysis.catalog import Catalog
from tb_embedanalysis.logs import EmbeddingStore
from tb_embedanalysis.logs.errors import LogError
from tb_embedanalysis.logs.model import Embedding, EmbeddingSummary
from tb_embedanalysis.tags import TagStore

MB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Workspace:
    """What answering needs: the logdir's catalog, the loaded embeddings, the engine, the tags."""

    catalog: Catalog
    store: EmbeddingStore
    engine: AnalysisEngine
    tags: Optional[TagStore] = None  # tags and corrected labels (tb_embedanalysis/tags.py)

    @classmethod
    def open(cls, logdir: str, *, cache_dir: Optional[str] = None, max_memory_mb: float = 2048.0,
             result_cache_mb: Optional[float] = None, disk_cache_mb: Optional[float] = None,
             work_memory_mb: float = DEFAULT_WORK_MEMORY_MB, tags: Optional[TagStore] = None,
             warm_maps: bool = False, kernel_cache_dir: Optional[str] = None,
             warm_kernel: bool = False) -> "Workspace":
        """The workspace of one logdir, for the plugin and the CLI alike: embeddings held up
        to max_memory_mb, results up to result_cache_mb (None: cache.py's default), kNN
        graphs and maps also on disk in cache_dir up to disk_cache_mb (cache_dir None:
        memory only; disk_cache_mb None: disk_cache.py's default); one computation, and the
        sprite decodes in flight together, within work_memory_mb (check_work_memory).
        warm_maps (the plugin): the exact search's kernel compiled or loaded in the background
        (analysis/kernel_warmup.py), and UMAP if an earlier start drew one (umap_warmup.py).
        kernel_cache_dir (the CLI, which keeps no disk cache by default): where numba's compiled
        kernels are cached when cache_dir is None (`<kernel_cache_dir>/numba`, numba_cache.py),
        so a run after the first loads the exact search's kernel instead of compiling it.
        warm_kernel (the CLI's analyses): that kernel compiled or loaded in the background
        while the embedding loads, as warm_maps does for the plugin."""
        engine = AnalysisEngine(
            cache_dir=cache_dir,
            memory_budget_bytes=DEFAULT_BUDGET_BYTES if result_cache_mb is None else int(result_cache_mb * MB),
            disk_budget_bytes=None if disk_cache_mb is None else int(disk_cache_mb * MB),
            work_memory_bytes=budget_bytes(work_memory_mb))
        if cache_dir is None and kernel_cache_dir is not None:
            numba_cache.use_cache_dir(kernel_cache_dir)
        store = EmbeddingStore(max_memory_mb=max_memory_mb, work_memory_mb=work_memory_mb)
        if warm_maps and engine.disk.enabled:
            kernel_warmup.start(cache_dir)  # the exact search's numba kernel
            umap_warmup.start(cache_dir)
        elif warm_kernel:
            kernel_warmup.start(cache_dir if cache_dir is not None else kernel_cache_dir)
        return cls(Catalog(logdir), store, engine, tags)

    def load(self, run: str, name: str, step: Optional[int] = None) -> Embedding:
        """The embedding at `step` (None: latest) as the logdir holds it now."""
        return self._current(run, name, step, self.store.load)

    def summary(self, run: str, name: str) -> EmbeddingSummary:
        """Cheap facts about the latest step (EmbeddingStore.summary), for listing."""
        return self._current(run, name, None, self.store.summary)

    def _current(self, run: str, name: str, step: Optional[int], read):
        """read(ref) of the ref at `step`, looking at the logdir again if it fails.

        Training may delete or add files between discovery and loading (max_to_keep deletes
        old checkpoints; the first checkpoint read imports TensorFlow, which takes seconds):
        when reading fails, look at the logdir again. A step that is gone is a 404 saying
        so; a "latest" that moved is read instead; an unchanged ref keeps its error.
        """
        ref = self.catalog.ref(run, name, step)
        for _ in range(2):
            try:
                return read(ref)
            except LogError:
                current = self.catalog.ref(run, name, step, check_now=True)
                if current == ref:
                    raise
                ref = current
        return read(ref)
