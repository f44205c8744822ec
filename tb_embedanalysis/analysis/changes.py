"""How the same rows changed between two embeddings (two steps, two runs, two layers).

Kernels on plain arrays, exact, the same on every run:

* `knn_overlap`: per point, how many of its k nearest neighbours in A are also among its k
  nearest in B (Jaccard = o / (2k − o));
* `overlap_summary`: per label the mean Jaccard, the histogram of overlaps, the points
  whose neighbourhoods changed most;
* `procrustes`: the similarity transform (rotation or reflection, scale, shift) that best
  maps one 2-D map onto another, so that two steps' PCA maps can be drawn in one frame
  (PCA's axes may flip or turn between steps; the points have not moved for that);
* `confusion_timeline`: per (label, vote) pair, how many points the kNN vote sends from
  the one to the other at each step, and whether the pair is merging or separating.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy.linalg import orthogonal_procrustes  # scipy: already installed with scikit-learn

#: Rows per block of knn_overlap: (block × 2k) int64 temporaries of ~32 MB at most.
_BLOCK_ELEMENTS = 1 << 22


def knn_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) int64: |A_i ∩ B_i| of two (n, k) arrays of neighbour ids (each row's ids
    distinct; −1 marks no neighbour and never matches)."""
    if a.shape != b.shape:
        raise ValueError("neighbour arrays of shapes %s and %s" % (a.shape, b.shape))
    n, k = a.shape
    out = np.empty(n, dtype=np.int64)
    step = max(1, _BLOCK_ELEMENTS // max(2 * k, 1))
    for start in range(0, n, step):
        stop = min(n, start + step)
        both = np.sort(np.concatenate([a[start:stop], b[start:stop]], axis=1), axis=1)
        same = (both[:, 1:] == both[:, :-1]) & (both[:, 1:] >= 0)  # ids are distinct per side
        out[start:stop] = np.count_nonzero(same, axis=1)
    return out


def jaccard(overlap: np.ndarray, k: int) -> np.ndarray:
    """Jaccard index of two k-sets sharing `overlap` ids: o / (2k − o), in [0, 1]."""
    overlap = np.asarray(overlap, dtype=np.float64)
    return overlap / (2 * k - overlap)


@dataclasses.dataclass(frozen=True, eq=False)
class OverlapSummary:
    """mean_jaccard over all n points; histogram (k + 1,) points with overlap o = 0..k;
    per label (codes order): count and mean Jaccard; moved: positions of the points with the
    lowest overlap (ties by position), at most `limit`."""

    k: int
    jaccard: np.ndarray
    mean_jaccard: float
    histogram: np.ndarray
    label_count: np.ndarray
    label_mean: np.ndarray
    moved: np.ndarray


def overlap_summary(overlap: np.ndarray, k: int, codes: Optional[np.ndarray], n_labels: int,
                    *, limit: int) -> OverlapSummary:
    scores = jaccard(overlap, k)
    histogram = np.bincount(overlap, minlength=k + 1)
    if codes is None:
        count, mean = np.zeros(0, dtype=np.int64), np.zeros(0)
    else:
        count = np.bincount(codes, minlength=n_labels)
        sums = np.bincount(codes, weights=scores, minlength=n_labels)
        mean = np.divide(sums, count, out=np.full(n_labels, np.nan), where=count > 0)
    moved = np.lexsort((np.arange(overlap.size), overlap))[:limit]
    return OverlapSummary(k, scores, float(scores.mean()) if scores.size else float("nan"), histogram, count, mean,
                          moved)


@dataclasses.dataclass(frozen=True)
class Similarity:
    """x ↦ scale · x @ rotation + shift, mapping one map's (n, 2) coords onto another's.
    disparity: the residual sum of squares after the fit, over the target's total sum of
    squares about its mean (0 = the maps agree up to the transform, 1 = no better than a point)."""

    rotation: np.ndarray
    scale: float
    shift: np.ndarray
    disparity: float

    def apply(self, coords: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(coords, dtype=np.float64) @ self.rotation + self.shift


def procrustes(source: np.ndarray, target: np.ndarray) -> Similarity:
    """The least-squares similarity transform of `source` (n, 2) onto `target` (n, 2), rows
    paired (orthogonal Procrustes with scaling; reflections allowed, as a PCA axis may flip)."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s0, t0 = source - mu_s, target - mu_t
    norm_s = float((s0 ** 2).sum())
    total_t = float((t0 ** 2).sum())
    if norm_s == 0.0:  # every source point in one place: only the shift is defined
        rotation, scale = np.eye(2), 0.0
    else:
        rotation, singular_sum = orthogonal_procrustes(s0, t0)
        scale = float(singular_sum) / norm_s
    shift = mu_t - scale * mu_s @ rotation
    residual = float(((scale * s0 @ rotation - t0) ** 2).sum())
    disparity = residual / total_t if total_t > 0 else 0.0
    return Similarity(rotation, scale, shift, disparity)


def confusion_timeline(codes: np.ndarray, predicted: Sequence[np.ndarray], n_labels: int
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """(pairs (P, 2) int64 [label, vote] with label ≠ vote and a count > 0 at some step,
    counts (P, S) int64 per step), pairs ordered by their largest count, then label, vote."""
    codes = np.asarray(codes, dtype=np.int64)
    per_step = np.stack([np.bincount(codes * n_labels + np.asarray(p, dtype=np.int64),
                                     minlength=n_labels * n_labels) for p in predicted], axis=1)
    cells = np.flatnonzero(per_step.any(axis=1))
    cells = cells[cells // n_labels != cells % n_labels]
    counts = per_step[cells]
    order = np.lexsort((cells, -counts.max(axis=1))) if cells.size else np.zeros(0, dtype=np.int64)
    cells, counts = cells[order], counts[order]
    return np.stack([cells // n_labels, cells % n_labels], axis=1).astype(np.int64), counts.astype(np.int64)


def trend(counts: Sequence[int]) -> Tuple[str, Optional[int]]:
    """("merging" | "separating" | "steady", the index of the step it starts at or None).

    A pair is *separating* when, after its peak, its count falls to at most half the peak
    and stays there to the last step; it starts at the first step of that stretch. It is
    *merging* when its last count is at least twice its first (and at least 2 points), and
    it starts at the first step from which the count stays at or above half the last one.
    Otherwise it is steady. A peak of 1 point separating to 0 counts (it is what a single
    point learned looks like)."""
    series = np.asarray(counts, dtype=np.int64)
    peak = int(np.argmax(series))
    last = series[-1]
    if series[peak] > 0 and 2 * last <= series[peak] and peak < series.size - 1:
        above = np.flatnonzero(2 * series[peak + 1:] > series[peak])
        start = peak + 1 + (int(above[-1]) + 1 if above.size else 0)
        if start < series.size:
            return "separating", start
    if last >= 2 and last >= 2 * series[0]:
        below = np.flatnonzero(2 * series < last)
        return "merging", int(below[-1]) + 1 if below.size else 0
    return "steady", None
