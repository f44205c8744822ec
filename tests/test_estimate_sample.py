"""The first answer while the exact pass runs (analysis/estimate_sample.py, intervals.py,
queries/quick.py): the sample's neighbours are the float64 oracle's, the sample is seeded by
the content, the intervals are Wilson's (checked against scipy) and cover the exact full
pass's values at their nominal rate (by simulation), and the 202 answers of /clusters and
/hard_examples carry the estimate, marked as one, until the exact answer replaces it."""

import argparse
import json
import time

import numpy as np
import pytest
from scipy import stats
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from tb_embedanalysis import cli, write_embedding
from tb_embedanalysis.analysis import clusters, estimate_sample, intervals, neighbors
from tb_embedanalysis.analysis.labels import encode_rows
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"


def blobs(n, d, n_labels, *, spread, seed, flip=0.0):
    """Overlapping labelled clusters, a share `flip` of labels replaced at random."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_labels, d))
    labels = rng.integers(0, n_labels, n)
    x = (centres[labels] + spread * rng.standard_normal((n, d))).astype(np.float32)
    flipped = rng.random(n) < flip
    labels[flipped] = rng.integers(0, n_labels, int(flipped.sum()))
    return x, [str(v) for v in labels]


def test_wilson_is_scipys():
    for x, n in [(0, 1), (0, 7), (3, 7), (7, 7), (1, 1000), (999, 1000), (500, 1000), (12, 40)]:
        low, high = intervals.wilson(x, n)
        ref = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert low == pytest.approx(ref.low, abs=1e-12) and high == pytest.approx(ref.high, abs=1e-12), (x, n)
    low, high = intervals.wilson([0.0, 2.5], [0, 5])
    assert np.isnan(low[0]) and np.isnan(high[0]) and 0 < low[1] < 0.5 < high[1] < 1


@pytest.mark.parametrize("metric", neighbors.METRICS)
def test_the_sampled_rows_neighbours_are_the_float64_oracles(metric):
    x, _ = blobs(3000, 8, 5, spread=0.6, seed=1)
    x[100] = x[7]  # an exact duplicate: ties by row index
    x[:50] += np.float32(1e3)  # a shared offset on some rows
    prep = neighbors.prepare(x, metric)
    sample = estimate_sample.sample_neighbors(prep, 10, seed=5, size=400)
    x64 = x.astype(np.float64)
    for row, got, dist in zip(sample.rows, sample.indices, sample.distances):
        if metric == "euclidean":
            d = np.sqrt(((x64 - x64[row]) ** 2).sum(axis=1))
        else:
            q = x64[row]  # exact.py's oracle formula, summed the same way
            norms = np.sqrt((x64 * x64).sum(axis=1)) * np.sqrt((q * q).sum())
            d = np.clip(1 - (x64 * q).sum(axis=1) / norms, 0, 2)
        d[row] = np.inf
        want = np.lexsort((np.arange(d.size), d))[:10]
        assert np.array_equal(got, want), row
        assert np.array_equal(dist, d[want])


def test_the_sample_is_seeded_by_the_content():
    a = estimate_sample.sample_positions(100_000, 500, estimate_sample.seed_of("fingerprint-a"))
    again = estimate_sample.sample_positions(100_000, 500, estimate_sample.seed_of("fingerprint-a"))
    b = estimate_sample.sample_positions(100_000, 500, estimate_sample.seed_of("fingerprint-b"))
    assert np.array_equal(a, again) and not np.array_equal(a, b)
    assert np.unique(a).size == 500 and np.all(np.diff(a) > 0)
    # ≈ 1 s of products: a few thousand rows at 100,000 × 64, hundreds at 1,000,000 × 128
    assert estimate_sample.sample_size(100_000, 64) == estimate_sample.SAMPLE_MAX
    assert 300 <= estimate_sample.sample_size(1_000_000, 128) <= 1000
    assert estimate_sample.sample_size(150, 8) == 150


def _estimate_from(ctx, positions):
    """The SampleEstimate of sampled positions, from the exact full pass's own per-row results:
    what sample_neighbors gives those rows (checked in test_estimate_matches_the_sample_search)."""
    out = estimate_sample.Outcomes(ctx.codes[positions], ctx.votes.predicted[positions], ctx.votes.own[positions],
                                   ctx.votes.best_other[positions], ctx.neighbor_codes[positions])
    counts = np.bincount(ctx.codes, minlength=ctx.n_labels)
    return estimate_sample.SampleEstimate(ctx.encoded.names, counts, ctx.graph.k, ctx.prep.metric,
                                          ctx.rows[positions], out)


@pytest.fixture(scope="module")
def exact_pass():
    """8,000 rows in 6 overlapping labels with 10 % flipped labels: exact context and report."""
    x, labels = blobs(8000, 12, 6, spread=1.1, seed=3, flip=0.1)
    prep = neighbors.prepare(x, "euclidean")
    graph = neighbors.knn_graph(prep, 10)
    encoded = encode_rows(labels, np.arange(x.shape[0]))
    ctx = clusters.label_context(prep, graph, encoded)
    return ctx, clusters.statistics(ctx)


def test_estimate_matches_the_sample_search(exact_pass):
    ctx, _ = exact_pass
    found = estimate_sample.estimate(ctx.prep, ctx.encoded, 10, seed=11, size=300)
    positions = estimate_sample.sample_positions(ctx.rows.size, 300, 11)
    assert np.array_equal(found.rows, ctx.rows[positions])
    assert np.array_equal(found.out.predicted, ctx.votes.predicted[positions])
    assert np.array_equal(found.out.own, ctx.votes.own[positions])
    assert found.to_dict() == _estimate_from(ctx, positions).to_dict()


def test_intervals_cover_the_exact_values_at_their_nominal_rate(exact_pass):
    """400 samples of 400 rows: every interval against the exact full pass's value."""
    ctx, report = exact_pass
    exact_labels = {s.label: s for s in report.labels}
    hits: dict = {"knn_accuracy": [], "knn_recall": [], "knn_precision": [], "purity": [], "confusion": []}
    accuracy = []
    for seed in range(400):
        est = _estimate_from(ctx, estimate_sample.sample_positions(ctx.rows.size, 400, seed)).to_dict()
        low, high = est["overall"]["intervals"]["knn_accuracy"]
        hits["knn_accuracy"].append(low <= report.overall["knn_accuracy"] <= high)
        accuracy.append(est["overall"]["knn_accuracy"])
        for row in est["labels"]:
            for key in ("knn_recall", "knn_precision", "purity"):
                low, high = row["intervals"][key]
                if low is not None:
                    hits[key].append(low <= getattr(exact_labels[row["label"]], key) <= high)
        low, high = np.array(est["confusion"]["low"], dtype=float), np.array(est["confusion"]["high"], dtype=float)
        known = ~np.isnan(low)
        # a cell's interval is n_l × a proportion's, rounded to 0.1: allow that rounding
        hits["confusion"].extend(((low - 0.05 <= report.confusion) & (report.confusion <= high + 0.05))[known])
    coverage = {key: float(np.mean(value)) for key, value in hits.items()}
    print("coverage", coverage)
    assert coverage["knn_accuracy"] >= 0.92, coverage
    for key in ("knn_recall", "knn_precision", "confusion"):
        assert coverage[key] >= 0.92, coverage
    assert coverage["purity"] >= 0.95, coverage  # conservative by construction (intervals.py)
    # unbiased: the mean of the estimates is the exact value within 4 standard errors
    assert abs(np.mean(accuracy) - report.overall["knn_accuracy"]) < 4 * np.std(accuracy) / np.sqrt(len(accuracy))


