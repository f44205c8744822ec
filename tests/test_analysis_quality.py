"""Outlier scores and near-duplicate groups (issue 18): oracles, planted ground truth, peers."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from tb_embedanalysis.analysis import duplicates, neighbors
from tb_embedanalysis.analysis.engine import AnalysisEngine, Space


def blobs_with_outliers(seed, *, d=8, n_blob=300, n_out=60, scales=(0.3, 1.0, 2.0), spread=3.0):
    """Gaussian blobs of unequal spread plus points scattered uniformly over their bounding box."""
    rng = np.random.default_rng(seed)
    inliers = np.vstack([rng.normal(size=d) * spread + rng.normal(size=(n_blob, d)) * s for s in scales])
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    scattered = rng.uniform(low, high, size=(n_out, d))
    vectors = np.vstack([inliers, scattered]).astype(np.float32)
    return vectors, np.r_[np.zeros(len(inliers)), np.ones(n_out)]


def space_of(vectors, metric, valid=None):
    valid = np.ones(len(vectors), dtype=bool) if valid is None else valid
    return Space(vectors, "test-%s-%d" % (metric, vectors.shape[0]) + str(hash(vectors.tobytes())), valid, metric)


@pytest.fixture(scope="module")
def engine():
    return AnalysisEngine(sync_seconds=60)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_outlier_scores_equal_brute_force_mean_knn_distance(engine, metric):
    vectors, _ = blobs_with_outliers(0, n_blob=100, n_out=20)
    valid = np.ones(len(vectors), dtype=bool)
    valid[[5, 77]] = False
    report = engine.outliers(space_of(vectors, metric, valid), k=7)
    rows = np.flatnonzero(valid)
    dist, _ = NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(vectors[rows]).kneighbors()
    np.testing.assert_array_equal(report.rows, rows)
    np.testing.assert_allclose(report.scores, dist.mean(axis=1), rtol=1e-5, atol=1e-6)
    ranked = report.scores[report.order]
    assert np.all(np.diff(ranked) <= 0)
    total, page = report.page(0, 5)
    assert total == rows.size and [e["index"] for e in page] == report.rows[report.order[:5]].tolist()


def test_outlier_ranking_ties_broken_by_index(engine):
    vectors = np.repeat(np.eye(4, dtype=np.float32), 3, axis=0)  # every score is 0 or equal
    report = engine.outliers(space_of(vectors, "euclidean"), k=2)
    assert report.rows[report.order].tolist() == sorted(range(12))


def test_planted_outliers_rank_at_least_as_well_as_cleanlab(engine):
    """AUROC of our score (euclidean, k=10) against cleanlab's OutOfDistribution.fit_score on the
    same features with its defaults (k=10; cosine above 3 dimensions), same data, same run."""
    from cleanlab.outlier import OutOfDistribution

    ours, theirs = [], []
    for seed in range(3):
        vectors, planted = blobs_with_outliers(seed)
        report = engine.outliers(space_of(vectors, "euclidean"), k=10)
        ours.append(roc_auc_score(planted[report.rows], report.scores))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.append(roc_auc_score(planted, -OutOfDistribution().fit_score(features=vectors)))
        # Same metric and k: the same ranking (cleanlab maps the mean kNN distance monotonically).
        cosine = engine.outliers(space_of(vectors, "cosine"), k=10)
        assert roc_auc_score(planted[cosine.rows], cosine.scores) == pytest.approx(theirs[-1], abs=2e-3)
    print("AUROC ours %s cleanlab %s" % (np.round(ours, 4), np.round(theirs, 4)))
    assert np.mean(ours) >= np.mean(theirs) and min(ours) >= 0.98
    for a, b in zip(ours, theirs):
        assert a >= b


def planted_duplicates(seed, *, n=400, d=12, n_groups=15, noise=1e-3):
    """Random points, then groups of 2–4 near copies of some of them, with a split per row."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, d)).astype(np.float32)
    copies, sources = [], []
    for source in rng.choice(n, size=n_groups, replace=False):
        for _ in range(rng.integers(1, 4)):
            copies.append(base[source] + rng.normal(scale=noise, size=d).astype(np.float32))
            sources.append(source)
    vectors = np.vstack([base, np.asarray(copies, dtype=np.float32)])
    return vectors, np.asarray(sources)


