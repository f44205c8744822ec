"""How far each row's vector moved between two logged steps (issue 27.7): a row that barely
moved (an untrained word: its vector is still its random start) carries no signal, and its
neighbours must not be read as meaningful.

movement_i = ‖x_last,i − x_first,i‖₂, in float64 from the stored float32 rows (the
difference of two float32 values is exact in float64, so this is the exact distance up to
one rounding of the sum). A row is *still* when movement_i ≤ STILL_FRACTION × the 99th
percentile of the valid rows' movements: it moved less than 1 % of what the rows that
moved most moved. The percentile, not the median, because most rows may not have moved at
all (a vocabulary where only a fraction of the words occur in the training text); when
nothing moved (percentile 0), no row is marked: there is nothing to compare with.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

STILL_FRACTION = 0.01
REFERENCE_PERCENTILE = 99.0
BLOCK = 65536  # rows per float64 block: bounded temporaries at any N


@dataclasses.dataclass(frozen=True, eq=False)
class Movement:
    """distances: (N,) float64 movement of each row (NaN where a row is not finite at both
    steps); still: (N,) bool; threshold: the movement at or below which a row is still
    (None when nothing moved); reference: the REFERENCE_PERCENTILE movement."""

    distances: np.ndarray
    still: np.ndarray
    threshold: Optional[float]
    reference: float

    @property
    def nbytes(self) -> int:
        return int(self.distances.nbytes + self.still.nbytes)


def row_movement(first: np.ndarray, last: np.ndarray, valid: np.ndarray) -> Movement:
    """Movement of every row between `first` and `last` ((N, D) float32, the same rows);
    valid (N,) bool: rows finite at both steps (the others get NaN and are never still)."""
    if first.shape != last.shape or valid.shape != (first.shape[0],):
        raise ValueError("row_movement needs two (N, D) matrices of one shape and (N,) valid rows, got %s, %s, %s"
                         % (first.shape, last.shape, valid.shape))
    n = first.shape[0]
    distances = np.full(n, np.nan)
    rows = np.flatnonzero(valid)
    for start in range(0, rows.size, BLOCK):
        block = rows[start:start + BLOCK]
        diff = last[block].astype(np.float64) - first[block].astype(np.float64)
        distances[block] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    moved = distances[rows]
    reference = float(np.percentile(moved, REFERENCE_PERCENTILE)) if rows.size else 0.0
    if reference <= 0.0:
        return Movement(distances, np.zeros(n, dtype=bool), None, reference)
    threshold = STILL_FRACTION * reference
    still = np.zeros(n, dtype=bool)
    still[rows] = moved <= threshold
    return Movement(distances, still, threshold, reference)
