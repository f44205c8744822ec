"""Which distance the label analyses of an embedding use, chosen from its labels.

Cosine ignores a vector's length; euclidean keeps it. For a network's logits the length
carries the network's confidence (issue 16: on held-out early-training logits with
confusable label flips, euclidean ranked label errors better), while for word vectors it
mostly carries word frequency, which cosine is meant to ignore. Neither wins everywhere. The choice
here is the metric under which the labels are *most predictable from the neighbours*:
leave-one-out kNN accuracy (the vote of clusters.py, k = CHOICE_K) under each metric, on
all labelled rows or on a fixed, seeded sample when there are many; cosine on a tie (the
Projector's default). The same labels, rows and vectors always give the same choice.

Why this criterion: kNN accuracy is what every figure of the tab builds on (vote, purity,
recall, hard examples), it needs no held-out data, and a metric under which the labels'
neighbourhoods agree more is one under which a disagreeing neighbourhood is more telling.
Held-out check: bench/bench_history.py (`metric choice` table in bench/README.md).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Dict

import numpy as np

from tb_embedanalysis.analysis import labels as label_codes
from tb_embedanalysis.analysis import neighbors

CHOICE_K = 10
#: At most this many rows are compared (a seeded sample beyond), and fewer for wide vectors:
#: sample² × dimensions ≤ SAMPLE_WORK. The choice runs before the first kNN graph of a cold
#: tab, so it must be cheap: 2,000 rows × 32 dims take ~0.05 s (5,000 took 0.5 s under load);
#: both metrics are scored on the same rows, so the comparison is paired.
SAMPLE_MAX = 2000
SAMPLE_WORK = 1e9
SAMPLE_SEED = 0


@dataclasses.dataclass(frozen=True)
class MetricChoice:
    """metric: the one chosen; accuracy: LOO kNN accuracy under each metric; sample: rows
    compared (n_valid when not sampled); k: neighbours in the vote."""

    metric: str
    accuracy: Dict[str, float]
    sample: int
    n_valid: int
    k: int

    def to_dict(self) -> dict:
        return {"chosen": self.metric, "by": "leave-one-out kNN accuracy", "k": self.k, "sample": self.sample,
                "n": self.n_valid, "accuracy": dict(self.accuracy)}


def sample_size(n_valid: int, dims: int) -> int:
    bound = int(math.sqrt(SAMPLE_WORK / max(dims, 1)))
    return min(n_valid, SAMPLE_MAX, max(500, bound))


def sample_positions(n_valid: int, size: int, seed: int = SAMPLE_SEED) -> np.ndarray:
    """(min(size, n_valid),) sorted positions into the valid rows: all of them, or a simple
    random sample without replacement drawn with `seed` (the metric choice's compared rows;
    estimate_sample's sample)."""
    if size >= n_valid:
        return np.arange(n_valid)
    return np.sort(np.random.default_rng(seed).choice(n_valid, size=size, replace=False))


def loo_accuracy(neighbor_positions: np.ndarray, codes: np.ndarray, n_labels: int) -> float:
    """Leave-one-out kNN accuracy: the share of rows whose neighbours' vote is their label."""
    votes = label_codes.vote(codes[neighbor_positions], codes, n_labels)
    return float(np.mean(votes.predicted == codes))


def choose(graph_of: Callable[[str], np.ndarray], codes: np.ndarray, n_labels: int, *, sample: int,
           n_valid: int, k: int) -> MetricChoice:
    """graph_of(metric) → (m, k) neighbour positions among the m compared rows, labelled
    `codes` (m,). The metric with the higher LOO kNN accuracy wins; cosine on a tie."""
    accuracy = {metric: loo_accuracy(graph_of(metric), codes, n_labels) for metric in neighbors.METRICS}
    best = max(neighbors.METRICS, key=lambda m: (accuracy[m], m == "cosine"))
    return MetricChoice(best, accuracy, sample, n_valid, k)


def sample_graph(vectors: np.ndarray, rows: np.ndarray, metric: str, k: int) -> np.ndarray:
    """(m, k) exact neighbour positions among `rows` (original row indices) of `vectors`."""
    matrix = np.asarray(vectors[rows])
    graph = neighbors.knn_graph(neighbors.prepare(matrix, metric), k)
    return graph.indices


def choose_for(vectors: np.ndarray, valid: np.ndarray, codes: np.ndarray, n_labels: int) -> MetricChoice:
    """The choice for `vectors` (N, D) whose `valid` rows carry label `codes` (n_valid,):
    on all of them, or on the seeded sample of sample_size rows."""
    n_valid = int(np.count_nonzero(valid))
    k = min(CHOICE_K, n_valid - 1)
    size = sample_size(n_valid, vectors.shape[1])
    positions = sample_positions(n_valid, size)
    rows = np.flatnonzero(valid)[positions]
    return choose(lambda metric: sample_graph(vectors, rows, metric, k), codes[positions], n_labels,
                  sample=int(size), n_valid=n_valid, k=k)
