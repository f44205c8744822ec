"""Outliers: how far each point sits from its nearest neighbours, from the exact kNN graph.

The score is the **mean distance to the k nearest other points**,
s_i = (1/k) Σ_{j ∈ N_i} d(x_i, x_j), N_i the k nearest valid rows of i (itself excluded),
d the Space's metric. Range [0, 2] for cosine, [0, ∞) for euclidean; **higher = more
outlying**; 0 for a point with k exact duplicates.

This is the feature cleanlab's `OutOfDistribution` scores with (it then maps s to
exp(−s / t), which keeps the order, so both rank alike on the same metric and k). Measured
on Gaussian blobs of unequal spread with uniformly scattered points among them (4 seeds,
k = 10 and 20), the mean kNN distance ranked the scattered points best of the scores tried:
AUROC 0.993–1.000 euclidean, against 0.975–0.999 for LOF's local-density ratio and
0.961–0.999 for the kNN distance relative to the neighbours' (density ratios call a point
in a sparse blob as normal as one in a tight blob, and uniformly scattered points make each
other's neighbourhood look "normal"). The k-th distance alone ranked within 0.001 of the mean.
"""

from __future__ import annotations

import dataclasses
from typing import List, Tuple

import numpy as np

from tb_embedanalysis.analysis.neighbors import KnnGraph
from tb_embedanalysis.jsonable import number

SCORE_NAME = "mean_knn_distance"


@dataclasses.dataclass(frozen=True, eq=False)
class OutlierReport:
    """Outlier scores of the valid rows: rows (n,) int64 original indices; scores (n,)
    float64 mean kNN distance; order (n,) positions, score descending, ties by index."""

    k: int
    metric: str
    rows: np.ndarray
    scores: np.ndarray
    order: np.ndarray

    def page(self, offset: int = 0, limit: int = 50) -> Tuple[int, List[dict]]:
        """(total, [{index, score, rank}] of ranks offset … offset+limit−1), most outlying first."""
        chosen = self.order[offset:offset + limit]
        return int(self.order.size), [
            {"index": int(self.rows[pos]), "score": number(self.scores[pos]), "rank": offset + i}
            for i, pos in enumerate(chosen.tolist())]

    def score_range(self) -> List[float]:
        return [0.0, 2.0] if self.metric == "cosine" else [0.0, float("inf")]


def outlier_scores(graph: KnnGraph, valid: np.ndarray) -> OutlierReport:
    """Score every valid row of `graph` (rows of invalid points are skipped) and rank them.

    graph: the exact kNN graph with k neighbours (distances (N, k) ascending; a big graph's
    are float32, the exact values rounded: the mean then errs by at most 2^-24 relative);
    valid: (N,) bool.
    """
    rows = np.flatnonzero(np.asarray(valid, dtype=bool))
    scores = graph.distances[rows].mean(axis=1, dtype=np.float64)
    order = np.lexsort((rows, -scores))
    return OutlierReport(graph.k, graph.metric, rows, scores, order)
