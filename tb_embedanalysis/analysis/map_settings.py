"""The settings of one map: dimensions (2 or 3), PCA's components, t-SNE's perplexity and
learning rate, UMAP's neighbours, min_dist and layout epochs; their defaults and bounds.

A map is cached per (embedding, method, the settings that method uses): `key()` keeps only
those, so a PCA map is not computed again because the perplexity changed. The bounds are
checked in queries/maps.py (400 naming the parameter); here they are constants, so the
tab can show them and the defaults.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tb_embedanalysis.analysis.pca import MAX_COMPONENTS

#: (default, smallest, largest) of each numeric setting. Perplexity: openTSNE's default;
#: above 100 the affinities cost more than the map (3·perplexity neighbours per point) and
#: it is clipped to (N − 1) / 3 anyway. Learning rate: None is openTSNE's "auto" (N divided
#: by the exaggeration: N / 12 in the early phase, N after). Neighbours and min_dist: umap-learn's defaults and useful range
#: (min_dist ≤ spread = 1); neighbours above 200 make a graph the exact search pays for.
PERPLEXITY = (30.0, 2.0, 100.0)
LEARNING_RATE = (None, 1.0, 100000.0)
NEIGHBOURS = (15, 2, 200)
MIN_DIST = (0.1, 0.0, 1.0)
#: UMAP's layout epochs; None (the default) is umap-learn's own: 500 below 10,000 points, 200
#: above. Fewer draw a map sooner and keep fewer of each point's neighbours (bench/README.md,
#: "Fewer layout epochs?": 200 instead of 500 keeps 1.2-2.4 percentage points fewer of the 10
#: exact neighbours on held-out data, so the default stays umap-learn's); 1,000 bounds the
#: layout's cost (5x the default's above 10,000 points).
EPOCHS = (None, 50, 1000)
DIMENSIONS = (2, 3)


@dataclasses.dataclass(frozen=True)
class MapSettings:
    """dims: 2 or 3; components: PCA's 1-based components, one per dimension; the others as
    their method takes them (learning_rate None: openTSNE's automatic rate)."""

    dims: int = 2
    components: Tuple[int, ...] = (1, 2)
    perplexity: float = PERPLEXITY[0]
    learning_rate: Optional[float] = LEARNING_RATE[0]
    n_neighbors: int = NEIGHBOURS[0]
    min_dist: float = MIN_DIST[0]
    epochs: Optional[int] = EPOCHS[0]

    def key(self, method: str) -> dict:
        """What identifies the map of `method` with these settings (its cache key's part)."""
        if method == "pca":
            return {"components": ",".join(map(str, self.components))}
        fields: dict = {"dims": self.dims}
        if method == "tsne":
            fields.update(perplexity=self.perplexity, learning_rate=self.learning_rate or "auto")
        elif method == "umap":
            fields.update(n_neighbors=self.n_neighbors, min_dist=self.min_dist)
            if self.epochs is not None:  # umap-learn's default keeps the key earlier versions had
                fields.update(n_epochs=self.epochs)
        return fields

    def is_default(self, method: str) -> bool:
        """Whether the map is the one every earlier version cached (2-D, default settings)."""
        return self.key(method) == MapSettings().key(method)


DEFAULT = MapSettings()


def defaults() -> dict:
    """The settings' defaults and bounds, as the tab shows them (/projection_settings)."""
    return {
        "dims": {"default": 2, "choices": list(DIMENSIONS)},
        "components": {"default": [1, 2], "max": MAX_COMPONENTS},
        "perplexity": {"default": PERPLEXITY[0], "min": PERPLEXITY[1], "max": PERPLEXITY[2]},
        "learning_rate": {"default": "auto", "min": LEARNING_RATE[1], "max": LEARNING_RATE[2]},
        "n_neighbors": {"default": NEIGHBOURS[0], "min": NEIGHBOURS[1], "max": NEIGHBOURS[2]},
        "min_dist": {"default": MIN_DIST[0], "min": MIN_DIST[1], "max": MIN_DIST[2]},
        "n_epochs": {"default": "auto", "min": EPOCHS[1], "max": EPOCHS[2]},
    }
