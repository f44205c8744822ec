"""Label geometry kernels: centroids, point–centroid distances, silhouette, Davies–Bouldin.

Every kernel works on the valid rows `rows` (n,) of a PreparedMatrix and label codes
`codes` (n,) in 0..L−1, in row blocks so memory stays O(block × max(n, L)).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp  # the label indicator of centroid sums

from tb_embedanalysis.analysis import exact

if TYPE_CHECKING:  # the type only: neighbors re-exports point_distances from here
    from tb_embedanalysis.analysis.neighbors import PreparedMatrix

BLOCK = 4096
#: centroids() sums groups of this many rows from zero (its numbers depend on the grouping).
CENTROID_GROUP = 65536
#: Elements of one silhouette distance block (rows × sample size): 2**22 float64 = 32 MB,
#: so the block no longer grows with the sample (4,096 × 20,000 rows peaked at +1 GB).
SILHOUETTE_BLOCK_ELEMENTS = 1 << 22
#: Elements of one (rows × labels) block of the cosine silhouette (float64, 32 MB).
COSINE_SILHOUETTE_BLOCK_ELEMENTS = 1 << 22


def _onehot(codes: np.ndarray, n_labels: int) -> sp.csr_matrix:
    """(n, L) sparse indicator of the codes."""
    n = codes.size
    return sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, n_labels))


def centroids(prep: PreparedMatrix, rows: np.ndarray, codes: np.ndarray, n_labels: int) -> np.ndarray:
    """(L, D) float64 mean of the raw vectors of each label: c_l = Σ_{i∈l} x_i / n_l.

    Summed in row order within groups of CENTROID_GROUP rows (each group from zero, then
    added to the total), the group read BLOCK rows at a time: a block continues its labels'
    running sums (they are prepended as rows of the product), so the float64 numbers are
    those of one product per group, without a float64 copy of the group (64 MB)."""
    sums = np.zeros((n_labels, prep.matrix.shape[1]))
    for group in range(0, rows.size, CENTROID_GROUP):
        end = min(rows.size, group + CENTROID_GROUP)
        partial = np.zeros_like(sums)
        for start in range(group, end, BLOCK):
            block_codes = codes[start:min(end, start + BLOCK)]
            present = np.unique(block_codes)
            running = np.concatenate([partial[present], prep.matrix[rows[start:start + block_codes.size]]])
            local = np.concatenate([np.arange(present.size), np.searchsorted(present, block_codes)])
            partial[present] = _onehot(local, present.size).T @ running
        sums += partial
    counts = np.bincount(codes, minlength=n_labels)
    return sums / np.maximum(counts, 1)[:, None]


def centroid_distances(prep: PreparedMatrix, rows, codes, cents: np.ndarray, metric: str):
    """Per point: (own (n,), nearest_other (n,), nearest_other_label (n,) int, −1 if L = 1).

    own = d(x_i, c_{y_i}); nearest_other = min_{l ≠ y_i} d(x_i, c_l); `metric` distances.
    Cost n × L × D in blocks of BLOCK rows.
    """
    n, n_labels = rows.size, cents.shape[0]
    own = np.empty(n)
    other = np.full(n, np.nan)
    other_label = np.full(n, -1, dtype=np.int64)
    for start in range(0, n, BLOCK):
        sl = slice(start, start + BLOCK)
        dist = point_distances(prep.matrix[rows[sl]], cents, metric)
        local = np.arange(dist.shape[0])
        own[sl] = dist[local, codes[sl]]
        if n_labels > 1:
            dist[local, codes[sl]] = np.inf
            other_label[sl] = np.argmin(dist, axis=1)
            other[sl] = dist[local, other_label[sl]]
    return own, other, other_label


def silhouette_samples(prep: PreparedMatrix, rows: np.ndarray, codes: np.ndarray, n_labels: int) -> np.ndarray:
    """(n,) silhouette s_i = (b_i − a_i) / max(a_i, b_i) of the points `rows`, among themselves.

    a_i = mean distance to the other points of its label, b_i = min over other labels of the
    mean distance to that label's points; s_i = 0 for a label of one point (as
    scikit-learn's silhouette_samples). Range [−1, 1], higher = better clustered.
    `codes` (n,) must use every value in 0..n_labels−1. O(n²·D) time in float64 on the rows
    moved to their mean; memory O(SILHOUETTE_BLOCK_ELEMENTS). Columns are sorted by label so that per-label
    sums are one `np.add.reduceat` pass instead of a product with an indicator matrix.
    Cosine needs no pairwise distances at all (_cosine_silhouette).
    """
    if prep.metric == "cosine":
        return _cosine_silhouette(prep, rows, codes, n_labels)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    # float64 about the mean: ‖a‖² + ‖b‖² − 2 a·b neither cancels on rows that share an
    # offset (float32 did, at +3,000) nor overflows on huge ones (float32 did, at 1e19).
    vectors = prep.matrix[rows[order]].astype(np.float64)
    vectors -= vectors.mean(axis=0)
    sq = np.einsum("ij,ij->i", vectors, vectors)
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    counts = np.bincount(codes, minlength=n_labels).astype(np.float64)
    n = rows.size
    out = np.empty(n)
    step = max(1, SILHOUETTE_BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, n, step):
        sl = slice(start, start + step)
        dist = vectors[sl] @ vectors.T
        dist *= -2
        dist += sq[sl, None]
        dist += sq[None, :]
        np.maximum(dist, 0, out=dist)
        np.sqrt(dist, out=dist)
        local = np.arange(dist.shape[0])
        dist[local, local + start] = 0.0
        means = np.add.reduceat(dist, starts, axis=1, dtype=np.float64) / counts
        own = sorted_codes[sl]
        own_count = counts[own]
        with np.errstate(invalid="ignore", divide="ignore"):
            a = means[local, own] * own_count / (own_count - 1)
        means[local, own] = np.inf
        b = means.min(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (b - a) / np.maximum(a, b)
        s[own_count <= 1] = 0.0
        out[order[sl]] = np.nan_to_num(s)
    return out


def _cosine_silhouette(prep: PreparedMatrix, rows: np.ndarray, codes: np.ndarray, n_labels: int) -> np.ndarray:
    """silhouette_samples for the cosine distance d(i, j) = 1 − u_i·u_j (u = x/‖x‖, zero rows
    u = 0), in O(n·L·D) instead of O(n²·D): a label's distance sum is linear in its rows,
    Σ_{j∈l} d(i, j) = n_l − u_i·U_l with U_l = Σ_{j∈l} u_j, and for i's own label the term
    j = i, d(i, i) = 1 − u_i·u_i (0, or 1 for a zero row), is taken out. The same definition
    as the pairwise route, in float64 throughout (the pairwise float32 route, like
    scikit-learn's, rounds each distance: they agree to ~1e-7)."""
    vectors = prep.matrix[rows].astype(np.float64)
    sq = np.einsum("ij,ij->i", vectors, vectors)
    with np.errstate(divide="ignore", invalid="ignore"):
        units = vectors * np.where(sq > 0, 1.0 / np.sqrt(sq), 0.0)[:, None]
    self_dist = 1.0 - np.einsum("ij,ij->i", units, units)
    sums = np.zeros((n_labels, units.shape[1]))
    _label_sums(sums, units, codes)
    counts = np.bincount(codes, minlength=n_labels).astype(np.float64)
    n = rows.size
    out = np.empty(n)
    step = max(1, COSINE_SILHOUETTE_BLOCK_ELEMENTS // max(n_labels, 1))
    for start in range(0, n, step):
        sl = slice(start, start + step)
        total = counts[None, :] - units[sl] @ sums.T  # Σ_{j∈l} d(i, j), self included
        local = np.arange(total.shape[0])
        own = codes[sl]
        own_count = counts[own]
        with np.errstate(invalid="ignore", divide="ignore"):
            a = (total[local, own] - self_dist[sl]) / (own_count - 1)
            means = total / counts[None, :]
        means[local, own] = np.inf
        b = means.min(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (b - a) / np.maximum(a, b)
        s[own_count <= 1] = 0.0
        out[sl] = np.nan_to_num(s)
    return out


def _label_sums(sums: np.ndarray, units: np.ndarray, codes: np.ndarray) -> None:
    """sums[l] += Σ_{codes == l} units, in label-sorted runs (np.add.reduceat)."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sums[sorted_codes[starts]] += np.add.reduceat(units[order], starts, axis=0)


def davies_bouldin(prep: PreparedMatrix, rows, codes, cents: np.ndarray, n_labels: int) -> float:
    """Davies–Bouldin index, always euclidean as scikit-learn's davies_bouldin_score:
    mean_i max_{j≠i} (S_i + S_j) / ‖c_i − c_j‖, S_i = mean ‖x − c_i‖ over label i.
    Range [0, ∞), lower = better separated."""
    own = _own_euclidean(prep, rows, codes, cents)
    intra = np.bincount(codes, weights=own, minlength=n_labels) / np.maximum(np.bincount(codes, minlength=n_labels), 1)
    between = point_distances(cents, cents, "euclidean")
    if np.allclose(intra, 0) or np.allclose(between, 0):
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (intra[:, None] + intra[None, :]) / between
    scores[scores == np.inf] = np.nan
    np.fill_diagonal(scores, np.nan)
    with warnings.catch_warnings():  # a label whose centroid coincides with all others
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.mean(np.nanmax(scores, axis=1)))


def _own_euclidean(prep: PreparedMatrix, rows, codes, cents) -> np.ndarray:
    """(n,) ‖x_i − c_{y_i}‖ in float64, BLOCK rows at a time (four (rows, D) float64 copies)."""
    out = np.empty(rows.size)
    for start in range(0, rows.size, BLOCK):
        sl = slice(start, start + BLOCK)
        diff = prep.matrix[rows[sl]].astype(np.float64) - cents[codes[sl]]
        out[sl] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def point_distances(a: np.ndarray, b: np.ndarray, metric: str, *, dtype=np.float64, centre=None) -> np.ndarray:
    """Distances (len(a), len(b)) between vectors `a` (m, D) and `b` (n, D), computed and
    returned in `dtype` (float32 halves the cost of large blocks). Worked in place on the
    product: one more (m, n) array at most (the cosine denominators, the euclidean sums).

    Euclidean distances are translation invariant: both sides are first moved by `centre`
    (D,) (default: the mean of `b`), in float64, so ‖a‖² + ‖b‖² − 2 a·b does not cancel on
    rows that share an offset (logits around +3,000 are 3 apart, not 0 or 5)."""
    if metric == "euclidean":
        a64 = np.asarray(a, dtype=np.float64)
        b64 = np.asarray(b, dtype=np.float64)
        if centre is None:
            centre = b64.mean(axis=0) if b64.shape[0] else 0.0
        a, b = a64 - centre, b64 - centre
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    dots = a @ b.T
    na = np.einsum("ij,ij->i", a, a)
    nb = np.einsum("ij,ij->i", b, b)
    if metric == "cosine":  # 1 − a·b / (‖a‖ ‖b‖), cos = 0 where a denominator is 0
        denom = np.outer(np.sqrt(na), np.sqrt(nb))
        zero = ~(denom > 0)
        denom[zero] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(dots, denom, out=dots)
        del denom
        dots[zero] = 0.0
        np.subtract(1.0, dots, out=dots)
        return np.clip(dots, 0.0, 2.0, out=dots)
    sums = np.add(na[:, None], nb[None, :])  # ‖a‖² + ‖b‖² − 2 a·b, clipped at 0
    dots *= 2.0
    sums -= dots
    del dots
    np.maximum(sums, 0.0, out=sums)
    # The expansion errs by ≤ 4 (D + 2) u (‖a‖ + ‖b‖)² in d²: where d² is within 1e8 times
    # that, d would lose more than ~1e-4 of itself (an exact duplicate comes out at 3e-8,
    # not 0), so those pairs are recomputed from their differences.
    u = float(np.finfo(dtype).eps) / 2
    ra, rb = np.sqrt(na), np.sqrt(nb)
    close = sums <= 1e8 * 4 * (a.shape[1] + 2) * u * np.square(ra[:, None] + rb[None, :])
    i, j = np.nonzero(close)
    del close
    # exact.BLOCK_ELEMENTS differences at a time: a block of exact duplicates is all close
    # (2**21 pairs × D = 64 made a 1 GB difference array at once).
    step = max(1, exact.BLOCK_ELEMENTS // max(1, a.shape[1]))
    for start in range(0, i.size, step):
        ii, jj = i[start:start + step], j[start:start + step]
        diff = a[ii] - b[jj]
        sums[ii, jj] = np.einsum("ij,ij->i", diff, diff)
    return np.sqrt(sums, out=sums)
