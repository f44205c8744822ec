"""Label columns as integer codes, and the kNN vote over neighbour labels.

Labels are metadata strings. They are sorted *naturally*: numerically when every label
parses as a number ("2" < "10"), else as strings; code c is the c-th label in that order.
All kNN votes break ties towards the smallest code, which is exactly what scikit-learn's
KNeighborsClassifier does when given these codes as `y` (its `mode` picks the first
maximum over `classes_`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import Optional, Protocol, Sequence, Tuple

import numpy as np


class NoClustersError(ValueError):
    """Every row has its own label, so there is nothing to cluster."""


@dataclasses.dataclass(frozen=True, eq=False)
class EncodedLabels:
    """names: the distinct labels in natural order; codes: (N,) int64 code per row."""

    names: Tuple[str, ...]
    codes: np.ndarray

    @functools.cached_property
    def digest(self) -> str:
        """Content digest (names and codes): names these labels in cache keys."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update("\0".join(self.names).encode("utf-8", "surrogatepass") + b"\1")
        digest.update(np.ascontiguousarray(self.codes, dtype=np.int64).tobytes())
        return digest.hexdigest()


def natural_order(names) -> list:
    names = sorted(set(names))
    try:
        return sorted(names, key=lambda s: (float(s), s))
    except (TypeError, ValueError):
        return names


def encode(labels: Sequence[str], *, column: Optional[str] = None, check_unique: bool = True) -> EncodedLabels:
    """Codes for `labels` (N strings); raises NoClustersError when every label is unique."""
    values = np.asarray([str(v) for v in labels], dtype=object)
    names = natural_order(values)
    if check_unique and len(values) > 1 and len(names) == len(values):
        where = "column %s" % column if column else "the label column"
        raise NoClustersError("no clusters: every value of %s is unique (%d rows, %d labels)"
                              % (where, len(values), len(names)))
    lookup = {name: i for i, name in enumerate(names)}
    codes = np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values))
    return EncodedLabels(tuple(names), codes)


def encode_rows(values, rows: np.ndarray, *, column: Optional[str] = None) -> EncodedLabels:
    """Codes of the labels of `rows` (n,) only (the valid rows), as `encode` gives them.

    values: N labels, either a sequence of str or a compact column exposing `codes` (N,)
    ints into `categories` (distinct str), which is encoded without touching N strings.
    """
    compact = getattr(values, "codes", None)
    if compact is None:
        return encode([values[i] for i in rows], column=column)
    raw = np.asarray(compact)[rows]
    categories = values.categories
    present = np.unique(raw)
    names = natural_order([categories[c] for c in present])
    if rows.size > 1 and len(names) == rows.size:
        where = "column %s" % column if column else "the label column"
        raise NoClustersError("no clusters: every value of %s is unique (%d rows, %d labels)"
                              % (where, rows.size, len(names)))
    position = {name: i for i, name in enumerate(names)}
    lookup = np.full(len(categories), -1, dtype=np.int64)
    lookup[present] = [position[categories[c]] for c in present]
    return EncodedLabels(tuple(names), lookup[raw])


