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


@dataclasses.dataclass(frozen=True, eq=False)
class LabelContext:
    """What statistics and hardness scores share, on the n valid rows only.

    rows (n,) original indices; codes (n,) label codes; neighbor_codes (n, k) int32 and
    neighbor_dist (n, k) of the kNN graph; votes: uniform kNN vote; cents (L, D) float64;
    own_dist (n,) d(x, own centroid); other_dist / other_label (n,) nearest other centroid.
    """

    prep: PreparedMatrix
    graph: KnnGraph
    encoded: EncodedLabels
    rows: np.ndarray
    codes: np.ndarray
    neighbor_codes: np.ndarray
    neighbor_dist: np.ndarray
    votes: Votes
    cents: np.ndarray
    own_dist: np.ndarray
    other_dist: np.ndarray
    other_label: np.ndarray

    @property
    def n_labels(self) -> int:
        return len(self.encoded.names)


def label_context(prep: PreparedMatrix, graph: KnnGraph, encoded: EncodedLabels) -> LabelContext:
    """The shared arrays of the valid rows, labelled by `encoded` (codes of the valid rows,
    see labels.encode_rows)."""
    rows = np.flatnonzero(prep.valid)
    if encoded.codes.shape != rows.shape:
        raise ValueError("%d label codes for %d valid rows" % (encoded.codes.size, rows.size))
    codes = encoded.codes
    position = np.full(prep.matrix.shape[0], -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    # In row blocks: graph.indices[rows] and position[...] were two more (n, k) int64 arrays.
    # int32: the context stays cached beside the graph; half the bytes of int64 codes.
    n_labels = len(encoded.names)
    neighbor_codes = np.empty((rows.size, graph.k), dtype=np.int32 if n_labels < 2 ** 31 else np.int64)
    for start in range(0, rows.size, geometry.BLOCK):
        neighbor_codes[start:start + geometry.BLOCK] = codes[position[graph.indices[rows[start:start + geometry.BLOCK]]]]
    if rows.size == prep.matrix.shape[0]:  # every row valid: the graph's distances, not a copy
        neighbor_dist = graph.distances.view()
        neighbor_dist.flags.writeable = False
    else:
        neighbor_dist = graph.distances[rows]
    cents = geometry.centroids(prep, rows, codes, n_labels)
    own, other, other_label = geometry.centroid_distances(prep, rows, codes, cents, prep.metric)
    return LabelContext(prep, graph, encoded, rows, codes, neighbor_codes, neighbor_dist,
                        label_codes.vote(neighbor_codes, codes, n_labels), cents, own, other, other_label)


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
