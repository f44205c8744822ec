"""Cluster statistics against scikit-learn oracles (KNeighborsClassifier leave-one-out,
silhouette_samples, davies_bouldin_score, confusion_matrix, f1_score)."""

import numpy as np
import pytest
from sklearn.metrics import (confusion_matrix, davies_bouldin_score, f1_score, pairwise_distances,
                             silhouette_samples)
from sklearn.neighbors import KNeighborsClassifier

from tb_embedanalysis.analysis import clusters, labels as label_codes, neighbors
from tb_embedanalysis.analysis.labels import NoClustersError


def _case(kind: str, n: int, seed: int = 0):
    """(vectors, integer labels) with three or four blobs and a deliberate corner."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(size=(n, 6)) + 2.0 * np.eye(6)[y]
    if kind == "one_point_label":
        y[0] = 4  # label 4 has a single point
    elif kind == "zero_vectors":
        x[::9] = 0.0
    elif kind == "duplicates":
        x[1::4] = x[0] + 1e-3 * rng.normal(size=(len(x[1::4]), 6))  # near-duplicates, no exact ties
    return x, y


def _stable_oracle(x, y, k, metric):
    """Neighbours from sklearn's pairwise_distances with equal distances ordered by index
    (many zero vectors are exact ties, where NearestNeighbors' order is unspecified), and
    KNeighborsClassifier's vote rule: most frequent label, ties to the smallest."""
    dist = pairwise_distances(x, metric=metric)
    np.fill_diagonal(dist, np.inf)
    idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
    vote = np.array([np.bincount(y[row], minlength=y.max() + 1).argmax() for row in idx])
    return idx, vote


@pytest.mark.parametrize("metric", neighbors.METRICS)
@pytest.mark.parametrize("n", [40, 400], ids=lambda n: "n%d" % n)
@pytest.mark.parametrize("kind", ["blobs", "one_point_label", "zero_vectors", "duplicates"])
def test_statistics_match_sklearn(metric, n, kind):
    x, y = _case(kind, n)
    k = 7
    report = clusters.cluster_statistics(x, [str(v) for v in y], k=k, metric=metric)
    out = report.to_dict()
    classes = np.unique(y)
    neighbors_idx, vote = _stable_oracle(x, y, k, metric)
    if kind != "zero_vectors":  # no exact distance ties: scikit-learn's own leave-one-out vote
        sk_vote = KNeighborsClassifier(n_neighbors=k, metric=metric, algorithm="brute").fit(x, y).predict(None)
        np.testing.assert_array_equal(vote, sk_vote)

    overall = out["overall"]
    assert overall["n"] == n and overall["k"] == k and overall["metric"] == metric
    assert overall["num_labels"] == len(classes)
    assert overall["knn_accuracy"] == pytest.approx(np.mean(vote == y), abs=1e-12)
    assert overall["macro_f1"] == pytest.approx(f1_score(y, vote, average="macro", zero_division=0), abs=1e-6)
    sil = silhouette_samples(x, y, metric=metric)
    assert overall["silhouette"] == pytest.approx(sil.mean(), abs=1e-6)
    assert overall["silhouette_sample_size"] is None
    assert overall["davies_bouldin"] == pytest.approx(davies_bouldin_score(x, y), abs=1e-6)
    np.testing.assert_array_equal(out["confusion"]["matrix"], confusion_matrix(y, vote, labels=classes))
    assert out["confusion"]["labels"] == [str(c) for c in classes]

    for stats, c in zip(out["labels"], classes):
        members = y == c
        assert stats["label"] == str(c) and stats["count"] == members.sum()
        centroid = x[members].mean(axis=0, keepdims=True)
        dist = neighbors.point_distances(x[members], centroid, metric)[:, 0]
        assert stats["spread"] == pytest.approx(dist.mean(), abs=1e-6)
        assert stats["radius_p90"] == pytest.approx(np.percentile(dist, 90), abs=1e-6)
        assert stats["purity"] == pytest.approx(np.mean(y[neighbors_idx[members]] == c), abs=1e-12)
        assert stats["knn_recall"] == pytest.approx(np.mean(vote[members] == c), abs=1e-12)
        if (vote == c).any():
            assert stats["knn_precision"] == pytest.approx(np.mean(y[vote == c] == c), abs=1e-12)
        else:
            assert stats["knn_precision"] is None
        assert stats["silhouette"] == pytest.approx(sil[members].mean(), abs=1e-6)
        assert stats["hard_count"] == np.sum(vote[members] != c)
        others = [o for o in classes if o != c]
        cents = np.stack([x[y == o].mean(axis=0) for o in others])
        between = neighbors.point_distances(centroid, cents, metric)[0]
        assert stats["nearest_label"] == str(others[int(np.argmin(between))])
        assert stats["separation"] == pytest.approx(between.min() / dist.mean(), rel=1e-6) if dist.mean() > 0 \
            else stats["separation"] is None


def test_vote_ties_go_to_the_smallest_label_like_sklearn():
    # point 0 has two neighbours of label "2" and two of label "10": the tie goes to "2"
    x = np.array([[0.0], [1.0], [-1.0], [2.0], [-2.0], [50.0]])
    y = ["0", "2", "10", "2", "10", "10"]
    report = clusters.cluster_statistics(x, y, k=4, metric="euclidean")
    codes = label_codes.encode(y).codes
    vote = KNeighborsClassifier(n_neighbors=4, algorithm="brute").fit(x, codes).predict(None)
    matrix = np.asarray(report.to_dict()["confusion"]["matrix"])
    np.testing.assert_array_equal(matrix, confusion_matrix(codes, vote, labels=[0, 1, 2]))
    assert report.to_dict()["confusion"]["labels"] == ["0", "2", "10"]  # natural, not string order
    assert vote[0] == 1  # "2"


def test_labels_sort_naturally_when_numeric_else_as_text():
    assert label_codes.natural_order(["10", "9", "1.5", "-3"]) == ["-3", "1.5", "9", "10"]
    assert label_codes.natural_order(["b", "10", "a", "9"]) == ["10", "9", "a", "b"]


def test_unique_label_per_row_raises_a_clear_value_error():
    x = np.random.default_rng(0).normal(size=(5, 3))
    with pytest.raises(NoClustersError, match="no clusters: every value of the label column is unique"):
        clusters.cluster_statistics(x, ["a", "b", "c", "d", "e"], k=2)
    assert issubclass(NoClustersError, ValueError)
    with pytest.raises(ValueError, match="every value of column Name is unique"):
        label_codes.encode(["a", "b"], column="Name")


def test_single_label_has_no_silhouette_or_neighbour_label():
    x = np.random.default_rng(0).normal(size=(20, 3))
    out = clusters.cluster_statistics(x, ["a"] * 20, k=3).to_dict()
    assert out["overall"]["silhouette"] is None and out["overall"]["davies_bouldin"] is None
    assert out["labels"][0]["nearest_label"] is None and out["labels"][0]["separation"] is None
    assert out["overall"]["knn_accuracy"] == 1.0


def test_silhouette_is_sampled_and_reported_above_the_exact_limit():
    x, y = _case("blobs", 300)
    labels = [str(v) for v in y]
    report = clusters.cluster_statistics(x, labels, k=5, metric="euclidean", silhouette_exact_max=100)
    overall = report.to_dict()["overall"]
    assert overall["silhouette_sample_size"] == 100
    sample = np.sort(np.random.default_rng(0).choice(300, size=100, replace=False))
    assert overall["silhouette"] == pytest.approx(silhouette_samples(x[sample], y[sample]).mean(), abs=1e-6)


def test_invalid_rows_are_excluded_from_all_statistics():
    x, y = _case("blobs", 120)
    valid = np.ones(120, dtype=bool)
    valid[[3, 50, 77]] = False
    x_bad = x.copy()
    x_bad[~valid] = np.nan
    got = clusters.cluster_statistics(x_bad, [str(v) for v in y], k=5, valid=valid).to_dict()
    expected = clusters.cluster_statistics(x[valid], [str(v) for v in y[valid]], k=5).to_dict()
    assert got == expected


def test_json_matches_http_api_keys():
    x, y = _case("blobs", 60)
    out = clusters.cluster_statistics(x, [str(v) for v in y], k=5).to_dict()
    assert set(out) == {"overall", "labels", "confusion"}
    assert set(out["overall"]) == {"n", "k", "metric", "knn_accuracy", "macro_f1", "silhouette",
                                   "silhouette_sample_size", "davies_bouldin", "num_labels"}
    assert set(out["labels"][0]) == {"label", "count", "spread", "radius_p90", "nearest_label", "separation",
                                     "purity", "knn_recall", "knn_precision", "silhouette", "hard_count"}
    import json
    json.dumps(out, allow_nan=False)


def test_small_silhouette_blocks_give_the_same_values(monkeypatch):
    from tb_embedanalysis.analysis import geometry

    x, y = _case("blobs", 200)
    labels = [str(v) for v in y]
    expected = clusters.cluster_statistics(x, labels, k=5).to_dict()
    monkeypatch.setattr(geometry, "SILHOUETTE_BLOCK_ELEMENTS", 3 * 200)  # three rows per block
    assert clusters.cluster_statistics(x, labels, k=5).to_dict() == expected


def test_cosine_silhouette_without_pairwise_distances_matches_sklearn_in_any_block(monkeypatch):
    """The cosine silhouette sums each label's unit vectors instead of forming the n × n
    distances (geometry._cosine_silhouette): per point equal to scikit-learn's, float32 input
    with zero rows and exact duplicates, whatever the block of rows."""
    from tb_embedanalysis.analysis import geometry

    rng = np.random.default_rng(3)
    y = rng.integers(0, 12, 900)
    x = (rng.normal(size=(12, 16))[y] + 0.8 * rng.normal(size=(900, 16))).astype(np.float32)
    x[::50] = 0.0
    x[7] = x[8]
    prep = neighbors.prepare(x, "cosine")
    expected = silhouette_samples(x, y, metric="cosine")
    whole = geometry.silhouette_samples(prep, np.arange(900), y, 12)
    np.testing.assert_allclose(whole, expected, atol=1e-6)
    monkeypatch.setattr(geometry, "COSINE_SILHOUETTE_BLOCK_ELEMENTS", 5 * 12)  # five rows per block
    np.testing.assert_array_equal(geometry.silhouette_samples(prep, np.arange(900), y, 12), whole)


@pytest.mark.parametrize("n_labels,k", [(3, 1), (5, 10), (50, 1000), (40, 10)], ids=["k1", "few", "k1000", "sorted"])
@pytest.mark.parametrize("weighted", [False, True], ids=["counts", "weights"])
def test_vote_dense_table_equals_the_sorted_keys(n_labels, k, weighted):
    """vote()'s two ways (a dense per-block table when L ≤ 4k, sorted keys otherwise) give
    the same Votes bit for bit: ties, labels absent from a row, zero weights."""
    from tb_embedanalysis.analysis import labels as label_codes

    rng = np.random.default_rng(n_labels * 1000 + k)
    n = 700
    neighbor_codes = rng.integers(0, n_labels, (n, k)).astype(np.int32)
    own = rng.integers(0, n_labels, n)
    weights = rng.random((n, k)) * (rng.random((n, k)) > 0.1) if weighted else None
    args = (neighbor_codes, own, n_labels, weights)
    results = []
    for per_k in (10 ** 9, 0):  # every block dense, then every block sorted
        old = label_codes.DENSE_LABELS_PER_K
        label_codes.DENSE_LABELS_PER_K = per_k
        try:
            results.append(label_codes.vote(*args))
        finally:
            label_codes.DENSE_LABELS_PER_K = old
    dense, sparse = results
    for field in ("rows", "classes", "sums", "own", "best_other", "best_other_class", "predicted", "total"):
        assert np.array_equal(getattr(dense, field), getattr(sparse, field)), field
