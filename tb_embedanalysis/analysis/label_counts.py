"""How many label errors, and where (issue 26, item 2): cleanlab's confident joint, with
class probabilities taken from the training history instead of a retrained model.

A point's probabilities P_i^t (L,) at step t are its leave-one-out kNN vote shares. The
steps that carry weight (label_errors.step_weights) are those before memorisation, where
P_i^t reflects where the point sits before the network learnt its given label.

Confident joint (Northcutt et al. 2021, cleanlab's `compute_confident_joint`): per class
the threshold t_c = mean of P_i(c) over the points labelled c; a point counts in
C[y_i, j] for j = argmax over the classes with P_i(j) ≥ t_j (not at all when none
reaches its threshold); each row of C is rescaled to the number of points with that given
label (calibration). The joints of the steps are averaged with weights w_t² (count_errors).
The estimated errors are the off-diagonal sum; per class, its row's; per pair (given,
likely true), its cell. The interval is a Poisson bootstrap over points (BOOTSTRAPS draws,
seeded: the same interval every run), 5th to 95th percentile.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

BOOTSTRAPS = 100
#: Rows per block of the (rows × L) probability matrix: ~32 MB of float64 at most.
_BLOCK_ELEMENTS = 1 << 22


@dataclasses.dataclass(frozen=True, eq=False)
class ErrorCount:
    """count / low / high: the estimated number of label errors and its 90 % interval;
    per_class (L, 3) float64 (estimate, low, high) of the errors among points given each
    label; joint (L, L) float64 calibrated confident joint (rows: given, columns: likely
    true); likely (n,) int64 the confident label (−1: none); own_probability (n,) float64
    P_i(y_i), so 1 − it is the point's chance of being an error by its own history."""

    count: float
    low: float
    high: float
    per_class: np.ndarray
    joint: np.ndarray
    likely: np.ndarray
    own_probability: np.ndarray

    def expected_found(self, order: np.ndarray, cut: int) -> float:
        """The fraction of the estimated errors that the first `cut` rows of `order` hold,
        counting each row as 1 − P_i(y_i) of an error (0 when nothing is estimated)."""
        if self.count <= 0 or cut <= 0:
            return 0.0
        return float(min(1.0, np.sum(1.0 - self.own_probability[order[:cut]]) / self.count))


