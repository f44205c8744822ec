"""A clustered embedding with labels and a sprite, for the load test and bench/bench_load.py."""

from __future__ import annotations

import numpy as np

from tb_embedanalysis import write_embedding
from tb_embedanalysis.logs.sprites import MAX_SPRITE_PIXELS, grid_columns


def write_clustered(logdir: str, *, n: int, d: int = 64, clusters: int = 20, thumbnail: int = 16,
                    label_noise: float = 0.05, seed: int = 0) -> None:
    """`n` points around `clusters` Gaussian centres in `d` dims; labels = centre, with
    `label_noise` of them flipped (so hard examples exist); thumbnails `thumbnail` px, grey
    level by label. The sprite must fit TensorBoard's 8192 px: ceil(sqrt(n)) * thumbnail."""
    if grid_columns(n) * thumbnail > MAX_SPRITE_PIXELS:
        raise ValueError("%d thumbnails of %d px need %d px > %d" % (n, thumbnail, grid_columns(n) * thumbnail,
                                                                      MAX_SPRITE_PIXELS))
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(clusters, d)).astype(np.float32)
    truth = rng.integers(clusters, size=n)
    vectors = centres[truth] + rng.normal(size=(n, d)).astype(np.float32)
    labels = truth.copy()
    flipped = rng.random(n) < label_noise
    labels[flipped] = rng.integers(clusters, size=int(flipped.sum()))
    grey = (labels * (255 // max(1, clusters - 1))).astype(np.uint8)
    images = np.broadcast_to(grey[:, None, None], (n, thumbnail, thumbnail))
    write_embedding(logdir, vectors, name="features", metadata={"Index": [str(i) for i in range(n)],
                                                                 "Label": [str(v) for v in labels]},
                    images=images)
