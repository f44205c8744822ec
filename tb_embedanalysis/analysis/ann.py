"""The neighbour index the engine uses at large N: since issue 14 an *exact* one.

HNSW (hnswlib, ef = 64) had mean recall 0.994, but its misses fell on a few dozen points
that then ranked first as hard examples, differently on every run; hnswlib also ships no
wheel (every install compiled C++). The index is now certified.CertifiedIndex: k-means cells
propose, a triangle-inequality bound proves each answer, the rest is scanned exactly. Its
answers equal neighbors.search / neighbors.knn_graph bit for bit, on every run.

The old names (`available`, `HnswIndex`, the `ef` keyword) stay until engine.py is rewired
to certified.py directly; `ef` is ignored.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from tb_embedanalysis.analysis import certified
from tb_embedanalysis.analysis.neighbors import KnnGraph, ProgressFn


def available() -> bool:
    """Always: the index is pure numpy now."""
    return True


class HnswIndex(certified.CertifiedIndex):
    """Compatibility name for certified.CertifiedIndex (exact, deterministic)."""

    def search(self, queries, k: int, *, exclude=None, ef=None, stats=None) -> Tuple[np.ndarray, np.ndarray]:
        return super().search(queries, k, exclude=exclude, stats=stats)

    def knn_graph(self, k: int, *, on_progress: ProgressFn = None, ef=None) -> KnnGraph:
        """Exact graph: certified when a pilot shows the cells pay off, else plain blocked."""
        return certified.graph_with(self, k, on_progress=on_progress)
