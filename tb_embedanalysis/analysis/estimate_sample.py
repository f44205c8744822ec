"""A first answer while the exact pass runs: every kNN statistic estimated from the exact
neighbours of a random sample of rows, with confidence intervals.

A seeded simple random sample S of m valid rows (the seed is the embedding's fingerprint,
so the same data gives the same sample on every run and every server) is searched against
*all* N rows with the same exact search as the full pass (neighbors.search: float32 keys
propose, exact.py's float64 oracle proves), so each sampled row's neighbours, kNN vote,
purity and margin are exactly what the full pass will give it. From those:

* kNN accuracy = share of S whose vote is its label: unbiased for the full pass's;
* per label l (counts n_l are known exactly from the labels): recall = share of S's rows of
  l voted l; precision = share of S's rows voted l that have label l; purity = mean same-label
  share over S's rows of l; hard count = n_l (1 − recall); confusion cell (l, j) = n_l ×
  the share of S's rows of l voted j (post-stratified by the known n_l);
* macro F1 from the estimated confusion (a point estimate, no interval: F1 is a ratio of
  sums of cells);

each with a Wilson 95 % interval (intervals.py). Geometry (spread, silhouette, …) is not
estimated: it needs every row's centroid distance, which the exact pass computes.

The sample's hard examples (ranked by knn_margin, exact for every row listed) are a first
list: every row in it is right, but rows outside the sample are missing from it.

Size: as many rows as SAMPLE_FLOPS of work allow (at most SAMPLE_MAX, at least SAMPLE_MIN),
a row's work being its product against N × D plus its K' candidates' (row_work): 4,000 at
100,000 × 64 for k = 10 and 749 for k = 1,000, 383 at 1,000,000 × 128 for k = 10 and 205 for
k = 1,000 (≈ 0.8 s on two cores). A function of (N, D, k) only: same data and k, same sample.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import List, Optional, Tuple

import numpy as np

from tb_embedanalysis.analysis import labels as label_codes, neighbors
from tb_embedanalysis.analysis.blas import one_blas_thread, share_out
from tb_embedanalysis.analysis.intervals import NAME as INTERVAL, wilson
from tb_embedanalysis.analysis.labels import EncodedLabels
from tb_embedanalysis.analysis.metric_choice import sample_positions  # the one seeded row sample
from tb_embedanalysis.analysis.progress import ProgressFn
from tb_embedanalysis.jsonable import number

#: Below this many valid rows the exact pass itself answers about as fast: no estimate.
QUICK_MIN_ROWS = 20_000
SAMPLE_MAX = 4000
SAMPLE_MIN = 200
#: The sample's work in flops of products (m × row_work): ≈ 0.8 s on this project's 2-core
#: reference machine with BLAS on one thread per core. 1.2e11 left `analyze --quick` at
#: 1,000,000 × 128 at 1.75-2.17 s (its search took 1.1-1.5 s there, 0.8-1.0 s in a bare
#: script); 1.0e11 (383 rows, intervals ≈ 10 % wider) 1.32-1.87 s in the same minutes.
SAMPLE_FLOPS = 1.0e11
#: What one of a row's K' candidates costs, in flops of products: CANDIDATE_FLOPS ×
#: (D + CANDIDATE_DIMS) × ln(N / K') (its heap entries in the sweep, about ln(N / K') per
#: candidate for columns in random order, and its float64 distance, a gather of D values).
#: Fitted at k = 1,000 on one core, wide blobs (centres N(0, 1), spread 0.8), 100,000 × 64
#: and × 256, 1,000,000 × 128, 300,000 × 32 (per row beyond the product: 1.29, 2.28, 2.53,
#: 1.43 ms; the products ran at ≈ 93 GFLOPS); bench/README.md has the held-out check.
CANDIDATE_FLOPS = 87.0
CANDIDATE_DIMS = 189.0
#: The estimate's confusion is given up to this many labels (SampleEstimate.to_dict).
CONFUSION_MAX_LABELS = 100
#: Sampled rows per search call (each thread takes calls in turn).
CHUNK_ROWS = 256
THREADS = neighbors.GRAPH_THREADS


def row_work(n_valid: int, d: int, k: int) -> float:
    """One sampled row's exact search in flops of products: 2 N D for its product against
    every row, plus its K' = neighbors.candidates(k) candidates' (CANDIDATE_FLOPS): at
    100,000 × 64 about 1.2× the product for k = 10 and 10× for k = 1,000."""
    n, d = max(n_valid, 1), max(d, 1)
    kk = min(neighbors.candidates(k), n)
    return 2.0 * n * d + kk * CANDIDATE_FLOPS * (d + CANDIDATE_DIMS) * max(1.0, np.log(n / kk))


def sample_size(n_valid: int, d: int, k: int = 10) -> int:
    """How many rows to sample from n_valid rows of D dimensions for k neighbours (see the
    module docstring): deterministic, so the seeded sample is too."""
    size = int(SAMPLE_FLOPS // row_work(n_valid, d, k))
    return int(min(n_valid, SAMPLE_MAX, max(SAMPLE_MIN, size)))


def seed_of(fingerprint: str) -> int:
    """The sample's seed: 64 bits of the content fingerprint (same data, same sample)."""
    return int.from_bytes(hashlib.sha256(fingerprint.encode("utf-8")).digest()[:8], "little")