def brute_force_pairs(vectors, metric, threshold, valid=None):
    rows = np.arange(len(vectors)) if valid is None else np.flatnonzero(valid)
    graph = NearestNeighbors(radius=threshold, metric=metric, algorithm="brute").fit(vectors[rows])
    _, found = graph.radius_neighbors(vectors[rows])
    pairs = {(int(rows[i]), int(rows[j])) for i, js in enumerate(found) for j in js if i < j}
    return pairs


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_planted_duplicates_found_exactly(engine, metric):
    vectors, sources = planted_duplicates(1)
    threshold = 0.05 if metric == "euclidean" else 1e-4
    report = engine.duplicates(space_of(vectors, metric), threshold=threshold)
    found = {tuple(p) for p in report.pairs.tolist()}
    assert found == brute_force_pairs(vectors, metric, threshold)
    assert report.threshold == threshold and report.threshold_source == "given"
    # Each planted group (source + copies) is one group, nothing else is.
    expected = sorted(sorted({int(s)} | set((400 + np.flatnonzero(sources == s)).tolist())) for s in set(sources))
    assert sorted(g.tolist() for g in report.groups) == expected
    assert np.all(report.max_distance <= threshold)


def test_groups_larger_than_k_are_complete():
    """A group of 40 near copies is larger than the graph's k = 10: every pair is still found."""
    rng = np.random.default_rng(3)
    vectors = np.vstack([rng.normal(size=(200, 6)), rng.normal(size=6) + rng.normal(scale=1e-3, size=(40, 6))])
    vectors = vectors.astype(np.float32)
    prep = neighbors.prepare(vectors, "euclidean")
    graph = neighbors.knn_graph(prep, 10)
    report = duplicates.find_duplicates(prep, graph, threshold=0.05)
    assert {tuple(p) for p in report.pairs.tolist()} == brute_force_pairs(vectors, "euclidean", 0.05)
    assert report.pairs.shape[0] == 40 * 39 // 2
    assert [g.tolist() for g in report.groups] == [list(range(200, 240))]


def test_default_threshold_is_a_fraction_of_the_median_nearest_distance(engine):
    vectors, sources = planted_duplicates(2)
    report = engine.duplicates(space_of(vectors, "euclidean"))
    dist, _ = NearestNeighbors(n_neighbors=1).fit(vectors).kneighbors()
    assert report.threshold_source == "default"
    assert report.threshold == pytest.approx(duplicates.DEFAULT_FRACTION * np.median(dist[:, 0]), rel=1e-6)
    assert {tuple(p) for p in report.pairs.tolist()} == brute_force_pairs(vectors, "euclidean", report.threshold)
    assert len(report.groups) == len(set(sources))


def test_invalid_rows_are_never_paired():
    vectors = np.zeros((30, 4), dtype=np.float32)
    vectors[:, 0] = np.arange(30)
    vectors[10] = vectors[11]
    valid = np.ones(30, dtype=bool)
    valid[11] = False
    prep = neighbors.prepare(vectors, "euclidean", valid)
    report = duplicates.find_duplicates(prep, neighbors.knn_graph(prep, 5), threshold=0.5)
    assert report.pairs.shape == (0, 2) and report.groups == ()


def test_too_large_a_threshold_is_refused_before_scanning():
    vectors = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    prep = neighbors.prepare(vectors, "euclidean")
    graph = neighbors.knn_graph(prep, 10)
    with pytest.raises(duplicates.TooManyPairs, match="threshold too large: more than 500 pairs"):
        duplicates.find_duplicates(prep, graph, threshold=100.0, max_pairs=500)


