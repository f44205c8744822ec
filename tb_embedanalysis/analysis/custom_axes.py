"""A custom linear map, as the Projector's "Custom" projection: each axis runs from one set of
rows to another (`bad` → `good`, label A → label B), its direction the difference of the two
sets' mean vectors.

x_i = (v_i − μ) · u_x with u_x = (mean(right) − mean(left)) / ‖…‖, μ the mean of all valid
rows, so 0 is the average point and the units are the vectors' own. The Projector does not
make the two axes orthogonal, and neither do we (the answer says the cosine between them,
so a user sees when the two questions are nearly the same). Without a second pair, y is the
top principal axis of what x leaves (the covariance with u_x projected out): the widest
spread the first axis does not explain. Exact: float64 sums in blocks.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.analysis import pca

BLOCK = 65536


class FlatAxis(ValueError):
    """The two ends of an axis have the same mean: no direction (queries answers 400)."""


@dataclasses.dataclass(frozen=True, eq=False)
class CustomMap:
    """coords (N, 2) float32 (NaN for invalid rows); axes (D, 2) float64 unit directions;
    cosine between them; y_from: "queries" or "pca" (the second axis' origin)."""

    coords: np.ndarray
    axes: np.ndarray
    cosine: float
    y_from: str


def _mean(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    total = np.zeros(matrix.shape[1])
    for start in range(0, rows.size, BLOCK):
        total += matrix[rows[start:start + BLOCK]].sum(axis=0, dtype=np.float64)
    return total / rows.size


def direction(vectors, left: np.ndarray, right: np.ndarray, *, axis: str) -> np.ndarray:
    """(D,) float64 unit vector from the mean of rows `left` to the mean of rows `right`
    (non-empty int arrays of valid rows). Raises FlatAxis (naming `axis`) when they coincide."""
    matrix = np.asarray(vectors)
    delta = _mean(matrix, right) - _mean(matrix, left)
    norm = float(np.linalg.norm(delta))
    scale = max(float(np.abs(matrix[np.concatenate([left, right])]).max(initial=0.0)), np.finfo(float).tiny)
    if not norm > 1e-12 * scale:
        raise FlatAxis("axis %s: both ends have the same mean vector, so they define no direction" % axis)
    return delta / norm


def custom_map(vectors, valid: np.ndarray, x_ends: Tuple[np.ndarray, np.ndarray],
               y_ends: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> CustomMap:
    """The map of `vectors` ((N, D)) on the axes from x_ends = (left rows, right rows) and
    y_ends = (down rows, up rows), or y from PCA when y_ends is None (module doc)."""
    u = direction(vectors, *x_ends, axis="x")
    if y_ends is not None:
        w, y_from = direction(vectors, *y_ends, axis="y"), "queries"
    else:
        _, scatter = pca.scatter_matrix(vectors, valid)
        project_out = np.eye(u.size) - np.outer(u, u)
        values, vecs = np.linalg.eigh(project_out @ scatter @ project_out)
        w = vecs[:, int(np.argmax(values))]
        w = w * (1.0 if w[np.argmax(np.abs(w))] >= 0 else -1.0)
        y_from = "pca"
    axes = np.stack([u, w], axis=1)
    mean = _mean(np.asarray(vectors), np.flatnonzero(valid))
    return CustomMap(pca.project(vectors, valid, mean, axes), axes, float(u @ w), y_from)


def rows_of(valid: np.ndarray, matches: Sequence[int]) -> np.ndarray:
    """The valid rows among `matches` (int64): an end's mean uses only rows that have vectors."""
    rows = np.asarray(matches, dtype=np.int64)
    return rows[np.asarray(valid)[rows]] if rows.size else rows
