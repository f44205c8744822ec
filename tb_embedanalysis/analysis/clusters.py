"""Per-label cluster statistics and the kNN-vote confusion matrix.

The kNN vote of a point is uniform over its k nearest *other* points (leave-one-out), ties
going to the smallest label in natural label order — exactly what scikit-learn's
KNeighborsClassifier (weights="uniform") predicts for the point with itself left out, when
labels are given as their natural-order codes. A point is **hard** when its vote
disagrees with its label; `hard_count` counts those per label.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from tb_embedanalysis.analysis import geometry, labels as label_codes, neighbors
from tb_embedanalysis.analysis.labels import EncodedLabels, Votes
from tb_embedanalysis.analysis.neighbors import KnnGraph, PreparedMatrix
from tb_embedanalysis.analysis.reports import ClusterReport, LabelStats

#: Silhouette is exact up to SILHOUETTE_EXACT_MAX valid points (≈ 2.5 s at D = 128 here);
#: above it, on a seeded uniform sample of min(SILHOUETTE_SAMPLE, exact max) points (≈ 0.6 s;
#: standard error of the mean silhouette ≈ 0.003), and the report gives the sample size.
SILHOUETTE_EXACT_MAX = 20000
SILHOUETTE_SAMPLE = 10000


class NeighborCodes:
    """(n, k) label codes of the valid rows' graph neighbours, computed from the graph for
    the rows asked (`codes[sl]`, a row, or np.asarray for all), never held whole: at
    k = 1,000 on 100,000 rows they were 400 MB beside the graph (issue 25.3). The shape and
    indexing label_codes.vote and the hardness scores read, in row blocks."""

    def __init__(self, graph: KnnGraph, rows: np.ndarray, code_of: np.ndarray):
        self._indices, self._rows, self._code_of = graph.indices, rows, code_of
        self.shape = (rows.size, graph.k)

    def __getitem__(self, key) -> np.ndarray:
        return self._code_of[self._indices[self._rows[key]]]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.empty(self.shape, dtype=self._code_of.dtype)
        for start in range(0, self.shape[0], geometry.BLOCK):
            out[start:start + geometry.BLOCK] = self[start:start + geometry.BLOCK]
        return out if dtype is None else out.astype(dtype, copy=False)


@dataclasses.dataclass(frozen=True, eq=False)
class LabelContext:
    """What statistics and hardness scores share, on the n valid rows only.

    rows (n,) original indices; codes (n,) label codes; code_of (N,) the label code of every
    row (−1 for invalid ones); votes: uniform kNN vote; cents (L, D) float64; own_dist (n,)
    d(x, own centroid); other_dist / other_label (n,) nearest other centroid. The graph's
    (n, k) neighbour codes and distances are read from the graph by row blocks
    (neighbor_codes, neighbor_distances), not copied: the context adds O(N + L) to the graph.
    """

    prep: PreparedMatrix
    graph: KnnGraph
    encoded: EncodedLabels
    rows: np.ndarray
    codes: np.ndarray
    code_of: np.ndarray
    votes: Votes
    cents: np.ndarray
    own_dist: np.ndarray
    other_dist: np.ndarray
    other_label: np.ndarray

    @property
    def n_labels(self) -> int:
        return len(self.encoded.names)

    @property
    def neighbor_codes(self) -> NeighborCodes:
        """(n, k) label codes of each valid row's neighbours, by row blocks (NeighborCodes)."""
        return NeighborCodes(self.graph, self.rows, self.code_of)

    def neighbor_distances(self, sl: slice) -> np.ndarray:
        """(rows in sl, k) float64 distances of the valid rows `sl` (positions) to their neighbours."""
        return self.graph.distances[self.rows[sl]].astype(np.float64, copy=False)


def label_context(prep: PreparedMatrix, graph: KnnGraph, encoded: EncodedLabels) -> LabelContext:
    """The shared arrays of the valid rows, labelled by `encoded` (codes of the valid rows,
    see labels.encode_rows)."""
    rows = np.flatnonzero(prep.valid)
    if encoded.codes.shape != rows.shape:
        raise ValueError("%d label codes for %d valid rows" % (encoded.codes.size, rows.size))
    codes = encoded.codes
    n_labels = len(encoded.names)
    # int32: the codes a vote block gathers from the graph, half the bytes of int64.
    code_of = np.full(prep.matrix.shape[0], -1, dtype=np.int32 if n_labels < 2 ** 31 else np.int64)
    code_of[rows] = codes
    cents = geometry.centroids(prep, rows, codes, n_labels)
    own, other, other_label = geometry.centroid_distances(prep, rows, codes, cents, prep.metric)
    votes = label_codes.vote(NeighborCodes(graph, rows, code_of), codes, n_labels)
    return LabelContext(prep, graph, encoded, rows, codes, code_of, votes, cents, own, other, other_label)


