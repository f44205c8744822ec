"""The label-error protocol of the training-history score (issue 16), shared by
tests/test_analysis_history.py (small) and bench/bench_history.py (full size).

A network with real memorisation: one hidden layer (ReLU) trained with Adam on labels with
planted flips until it fits them, the *training set's* logits logged at log-spaced
iterations. Each detector ranks every point; the figure is the AUROC of ranking the
flipped points first. Everything is seeded (np.random.default_rng) and numpy only, so a
seed gives the same logits on every run and machine class.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Sequence

import numpy as np


def plant_confusable(x: np.ndarray, y: np.ndarray, *, fraction: float, seed: int):
    """(noisy labels, flipped mask): `fraction` of the rows get the label of their nearest
    other-class centroid (in input space), i.e. their most confusable class."""
    rng = np.random.default_rng(seed)
    n_labels = int(y.max()) + 1
    flip = rng.choice(len(y), int(round(fraction * len(y))), replace=False)
    cents = np.stack([x[y == c].mean(axis=0) for c in range(n_labels)])
    dist = ((x[:, None, :] - cents[None]) ** 2).sum(-1)
    dist[np.arange(len(y)), y] = np.inf
    noisy = y.copy()
    noisy[flip] = dist.argmin(axis=1)[flip]
    return noisy, np.isin(np.arange(len(y)), flip)


def log_steps(last: int, count: int) -> tuple:
    """`count` log-spaced iterations ending at `last` (doubling: 50, 100, …, 25,600)."""
    return tuple(int(round(last / 2 ** (count - 1 - i))) for i in range(count))


def minibatches(rng: np.random.Generator, n: int, batch: int, iterations: int):
    """(iteration, rows) for iterations 1 … `iterations`: `batch` of the n rows drawn without
    replacement, a new permutation (rng's) each epoch; a short last batch is never drawn."""
    order, cursor = rng.permutation(n), 0
    for it in range(1, iterations + 1):
        if cursor + batch > n:
            order, cursor = rng.permutation(n), 0
        yield it, order[cursor:cursor + batch]
        cursor += batch


def train_logits(x: np.ndarray, labels: np.ndarray, *, steps: Sequence[int], seed: int, hidden: int = 256,
                 batch: int = 64, lr: float = 1e-3) -> np.ndarray:
    """(len(steps), N, L) float32 logits of the training set after each of `steps` iterations
    of Adam on the cross-entropy of `labels` (N,) int, minibatches drawn without replacement
    per epoch. x: (N, D) float, scaled by the caller."""
    rng = np.random.default_rng(seed)
    n, d = x.shape
    n_labels = int(labels.max()) + 1
    params = [rng.normal(0, np.sqrt(2.0 / d), (d, hidden)), np.zeros(hidden),
              rng.normal(0, np.sqrt(1.0 / hidden), (hidden, n_labels)), np.zeros(n_labels)]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    onehot = np.eye(n_labels)[labels]
    out = []
    wanted = set(int(s) for s in steps)
    for it, rows in minibatches(rng, n, batch, max(wanted)):
        w1, b1, w2, b2 = params
        h = np.maximum(x[rows] @ w1 + b1, 0.0)
        z = h @ w2 + b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dz = (p - onehot[rows]) / rows.size
        dh = (dz @ w2.T) * (h > 0)
        grads = [x[rows].T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)]
        for i, g in enumerate(grads):  # Adam, default betas
            first[i] = 0.9 * first[i] + 0.1 * g
            second[i] = 0.999 * second[i] + 0.001 * g * g
            params[i] = params[i] - lr * (first[i] / (1 - 0.9 ** it)) / (np.sqrt(second[i] / (1 - 0.999 ** it)) + 1e-8)
        if it in wanted:
            w1, b1, w2, b2 = params
            out.append((np.maximum(x @ w1 + b1, 0.0) @ w2 + b2).astype(np.float32))
    return np.stack(out)


@dataclasses.dataclass(frozen=True)
class Run:
    """One protocol run: logits (S, N, L) at `steps`, noisy labels (N,), flipped mask (N,)."""

    steps: tuple
    logits: np.ndarray
    noisy: np.ndarray
    flipped: np.ndarray


def digits_run(*, seed: int, fraction: float = 0.2, last: int = 25_600, count: int = 10, hidden: int = 256,
               rows: int = 0) -> Run:
    """The protocol on scikit-learn's digits (all 1,797, or the first `rows` of a seeded
    permutation): confusable flips, then logits at `count` doubling steps up to `last`."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    if rows:
        keep = np.sort(np.random.default_rng(1000 + seed).permutation(len(y))[:rows])
        x, y = x[keep], y[keep]
    noisy, flipped = plant_confusable(x, y, fraction=fraction, seed=seed)
    steps = log_steps(last, count)
    return Run(steps, train_logits(x / 16.0, noisy, steps=steps, seed=seed, hidden=hidden), noisy, flipped)


def knn_probabilities(neighbor_codes: np.ndarray, n_labels: int) -> np.ndarray:
    """(n, L) leave-one-out kNN class probabilities from (n, k) neighbour labels."""
    n, k = neighbor_codes.shape
    probs = np.zeros((n, n_labels))
    np.add.at(probs, (np.repeat(np.arange(n), k), neighbor_codes.ravel()), 1.0)
    return probs / k  # counts first: equal votes give exactly equal probabilities (ties stay ties)


def aum(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Area under the margin (Pleiss et al. 2020) over the logged steps: mean over steps of
    z_y − max_{c≠y} z_c. (N,), lower = more likely mislabelled."""
    n = labels.size
    own = logits[:, np.arange(n), labels]
    other = logits.copy()
    other[:, np.arange(n), labels] = -np.inf
    return (own - other.max(axis=2)).mean(axis=0)


def baseline_aurocs(run: Run, neighbor_codes: Sequence[np.ndarray]) -> Dict[str, float]:
    """AUROC of the issue's reference detectors; neighbor_codes: per step (N, k) LOO kNN labels."""
    from cleanlab.rank import get_label_quality_scores
    from sklearn.metrics import roc_auc_score

    n_labels = int(run.noisy.max()) + 1
    per_step = [roc_auc_score(run.flipped, -get_label_quality_scores(
        run.noisy, knn_probabilities(codes, n_labels), method="normalized_margin")) for codes in neighbor_codes]
    margins = []
    for codes in neighbor_codes:
        probs = knn_probabilities(codes, n_labels)
        own = probs[np.arange(len(run.noisy)), run.noisy]
        probs[np.arange(len(run.noisy)), run.noisy] = -1.0
        margins.append(own - probs.max(axis=1))
    return {
        "cleanlab normalized margin, kNN, last step": per_step[-1],
        "cleanlab normalized margin, kNN, best step (hindsight)": max(per_step),
        "AUM on the logits": roc_auc_score(run.flipped, -aum(run.logits, run.noisy)),
        "mean over steps of the kNN normalized margin": roc_auc_score(run.flipped, -np.mean(margins, axis=0)),
    }