@dataclasses.dataclass(frozen=True, eq=False)
class SampleNeighbors:
    """positions (m,) into the valid rows; rows (m,) their indices; indices (m, k) int64 and
    distances (m, k) float64: each sampled row's exact k nearest other valid rows."""

    positions: np.ndarray
    rows: np.ndarray
    indices: np.ndarray
    distances: np.ndarray


def sample_neighbors(prep: neighbors.PreparedMatrix, k: int, *, seed: int, size: Optional[int] = None,
                     on_progress: ProgressFn = None) -> SampleNeighbors:
    """The exact k nearest neighbours (neighbors.search) of a seeded sample of the valid rows,
    on THREADS threads with BLAS on one thread each (under load 2-thread BLAS made the same
    products 4-7× slower, see blas.one_blas_thread)."""
    valid_rows = np.flatnonzero(prep.valid)
    size = sample_size(valid_rows.size, prep.matrix.shape[1], k) if size is None else size
    positions = sample_positions(valid_rows.size, size, seed)
    rows = valid_rows[positions]
    indices = np.empty((rows.size, k), dtype=np.int64)
    distances = np.empty((rows.size, k))
    done = [0]

    def chunks(starts):
        for start in starts:
            part = rows[start:start + CHUNK_ROWS]
            indices[start:start + part.size], distances[start:start + part.size] = neighbors.search(
                prep, prep.matrix[part], k, exclude=part)
            done[0] += part.size
            if on_progress is not None:
                on_progress(min(1.0, done[0] / max(rows.size, 1)), "estimate on a sample")

    with one_blas_thread():
        share_out(range(0, rows.size, CHUNK_ROWS), chunks, THREADS if rows.size > CHUNK_ROWS else 1,
                  name="sample-knn")
    return SampleNeighbors(positions, rows, indices, distances)


@dataclasses.dataclass(frozen=True, eq=False)
class Outcomes:
    """What the full pass will say about each sampled row: codes (m,) its label, predicted (m,)
    its kNN vote, own (m,) same-label neighbours, best_other (m,) the strongest other label's
    neighbours, neighbor_codes (m, k)."""

    codes: np.ndarray
    predicted: np.ndarray
    own: np.ndarray
    best_other: np.ndarray
    neighbor_codes: np.ndarray