def content_digest(values) -> str:
    """A digest of N labels' content (cache keys): cheap for a compact column (its codes)."""
    digest = hashlib.blake2b(digest_size=16)
    compact = getattr(values, "codes", None)
    if compact is not None:
        digest.update(np.ascontiguousarray(compact).tobytes())
        digest.update("\0".join(values.categories).encode("utf-8", "surrogatepass"))
    else:
        digest.update(str(len(values)).encode())
        digest.update("\0".join(map(str, values)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True, eq=False)
class Votes:
    """Per-row class sums of neighbour weights, stored sparsely (no (N, L) matrix).

    rows, classes, sums: triplets sorted by (row, class); own: (n,) weight of the row's own
    label; best_other / best_other_class: (n,) the largest sum among other labels (0 / −1
    when none); predicted: (n,) argmax class, ties to the smallest code; total: (n,) sum.
    """

    rows: np.ndarray
    classes: np.ndarray
    sums: np.ndarray
    own: np.ndarray
    best_other: np.ndarray
    best_other_class: np.ndarray
    predicted: np.ndarray
    total: np.ndarray


#: vote() works on row blocks of about this many (row, neighbour) pairs: its sort keys, order and
#: sums are several (n, k) int64/float64 arrays, ≈ 0.9 × a 128-D float32 tensor if made at once.
VOTE_BLOCK_ELEMENTS = 1 << 18


class RowBlocks(Protocol):
    """An (n, k) array read by row slices: an ndarray, or clusters.NeighborCodes (computed
    per block from the graph, never held whole)."""

    @property
    def shape(self) -> Tuple[int, ...]: ...

    def __getitem__(self, key: slice) -> np.ndarray: ...


def vote(neighbor_codes: RowBlocks, own_codes: np.ndarray, n_labels: int, weights=None) -> Votes:
    """Vote of `neighbor_codes` (n, k) int for each row; `weights` (n, k) float or None (=1).
    Rows are independent: computed in blocks of rows, the same numbers as all at once.

    Few labels for k (L ≤ DENSE_LABELS_PER_K · k, e.g. 50 labels at k = 1,000): each block
    counts into a dense (rows × L) table with one bincount, O(n·k); else the (row, label)
    keys are sorted, O(n·k·log k). The same numbers either way (each sum is accumulated in
    neighbour order); at 12,000 rows, k = 1,000, 50 labels the sort took 5× the count."""
    n, k = neighbor_codes.shape
    own = np.zeros(n)
    best_other = np.zeros(n)
    best_other_class = np.full(n, -1, dtype=np.int64)
    predicted = np.full(n, -1, dtype=np.int64)
    total = np.zeros(n)
    parts = []
    dense = n_labels <= DENSE_LABELS_PER_K * k
    step = max(1, VOTE_BLOCK_ELEMENTS // max(k, n_labels if dense else 1, 1))
    block = _vote_dense if dense else _vote_block
    for start in range(0, n, step):
        sl = slice(start, start + step)
        w = None if weights is None else weights[sl]
        rows, classes, sums = block(neighbor_codes[sl], own_codes[sl], n_labels, w, own[sl], best_other[sl],
                                    best_other_class[sl], predicted[sl], total[sl])
        parts.append((rows + start, classes, sums))
    rows, classes, sums = parts[0] if len(parts) == 1 else (np.concatenate([p[i] for p in parts]) for i in range(3))
    return Votes(rows, classes, sums, own, best_other, best_other_class, predicted, total)


#: vote() counts in a dense table when labels are at most this many times k.
DENSE_LABELS_PER_K = 4


def _vote_dense(neighbor_codes, own_codes, n_labels, weights, own, best_other, best_other_class, predicted, total):
    """_vote_block by a dense (rows × L) table of sums: bincount of row·L + code (weights
    summed in neighbour order, as _vote_block sums the stably sorted keys)."""
    n, k = neighbor_codes.shape
    keys = (np.arange(n, dtype=np.int64)[:, None] * n_labels + neighbor_codes).ravel()
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    table = np.bincount(keys, weights=w, minlength=n * n_labels).astype(np.float64).reshape(n, n_labels)
    present = np.bincount(keys, minlength=n * n_labels).reshape(n, n_labels) > 0
    del keys
    rows, classes = np.nonzero(present)  # sorted by (row, class), as the sparse triplets are
    sums = table[rows, classes]
    local = np.arange(n)
    total[:] = np.bincount(rows, weights=sums, minlength=n)
    own[:] = table[local, own_codes]
    scores = np.where(present, table, -np.inf)
    predicted[:] = np.where(present.any(axis=1), np.argmax(scores, axis=1), -1)  # first max: smallest code
    scores[local, own_codes] = -np.inf
    other = np.argmax(scores, axis=1)
    has = np.isfinite(scores[local, other])
    best_other_class[:] = np.where(has, other, -1)
    best_other[:] = np.where(has, table[local, other], 0.0)
    return rows, classes, sums


def _vote_block(neighbor_codes, own_codes, n_labels, weights, own, best_other, best_other_class, predicted, total):
    """vote() of one block of rows: fills own, best_other, best_other_class, predicted and
    total (views of the block's rows) and returns its (rows, classes, sums) triplets."""
    n, k = neighbor_codes.shape
    w = np.ones((n, k)) if weights is None else np.asarray(weights, dtype=np.float64)
    keys = (np.arange(n, dtype=np.int64)[:, None] * n_labels + neighbor_codes).ravel()
    order = np.argsort(keys, kind="stable")
    keys, w = keys[order], w.ravel()[order]
    del order
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    # bincount, not add.reduceat: each sum accumulated in neighbour order, as _vote_dense does
    # (reduceat's summation order differs in the last bits)
    group = np.cumsum(np.r_[True, keys[1:] != keys[:-1]]) - 1 if keys.size else np.zeros(0, dtype=np.int64)
    sums = np.bincount(group, weights=w, minlength=starts.size).astype(np.float64)
    ukeys = keys[starts]
    del keys, w
    rows, classes = ukeys // n_labels, ukeys % n_labels
    total[:] = np.bincount(rows, weights=sums, minlength=n)
    is_own = classes == own_codes[rows]
    own[rows[is_own]] = sums[is_own]
    predicted[:] = _first_max(rows, classes, sums, n)
    other = ~is_own
    best_other_class[:] = _first_max(rows[other], classes[other], sums[other], n)
    has = best_other_class >= 0
    # the sum stored under (row, best other class) in the sorted unique keys
    pos = np.searchsorted(ukeys, np.arange(n)[has] * n_labels + best_other_class[has])
    best_other[has] = sums[pos]
    return rows, classes, sums


def _first_max(rows, classes, sums, n) -> np.ndarray:
    """(n,) class with the largest sum per row, smallest class on ties; −1 for empty rows."""
    out = np.full(n, -1, dtype=np.int64)
    if rows.size == 0:
        return out
    order = np.lexsort((classes, -sums, rows))  # by row, then sum descending, then class
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
    out[rows[first]] = classes[first]
    return out