def test_a_mutated_interval_would_fail_the_coverage_check(exact_pass):
    """The coverage check can fail: intervals of half the width cover far less than 92 %."""
    ctx, report = exact_pass
    covered = []
    for seed in range(200):
        est = _estimate_from(ctx, estimate_sample.sample_positions(ctx.rows.size, 400, seed)).to_dict()
        low, high = est["overall"]["intervals"]["knn_accuracy"]
        mid, half = (low + high) / 2, (high - low) / 4
        covered.append(mid - half <= report.overall["knn_accuracy"] <= mid + half)
    assert np.mean(covered) < 0.8


def test_hard_examples_of_the_sample_are_exact(exact_pass):
    ctx, _ = exact_pass
    positions = estimate_sample.sample_positions(ctx.rows.size, 500, 2)
    page = _estimate_from(ctx, positions).hard_page(limit=30)
    assert page["method"] == "knn_margin" and page["sample_size"] == 500 and len(page["examples"]) == 30
    names = ctx.encoded.names
    scores = [ex["score"] for ex in page["examples"]]
    assert scores == sorted(scores, reverse=True)
    for example in page["examples"]:
        row = example["index"]
        assert row in set(ctx.rows[positions].tolist())
        assert example["predicted_label"] == names[ctx.votes.predicted[row]]
        assert example["score"] == pytest.approx((1 + (ctx.votes.best_other[row] - ctx.votes.own[row]) / 10) / 2)
        assert sum(example["neighbor_labels"].values()) == 10
    some = names[1]
    filtered = _estimate_from(ctx, positions).hard_page(limit=100, label=some)
    assert filtered["examples"] and all(ex["label"] == some for ex in filtered["examples"])


# -- through the routes and the CLI -------------------------------------------------------------
@pytest.fixture(scope="module")
def big_logdir(tmp_path_factory):
    """12,000 × 16 rows, 8 overlapping labels (QUICK_MIN_ROWS lowered to 10,000 below, so the
    suite's pass takes seconds, not the minutes of the sizes the estimate is for)."""
    root = tmp_path_factory.mktemp("quick_logs")
    x, labels = blobs(12_000, 16, 8, spread=1.4, seed=4, flip=0.05)
    write_embedding(str(root / "big"), x, name="features", metadata=labels)
    return root