def statistics(ctx: LabelContext, *, silhouette_exact_max: int = SILHOUETTE_EXACT_MAX, seed: int = 0) -> ClusterReport:
    """ClusterReport of a LabelContext. Definitions, per label l with n_l points:

    spread = mean d(x, c_l); radius_p90 = 90th percentile of d(x, c_l) (linear interpolation);
    nearest_label = argmin_{m≠l} d(c_l, c_m); separation = that distance / spread (None if
    spread = 0); purity = mean fraction of same-label points among the k neighbours;
    knn_recall = P(vote = l | label = l); knn_precision = P(label = l | vote = l) (None if
    no point votes l); silhouette = mean silhouette of its points (None if not computed);
    hard_count = points whose vote ≠ label. Overall: knn_accuracy = P(vote = label);
    macro_f1 as f1_score(average="macro", zero_division=0) over labels given or voted;
    davies_bouldin euclidean (as scikit-learn). All distances in the graph's metric.
    """
    n, k, n_labels = ctx.rows.size, ctx.graph.k, ctx.n_labels
    codes, predicted = ctx.codes, ctx.votes.predicted
    counts = np.bincount(codes, minlength=n_labels)
    confusion = np.bincount(codes * n_labels + predicted, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    correct = np.diag(confusion).astype(np.float64)
    voted = confusion.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = correct / counts
        precision = np.where(voted > 0, correct / np.maximum(voted, 1), np.nan)
        f1 = np.where(counts + voted > 0, 2 * correct / (counts + voted), 0.0)
    present = (counts + voted) > 0
    purity = np.bincount(codes, weights=ctx.votes.own / k, minlength=n_labels) / counts
    spread = np.bincount(codes, weights=ctx.own_dist, minlength=n_labels) / counts
    radius = _per_label_percentile(ctx.own_dist, codes, n_labels, 90)

    between = geometry.point_distances(ctx.cents, ctx.cents, ctx.prep.metric)
    np.fill_diagonal(between, np.inf)
    nearest = np.argmin(between, axis=1) if n_labels > 1 else np.full(n_labels, -1)

    sil, sample_size = _silhouette(ctx, silhouette_exact_max, seed)
    sil_label, sil_mean = None, None
    if sil is not None:
        sil_rows, sil_values = sil
        sil_counts = np.bincount(codes[sil_rows], minlength=n_labels)
        with np.errstate(invalid="ignore", divide="ignore"):
            sil_label = np.bincount(codes[sil_rows], weights=sil_values, minlength=n_labels) / sil_counts
        sil_mean = float(sil_values.mean())
    names = ctx.encoded.names
    stats = []
    for code in range(n_labels):
        has_other = nearest[code] >= 0
        stats.append(LabelStats(
            label=names[code], count=int(counts[code]), spread=spread[code], radius_p90=radius[code],
            nearest_label=names[nearest[code]] if has_other else None,
            separation=between[code, nearest[code]] / spread[code] if has_other and spread[code] > 0 else None,
            purity=purity[code], knn_recall=recall[code], knn_precision=precision[code],
            silhouette=None if sil_label is None else sil_label[code], hard_count=int(counts[code] - correct[code]),
        ))
    two_labels = 2 <= n_labels <= n - 1
    overall = {
        "n": int(n), "k": int(k), "metric": ctx.prep.metric,
        "knn_accuracy": float(correct.sum() / n),
        "macro_f1": float(f1[present].mean()),
        "silhouette": sil_mean,
        "silhouette_sample_size": sample_size,
        "davies_bouldin": geometry.davies_bouldin(ctx.prep, ctx.rows, codes, ctx.cents, n_labels) if two_labels else None,
        "num_labels": int(n_labels),
    }
    return ClusterReport(overall, tuple(stats), confusion, knn_exact=ctx.graph.exact)


def _silhouette(ctx: LabelContext, exact_max: int, seed: int):
    """((positions, values), sample_size or None), or (None, sample_size) when undefined
    (fewer than 2 labels or one label per point). Above exact_max points: a seeded sample."""
    n = ctx.rows.size
    positions = np.arange(n)
    sample_size = None
    if n > exact_max:
        sample_size = int(min(exact_max, SILHOUETTE_SAMPLE))
        positions = np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))
    codes = ctx.codes[positions]
    present, codes_local = np.unique(codes, return_inverse=True)
    if not 2 <= present.size <= positions.size - 1:
        return None, sample_size
    values = geometry.silhouette_samples(ctx.prep, ctx.rows[positions], codes_local, present.size)
    return (positions, values), sample_size


def _per_label_percentile(values: np.ndarray, codes: np.ndarray, n_labels: int, q: float) -> np.ndarray:
    """(L,) np.percentile(values[codes == l], q) for every label, in one sort."""
    order = np.lexsort((values, codes))
    sorted_values = values[order]
    counts = np.bincount(codes, minlength=n_labels)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    out = np.full(n_labels, np.nan)
    for code in np.flatnonzero(counts):
        out[code] = np.percentile(sorted_values[starts[code]:starts[code] + counts[code]], q)
    return out


def cluster_statistics(vectors, labels: Sequence[str], *, k: int = 10, metric: str = "cosine",
                       valid=None, silhouette_exact_max: int = SILHOUETTE_EXACT_MAX) -> ClusterReport:
    """Cluster statistics of `vectors` (N, D) under `labels` (N strings), exact kNN graph.

    The standalone entry point (the writer's log_cluster_scalars uses it); the engine
    computes the same thing with a cached, possibly approximate, graph.
    """
    prep = neighbors.prepare(vectors, metric, valid)
    if len(labels) != prep.matrix.shape[0]:
        raise ValueError("%d labels for %d rows" % (len(labels), prep.matrix.shape[0]))
    graph = neighbors.knn_graph(prep, k)
    encoded = label_codes.encode_rows(labels, np.flatnonzero(prep.valid))
    return statistics(label_context(prep, graph, encoded), silhouette_exact_max=silhouette_exact_max)