def outcomes(sample: SampleNeighbors, valid_rows: np.ndarray, encoded: EncodedLabels) -> Outcomes:
    """The sampled rows' kNN votes (labels.vote, as clusters.label_context votes)."""
    position = np.full(int(valid_rows.max(initial=-1)) + 1, -1, dtype=np.int64)
    position[valid_rows] = np.arange(valid_rows.size)
    codes = encoded.codes[sample.positions]
    neighbor_codes = encoded.codes[position[sample.indices]]
    votes = label_codes.vote(neighbor_codes, codes, len(encoded.names))
    return Outcomes(codes, votes.predicted, votes.own, votes.best_other, neighbor_codes)


@dataclasses.dataclass(frozen=True, eq=False)
class SampleEstimate:
    """The estimate of /clusters' kNN figures and a first hard-example list, from `sample_size`
    of `n` valid rows. See the module docstring for each estimator; intervals Wilson 95 %."""

    names: Tuple[str, ...]
    counts: np.ndarray
    k: int
    metric: str
    rows: np.ndarray
    out: Outcomes

    @property
    def sample_size(self) -> int:
        return int(self.rows.size)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def confusion_sample(self) -> np.ndarray:
        """(L, L) int64 counts of (label, vote) among the sampled rows."""
        n_labels = len(self.names)
        cells = self.out.codes * n_labels + self.out.predicted
        return np.bincount(cells, minlength=n_labels * n_labels).reshape(n_labels, n_labels)

    def to_dict(self) -> dict:
        """The `estimate` of a 202 /clusters answer: /clusters' keys where estimated, each with
        its interval under `intervals`, plus the sample's size. Made once (every poll of the
        exact pass shows it); callers copy what they change. The confusion only up to
        CONFUSION_MAX_LABELS labels (else None): three L × L matrices of 1,000 labels took
        1.7 s to make and ~20 MB of JSON per poll, for cells a sample cannot tell apart."""
        return self._dict

    @functools.cached_property
    def _dict(self) -> dict:
        n_labels, k = len(self.names), self.k
        sample = self.confusion_sample()
        in_label = sample.sum(axis=1)
        voted = sample.sum(axis=0)
        correct = np.diag(sample)
        purity_sum = np.bincount(self.out.codes, weights=self.out.own / k, minlength=n_labels)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = correct / in_label
            precision = correct / voted
            purity = purity_sum / in_label
            share = sample / in_label[:, None]
        recall_ci = wilson(correct, in_label)
        precision_ci = wilson(correct, voted)
        purity_ci = wilson(purity_sum, in_label)
        cells = self.counts[:, None] * share
        hits = int(correct.sum())
        accuracy_ci = wilson(hits, self.sample_size)
        labels = []
        for code in range(n_labels):
            n_l = int(self.counts[code])
            labels.append({
                "label": self.names[code], "count": n_l, "sample_count": int(in_label[code]),
                "purity": number(purity[code]), "knn_recall": number(recall[code]),
                "knn_precision": number(precision[code]),
                "hard_count": number(np.round(n_l * (1 - recall[code]))),
                "intervals": {"purity": _pair(purity_ci, code), "knn_recall": _pair(recall_ci, code),
                              "knn_precision": _pair(precision_ci, code),
                              "hard_count": _scaled(n_l, recall_ci, code, flip=True)},
            })
        return {
            "sample_size": self.sample_size, "interval": INTERVAL,
            "overall": {"n": self.n, "k": k, "metric": self.metric, "num_labels": n_labels,
                        "knn_accuracy": hits / self.sample_size, "macro_f1": number(_macro_f1(cells)),
                        "intervals": {"knn_accuracy": [number(accuracy_ci[0]), number(accuracy_ci[1])]}},
            "labels": labels,
            "confusion": None if n_labels > CONFUSION_MAX_LABELS else self._confusion(sample, in_label, cells),
        }

    def _confusion(self, sample: np.ndarray, in_label: np.ndarray, cells: np.ndarray) -> dict:
        """The estimated confusion with each cell's interval (an L × L Wilson: only when shown;
        at 1,000 labels it was most of to_dict's 0.06-0.17 s in `analyze --quick`)."""
        cell_ci = wilson(sample, in_label[:, None])
        return {"labels": list(self.names), "matrix": _rounded(cells),
                "low": _rounded(self.counts[:, None] * cell_ci[0]), "high": _rounded(self.counts[:, None] * cell_ci[1])}

    def hard_page(self, limit: int = 50, *, label: Optional[str] = None, predicted: Optional[str] = None,
                  hide_rows: Optional[np.ndarray] = None) -> dict:
        """The sample's rows ranked by knn_margin (hardest first, ties by row), of a given
        and/or voted label, rows in `hide_rows` left out: the `estimate` of a 202
        /hard_examples answer. Every row listed has its exact vote and score."""
        k = self.k
        score = (1.0 + (self.out.best_other - self.out.own) / k) / 2.0
        order = np.lexsort((self.rows, -score))
        for name, codes in ((label, self.out.codes), (predicted, self.out.predicted)):
            if name is not None:
                order = order[codes[order] == self.names.index(name)]
        if hide_rows is not None and hide_rows.size:
            order = order[~np.isin(self.rows[order], hide_rows)]
        examples = []
        for pos in order[:limit]:
            codes, counts = np.unique(self.out.neighbor_codes[pos], return_counts=True)
            ranked = sorted(zip(codes.tolist(), counts.tolist()), key=lambda cc: (-cc[1], cc[0]))
            examples.append({"index": int(self.rows[pos]), "label": self.names[self.out.codes[pos]],
                             "score": number(score[pos]), "predicted_label": self.names[self.out.predicted[pos]],
                             "neighbor_labels": {self.names[c]: int(n) for c, n in ranked}, "margin": None})
        hard = int(np.count_nonzero(self.out.predicted[order] != self.out.codes[order]))
        return {"sample_size": self.sample_size, "n": self.n, "method": "knn_margin", "total": int(order.size),
                "hard_total": hard, "examples": examples}