def test_clusters_202_carries_the_estimate_until_the_exact_answer(big_logdir, monkeypatch):
    monkeypatch.setattr(estimate_sample, "QUICK_MIN_ROWS", 10_000)
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=256.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(big_logdir), flags=flags))
    plugin._workspace.engine.jobs.sync_seconds = 0.02  # polls answer at once: the 202s are seen
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    query = {"run": "big", "embedding": "features", "metric": "euclidean"}
    estimates, hard_estimates = [], []
    deadline = time.monotonic() + 240
    while True:
        response = client.get(PREFIX + "/clusters", query_string=query)
        body = json.loads(response.get_data(as_text=True))
        if response.status_code != 202:
            break
        if "estimate" in body:
            estimates.append(body["estimate"])
            hard = client.get(PREFIX + "/hard_examples", query_string=dict(query, limit=20))
            hard_body = json.loads(hard.get_data(as_text=True))
            if hard.status_code == 202 and "estimate" in hard_body:
                hard_estimates.append(hard_body["estimate"])
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert response.status_code == 200, body
    assert estimates, "no 202 carried an estimate"
    est = estimates[0]
    assert est["sample_size"] == 4000 and est["interval"] == "wilson-95" and est["overall"]["n"] == 12_000
    low, high = est["overall"]["intervals"]["knn_accuracy"]
    assert low <= est["overall"]["knn_accuracy"] <= high
    assert est["overall"]["label_column"] == body["overall"]["label_column"]
    exact = {row["label"]: row for row in body["labels"]}
    for row in est["labels"]:
        assert row["count"] == exact[row["label"]]["count"]  # counts are known exactly
    assert hard_estimates, "no 202 of /hard_examples carried the sample's hard examples"
    done = client.get(PREFIX + "/hard_examples", query_string=dict(query, limit=1000))
    while done.status_code == 202:
        time.sleep(0.05)
        done = client.get(PREFIX + "/hard_examples", query_string=dict(query, limit=1000))
    graph = plugin._workspace.engine.knn_graph(_space(plugin, query), k=10)  # cached by the exact pass
    labels_of = {row["index"]: row for row in json.loads(done.get_data(as_text=True))["examples"]}
    for example in hard_estimates[0]["examples"]:
        assert "metadata" in example
        exact_row = graph.indices[example["index"]]
        assert example["neighbor_labels"] == _neighbour_labels(plugin, query, exact_row)
        if example["index"] in labels_of:
            assert labels_of[example["index"]]["predicted_label"] == example["predicted_label"]


def _space(plugin, query):
    from tb_embedanalysis import queries
    return queries.space(plugin._workspace.load(query["run"], query["embedding"]), "euclidean")


def _neighbour_labels(plugin, query, rows):
    embedding = plugin._workspace.load(query["run"], query["embedding"])
    column = embedding.metadata.values[embedding.label_column]
    counts: dict = {}
    for row in rows:
        label = column.categories[column.codes[row]]
        counts[label] = counts.get(label, 0) + 1
    return counts


def test_cli_quick_prints_the_estimate_with_intervals(big_logdir, capsys):
    assert cli.main(["analyze", str(big_logdir), "--quick", "--sample", "500", "--metric", "euclidean",
                     "--format", "json", "--limit", "5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["estimate"]["sample_size"] == 500 and len(printed["hard_examples"]["examples"]) == 5
    assert cli.main(["analyze", str(big_logdir), "--quick", "--sample", "500", "--metric", "euclidean"]) == 0
    out = capsys.readouterr().out
    assert "ESTIMATE from the exact neighbours of 500 of 12000 points" in out and "[" in out
    assert cli.main(["analyze", str(big_logdir), "--sample", "500"]) == 2  # --sample needs --quick


def test_the_estimate_is_made_once_and_leaves_out_a_confusion_it_cannot_tell():
    """Above CONFUSION_MAX_LABELS labels the estimate has no confusion (1,000 labels made three
    million-cell matrices per poll); the dict is made once and the 202s copy what they add."""
    rng = np.random.default_rng(0)
    n_labels, m, k = estimate_sample.CONFUSION_MAX_LABELS + 1, 300, 5
    codes = rng.integers(0, n_labels, m)
    neighbor_codes = rng.integers(0, n_labels, (m, k))
    votes = label_codes_vote(neighbor_codes, codes, n_labels)
    out = estimate_sample.Outcomes(codes, votes.predicted, votes.own, votes.best_other, neighbor_codes)
    est = estimate_sample.SampleEstimate(tuple("l%d" % i for i in range(n_labels)), np.full(n_labels, 50), k,
                                         "cosine", np.arange(m), out)
    first = est.to_dict()
    assert first["confusion"] is None and len(first["labels"]) == n_labels
    assert est.to_dict() is first


def label_codes_vote(neighbor_codes, codes, n_labels):
    from tb_embedanalysis.analysis import labels

    return labels.vote(neighbor_codes, codes, n_labels)