def _blocks(n: int, width: int):
    step = max(1, _BLOCK_ELEMENTS // max(width, 1))
    return ((start, min(n, start + step)) for start in range(0, n, step))


def probabilities(neighbors: Sequence[np.ndarray], codes: np.ndarray, n_labels: int, weights: np.ndarray,
                  logits: Optional[Sequence[np.ndarray]], start: int, stop: int) -> np.ndarray:
    """(stop − start, L) float64 P_i of rows start:stop (see the module docstring)."""
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    b = stop - start
    out = np.zeros((b, n_labels))
    share = 0.5 if logits is not None else 1.0
    for t, nb in enumerate(neighbors):
        if w[t] == 0:
            continue
        neighbor_codes = codes[nb[start:stop]]
        k = neighbor_codes.shape[1]
        keys = (np.arange(b)[:, None] * n_labels + neighbor_codes).ravel()
        out += (share * w[t] / k) * np.bincount(keys, minlength=b * n_labels).reshape(b, n_labels)
        if logits is not None:
            z = np.asarray(logits[t][start:stop], dtype=np.float64)
            e = np.exp(z - z.max(axis=1, keepdims=True))
            out += (share * w[t]) * e / e.sum(axis=1, keepdims=True)
    return out


def _confident(neighbors: Sequence[np.ndarray], codes: np.ndarray, n_labels: int, weights: np.ndarray):
    """(likely (n,) int64, −1 for none; own (n,) P_i(y_i)) of P weighted by `weights`."""
    n = codes.size
    own = np.empty(n)
    for start, stop in _blocks(n, n_labels):
        probs = probabilities(neighbors, codes, n_labels, weights, None, start, stop)
        own[start:stop] = probs[np.arange(stop - start), codes[start:stop]]
    per_label = np.bincount(codes, minlength=n_labels).astype(np.float64)
    thresholds = np.bincount(codes, weights=own, minlength=n_labels) / np.maximum(per_label, 1)
    likely = np.full(n, -1, dtype=np.int64)
    for start, stop in _blocks(n, n_labels):
        probs = probabilities(neighbors, codes, n_labels, weights, None, start, stop)
        above = probs >= thresholds[None, :] - 1e-12  # cleanlab's ≥, with float64 sums' rounding
        best = np.argmax(np.where(above, probs, -np.inf), axis=1)
        likely[start:stop] = np.where(above.any(axis=1), best, -1)
    return likely, own


def count_errors(neighbors: Sequence[np.ndarray], codes: np.ndarray, n_labels: int,
                 weights: np.ndarray) -> ErrorCount:
    """ErrorCount of n rows labelled `codes` (n,) int64 from each step's neighbours (n, k)
    positions and the step weights (S,) ≥ 0 (not all 0).

    The count is Σ_t w_t² C_t / Σ_t w_t², C_t the calibrated confident joint of step t's
    kNN vote shares alone: a joint of probabilities averaged over steps counted 0.7-0.8 of
    the planted flips on the tuning runs (a point memorised at later steps falls below its
    likely label's threshold), per-step joints weighted by w² 0.93-1.11 (bench/README.md).
    """
    n = codes.size
    w = np.asarray(weights, dtype=np.float64) ** 2
    w = w / w.sum()
    per_label = np.bincount(codes, minlength=n_labels).astype(np.float64)
    joint = np.zeros((n_labels, n_labels))
    steps = np.flatnonzero(w > 0)
    likely_at = []  # (n,) int32 per carrying step: S × n × 4 bytes, like one step's graph column
    for t in steps:
        likely, _ = _confident(neighbors, codes, n_labels, np.eye(w.size)[t])
        sure = likely >= 0
        joint += w[t] * _calibrated(codes[sure], likely[sure], n_labels, np.ones(int(sure.sum())), per_label)
        likely_at.append(likely.astype(np.int32))
    classes = np.zeros((BOOTSTRAPS, n_labels))
    rng = np.random.default_rng(0)  # seeded: the same interval every run
    for b in range(BOOTSTRAPS):
        draw = rng.poisson(1.0, n).astype(np.float64)  # Poisson(1) bootstrap weights of the points
        drawn_per_label = np.bincount(codes, weights=draw, minlength=n_labels)
        for t, likely in zip(steps, likely_at):
            sure = likely >= 0
            boot = _calibrated(codes[sure], likely[sure].astype(np.int64), n_labels, draw[sure], drawn_per_label)
            np.fill_diagonal(boot, 0.0)
            classes[b] += w[t] * boot.sum(axis=1)
    totals = classes.sum(axis=1)
    off = joint.copy()
    np.fill_diagonal(off, 0.0)
    per_class = off.sum(axis=1)
    likely, own = _confident(neighbors, codes, n_labels, weights ** 2)
    return ErrorCount(float(per_class.sum()), float(np.percentile(totals, 5)), float(np.percentile(totals, 95)),
                      np.column_stack([per_class, np.percentile(classes, 5, axis=0), np.percentile(classes, 95, axis=0)]),
                      joint, likely, own)


def _calibrated(given: np.ndarray, likely: np.ndarray, n_labels: int, weights: np.ndarray,
                per_label: np.ndarray) -> np.ndarray:
    """The calibrated confident joint (L, L) of confident (given, likely) pairs: each row
    rescaled to the (weighted) number of points with that given label."""
    joint = np.bincount(given * n_labels + likely, weights=weights, minlength=n_labels * n_labels)
    joint = joint.reshape(n_labels, n_labels)
    rows = joint.sum(axis=1)
    return joint * (per_label / np.where(rows > 0, rows, 1.0))[:, None]
