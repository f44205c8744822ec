"""Hard-example scores: planted label errors on real digits must rank first, at least as
well as cleanlab's scores on kNN and cross-validated logistic-regression probabilities."""

import warnings
from typing import Dict, List

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tb_embedanalysis.analysis import clusters, hardness, neighbors
from tb_embedanalysis.analysis import labels as label_codes

SEEDS = range(5)
K = 10


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def plant_uniform(y, seed):
    """5 % of labels flipped to a uniformly chosen other digit."""
    rng = np.random.default_rng(seed)
    flip = rng.choice(len(y), int(0.05 * len(y)), replace=False)
    noisy = y.copy()
    noisy[flip] = (y[flip] + rng.integers(1, 10, flip.size)) % 10
    return noisy, np.isin(np.arange(len(y)), flip)


def plant_confusable(x, y, seed):
    """10 % of labels flipped to the label of the point's nearest other-class centroid."""
    rng = np.random.default_rng(seed)
    flip = rng.choice(len(y), int(0.10 * len(y)), replace=False)
    cents = np.stack([x[y == c].mean(axis=0) for c in range(10)])
    dist = ((x[:, None, :] - cents[None]) ** 2).sum(-1)
    dist[np.arange(len(y)), y] = np.inf
    noisy = y.copy()
    noisy[flip] = dist.argmin(axis=1)[flip]
    return noisy, np.isin(np.arange(len(y)), flip)


def early_logits(x, noisy, seed):
    """Logits of a one-hidden-layer net trained 15 epochs on the noisy labels (≈ 92 % acc)."""
    scaled = x / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = MLPClassifier(hidden_layer_sizes=(64,), max_iter=15, random_state=seed).fit(scaled, noisy)
    hidden = np.maximum(scaled @ net.coefs_[0] + net.intercepts_[0], 0)
    return hidden @ net.coefs_[1] + net.intercepts_[1]


def cleanlab_aurocs(embedding, noisy, mask, neighbor_codes):
    from cleanlab.rank import get_label_quality_scores

    n = len(noisy)
    knn_probs = np.zeros((n, 10))
    np.add.at(knn_probs, (np.repeat(np.arange(n), K), neighbor_codes.ravel()), 1.0 / K)
    candidates = [("knn", knn_probs)]
    # Both as given and standardised; one BLAS thread, since lbfgs on a loaded 2-core
    # machine is ~100x slower with oversubscribed threads.
    for name, model in (("logreg_cv5", LogisticRegression(max_iter=300)),
                        ("std+logreg_cv5", make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)))):
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            candidates.append((name, cross_val_predict(model, embedding, noisy, cv=5, method="predict_proba")))
    out = {}
    for name, probs in candidates:
        for method in ("self_confidence", "normalized_margin"):
            quality = get_label_quality_scores(noisy, probs, method=method)
            out["cleanlab %s %s" % (name, method)] = roc_auc_score(mask, -quality)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("noise", ["uniform5", "confusable10"])
def test_planted_label_errors_rank_first(digits, noise):
    x, y = digits
    figures: Dict[str, Dict[str, List[float]]] = {}
    for seed in SEEDS:
        noisy, mask = plant_uniform(y, seed) if noise == "uniform5" else plant_confusable(x, y, seed)
        with threadpool_limits(1):
            logits = early_logits(x, noisy, seed)
        for name, embedding in (("pixels", x), ("logits", logits)):
            prep = neighbors.prepare(embedding, "cosine")
            encoded = label_codes.encode_rows([str(v) for v in noisy], np.arange(len(noisy)))
            ctx = clusters.label_context(prep, neighbors.knn_graph(prep, K), encoded)
            row = {m: roc_auc_score(mask, f(ctx)) for m, f in hardness.HARDNESS_METHODS.items()}
            row.update(cleanlab_aurocs(embedding, noisy, mask, np.asarray(ctx.neighbor_codes)))
            for key, value in row.items():
                figures.setdefault(name, {}).setdefault(key, []).append(value)
    for name, table in figures.items():
        print("\n%s, %s, cosine, k=%d, mean AUROC over %d seeds:" % (noise, name, K, len(SEEDS)))
        for key, values in sorted(table.items(), key=lambda kv: -np.mean(kv[1])):
            print("  %-40s %.4f" % (key, np.mean(values)))
        default = np.mean(table[hardness.DEFAULT_HARDNESS_METHOD])
        best_cleanlab = max(np.mean(v) for key, v in table.items() if key.startswith("cleanlab"))
        assert default > 0.95, "well above chance"
        assert default >= best_cleanlab, (name, default, best_cleanlab)


def _ctx(labels, x):
    prep = neighbors.prepare(x, "euclidean")
    encoded = label_codes.encode_rows(labels, np.flatnonzero(prep.valid))
    return clusters.label_context(prep, neighbors.knn_graph(prep, 3), encoded)


def test_report_pages_ranks_and_explains():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 10]
    labels = ["a"] * 20 + ["b"] * 20
    labels[5] = "b"  # a planted error inside a's blob
    report = hardness.hard_examples(_ctx(labels, x))
    assert report.method == hardness.DEFAULT_HARDNESS_METHOD
    total, page = report.page(offset=0, limit=2)
    assert total == 40 and len(page) == 2
    top = page[0]
    assert top["index"] == 5 and top["label"] == "b" and top["predicted_label"] == "a"
    assert top["neighbor_labels"] == {"a": 3}
    assert top["margin"] > 0
    assert set(top) == {"index", "label", "score", "predicted_label", "neighbor_labels", "margin"}
    total_b, page_b = report.page(label="b", offset=1, limit=100)
    assert total_b == 21 and len(page_b) == 20 and all(e["label"] == "b" for e in page_b)
    assert report.cells("b", "a").tolist() == [5]
    assert report.page(label="b", predicted="a")[0] == 1


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown hardness method 'nope'; methods: cleaned_knn_margin, "):
        hardness.check_method("nope")


@pytest.mark.parametrize("method", list(hardness.HARDNESS_METHODS))
def test_every_method_scores_the_planted_error_highest(method):
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 8]
    labels = ["a"] * 30 + ["b"] * 30
    labels[40] = "a"
    report = hardness.hard_examples(_ctx(labels, x), method=method)
    assert report.page(limit=1)[1][0]["index"] == 40
    assert np.isfinite(report.scores).all()