def estimate(prep: neighbors.PreparedMatrix, encoded: EncodedLabels, k: int, *, seed: int,
             size: Optional[int] = None, on_progress: ProgressFn = None) -> SampleEstimate:
    """SampleEstimate of the valid rows of `prep` labelled by `encoded` (codes of the valid rows)."""
    valid_rows = np.flatnonzero(prep.valid)
    sample = sample_neighbors(prep, k, seed=seed, size=size, on_progress=on_progress)
    counts = np.bincount(encoded.codes, minlength=len(encoded.names))
    return SampleEstimate(encoded.names, counts, k, prep.metric, sample.rows, outcomes(sample, valid_rows, encoded))


def _pair(ci, code: int) -> List[Optional[float]]:
    return [number(ci[0][code]), number(ci[1][code])]


def _scaled(n_l: int, ci, code: int, *, flip: bool) -> List[Optional[float]]:
    """n_l × (1 − interval) of a proportion's interval (reversed: the low end from the high)."""
    low, high = ci[0][code], ci[1][code]
    return [number(n_l * (1 - high)), number(n_l * (1 - low))] if flip else [number(n_l * low), number(n_l * high)]


def _rounded(cells: np.ndarray) -> list:
    """Estimated counts as JSON: one decimal, NaN (no sampled row of that label) as null."""
    return [[number(round(float(v), 1)) for v in row] for row in np.asarray(cells, dtype=np.float64)]


def _macro_f1(cells: np.ndarray) -> float:
    """clusters.statistics' macro F1 of an (estimated) confusion; NaN (unknown) while a label
    has no sampled row, since its whole row of the confusion is unknown then."""
    if np.isnan(cells).any():
        return float("nan")
    correct = np.diag(cells)
    given, voted = cells.sum(axis=1), cells.sum(axis=0)
    present = (given + voted) > 0
    f1 = np.where(present, 2 * correct / np.maximum(given + voted, 1e-300), 0.0)
    return float(f1[present].mean())
