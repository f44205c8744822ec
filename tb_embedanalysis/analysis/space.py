"""Space: what every analysis is computed on (vectors, their fingerprint, the valid rows,
a metric), and the k bucket a kNN graph is built for."""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import numpy as np

#: kNN graphs are built for the smallest of these ≥ k (capped at valid rows − 1) and sliced.
GRAPH_KS = (10, 20, 50, 100, 200, 500, 1000)


@dataclasses.dataclass(frozen=True, eq=False)
class Space:
    """What every analysis is computed on.

    vectors: (N, D) float32, read-only; fingerprint: content hash of the vectors;
    valid: (N,) bool, rows without NaN/Inf (the others are never analysed); metric: one of
    neighbors.METRICS.
    """

    vectors: np.ndarray
    fingerprint: str
    valid: np.ndarray
    metric: str = "cosine"

    @functools.cached_property
    def ident(self) -> str:
        """Digest of (fingerprint, shape, metric, valid rows): names this input in cache keys."""
        digest = hashlib.sha256()
        for part in (self.fingerprint, repr(tuple(self.vectors.shape)), self.metric):
            digest.update(part.encode("utf-8") + b"\0")
        digest.update(np.packbits(np.asarray(self.valid, dtype=bool)).tobytes())
        return digest.hexdigest()[:32]

    @functools.cached_property
    def n_valid(self) -> int:
        return int(np.count_nonzero(self.valid))

    def with_metric(self, metric: str) -> "Space":
        return dataclasses.replace(self, metric=metric)


def graph_k(k: int, n_valid: int) -> int:
    """The k the graph behind a k-neighbour analysis is built with (see GRAPH_KS)."""
    bucket = next((size for size in GRAPH_KS if size >= k), k)
    return max(k, min(bucket, n_valid - 1))