def test_pairs_within_the_rounding_slack_but_beyond_the_threshold_are_not_counted():
    # 2,000 points 1 apart on a line, threshold just under 1: the scan's float64 distances
    # put all 1,999 neighbouring pairs within threshold + slack, yet none is a pair. Before,
    # they were counted (from both ends) against max_pairs and the threshold was refused.
    vectors = np.zeros((2000, 2), dtype=np.float32)
    vectors[:, 0] = np.arange(2000)
    prep = neighbors.prepare(vectors, "euclidean")
    graph = neighbors.knn_graph(prep, 1)  # every row saturated: its nearest is within the slack
    report = duplicates.find_duplicates(prep, graph, threshold=1 - 1e-9, max_pairs=1000)
    assert report.pairs.shape == (0, 2)
    # At the threshold itself they are pairs, and 1,999 of them are more than 1,000.
    with pytest.raises(duplicates.TooManyPairs, match="threshold too large: more than 1,000 pairs within 1;"):
        duplicates.find_duplicates(prep, graph, threshold=1.0, max_pairs=1000)
    assert duplicates.find_duplicates(prep, graph, threshold=1.0, max_pairs=2000).pairs.shape == (1999, 2)


def test_the_scan_counts_before_it_lists_pairs():
    # Every pair of 5,000 cosine rows is within 2: 12.5 million. Before, the scan listed a
    # whole block of them (1,024 × 5,000) before counting: +300 MB to refuse.
    import tracemalloc

    vectors = np.random.default_rng(0).normal(size=(5000, 16)).astype(np.float32)
    prep = neighbors.prepare(vectors, "cosine")
    graph = neighbors.knn_graph(prep, 10)
    tracemalloc.start()
    try:
        with pytest.raises(duplicates.TooManyPairs, match="more than 1,?000,?000 pairs within 2"):
            duplicates.find_duplicates(prep, graph, threshold=2.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2 ** 20, peak / 2 ** 20


def test_a_threshold_linking_too_many_pairs_is_refused_before_the_graph(monkeypatch):
    # Before: the kNN graph first (a minute at 70,000 × 64), then the refusal.
    from tb_embedanalysis.analysis import certified_graph

    def no_graph(*args, **kwargs):
        raise AssertionError("a kNN graph was built")

    monkeypatch.setattr(certified_graph, "knn_graph_exact_fast", no_graph)
    monkeypatch.setattr(neighbors, "knn_graph", no_graph)
    vectors = np.random.default_rng(0).normal(size=(5000, 8)).astype(np.float32)  # 256 × 4,999 pairs in the sample
    engine = AnalysisEngine(sync_seconds=60)
    with pytest.raises(duplicates.TooManyPairs,
                       match=r"more than 1,000,000 pairs within 2 \(the 256 points sampled alone have [0-9,]+\)"):
        engine.duplicates(space_of(vectors, "cosine"), threshold=2.0)


def test_the_pair_bound_refuses_only_what_it_proves():
    vectors, _ = planted_duplicates(0)
    prep = neighbors.prepare(vectors, "euclidean")
    duplicates.check_pair_bound(prep, 0.05, max_pairs=10)  # groups of 2-4 near copies: a few dozen pairs
    rows = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
    prep = neighbors.prepare(rows, "euclidean")
    duplicates.check_pair_bound(prep, 100.0, max_pairs=400 * 399 // 2)  # every pair, and no more: not refused
    # The 256 sampled rows take part in every pair but the 144 others' among themselves.
    touching = 400 * 399 // 2 - 144 * 143 // 2
    duplicates.check_pair_bound(prep, 100.0, max_pairs=touching)
    with pytest.raises(duplicates.TooManyPairs, match="the 256 points sampled alone have 69,504"):
        duplicates.check_pair_bound(prep, 100.0, max_pairs=touching - 1)
