"""UMAP warmed while TensorBoard starts, so the tab's first UMAP map of a restart does not
wait for `import umap` (issue 25.5).

Once numba_cache has UMAP's kernels on disk, a fresh process still spends seconds before its
first map: `import umap` (numba, pynndescent's kernels, and umap-learn's optional
ParametricUMAP, which imports TensorFlow and Keras) and loading the five cached kernels at
their first call. `start` does both in a background thread when the plugin starts — only
where an earlier start of this cache directory drew a UMAP map (its kernels are in the numba
folder), so a user who never asks for UMAP never pays — by drawing one tiny map
(WARM_ROWS points, the dtypes of a real one, so the same kernels load). The thread runs at
the server's own priority (kernel_warmup.py says why a niced thread holding the GIL made the
server wait instead of go first); it is not a daemon
(a daemon thread inside TensorFlow's import aborts the process at exit), so an exit during
the warm-up waits for its `import umap` (seconds), then it stops.

Why not keep TensorFlow out of umap-learn's import: umap/__init__.py imports
parametric_umap in a try block, and nothing short of hiding tensorflow from sys.modules
(which would also hide it from TensorBoard's own threads meanwhile) keeps it out; in a
TensorBoard that imported TensorFlow already it costs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Optional

import numpy as np

from tb_embedanalysis.analysis import jobs, kernel_warmup

logger = logging.getLogger(__name__)

#: Points of the warm-up map: above projection.UMAP_MIN_ROWS, a fraction of a second of layout.
WARM_ROWS = 300
_started = threading.Event()
#: Set when the warm-up has finished (tests and the bench wait on it).
warmed = threading.Event()


def umap_kernels_on_disk(folder: Optional[str]) -> bool:
    """Whether numba's cache `folder` holds umap-learn kernels (an earlier start drew UMAP)."""
    if not folder or not os.path.isdir(folder):
        return False
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir() and entry.name.startswith("umap"):
                if any(name.endswith(".nbi") for name in os.listdir(entry.path)):
                    return True
    return False


def start(cache_dir: Optional[str]) -> Optional[threading.Thread]:
    """Warm UMAP in a background thread if `cache_dir`'s own numba folder (`<cache dir>/numba`,
    numba_cache.SUBDIR) holds its kernels; the thread, or None when there is nothing to warm,
    it was started already in this process, or numba caches elsewhere (a NUMBA_CACHE_DIR
    set by the user, or the test suite's shared one: their kernels say nothing about this
    cache directory's TensorBoard having drawn UMAP)."""
    folder = kernel_warmup.own_numba_folder(cache_dir)
    if folder is None or not umap_kernels_on_disk(folder):
        return None
    return kernel_warmup.start_once(_started, _warm, "embedanalysis-umap-warmup")


def _warm() -> None:
    try:
        from tb_embedanalysis.analysis import projection

        import umap  # noqa: F401 - the seconds this thread is for
        if jobs.exiting():  # TensorBoard is stopping: no map
            return
        rng = np.random.default_rng(0)
        data = (rng.standard_normal((WARM_ROWS, 8)) + np.repeat(rng.standard_normal((3, 8)) * 4, WARM_ROWS // 3, axis=0)
                ).astype(np.float32)
        projection.umap_2d(data, np.ones(WARM_ROWS, dtype=bool))
    except Exception:  # a failed warm-up only means the first map waits as before
        logger.exception("embedanalysis: warming UMAP failed; the first UMAP map will load it")
    finally:
        warmed.set()
