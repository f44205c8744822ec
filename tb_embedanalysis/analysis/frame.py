"""The working frame: the float32 matrix that ranking keys are computed on, chosen so that the
keys neither overflow nor cancel, whatever the stored values are.

The fast searches (neighbors.py, certified.py) rank rows by a float32 key from one matrix
product. On the stored rows x that key can be useless: ‖x‖² − 2 x·q cancels when the rows
share an offset that is large against their distances (+3,000 on rows 3 apart), and ‖x‖²
overflows float32 for ‖x‖ ≳ 1.8e19 (underflows for ‖x‖ ≲ 1e-19). So keys are computed on
a working matrix W instead, which ranks the same way:

* euclidean: w = fl32((x − c) · 2^e), c the mean of the valid rows (float64) and 2^e a
  power of two that brings max ‖x − c‖ near 1. Distances are translation invariant and
  scale by exactly 2^e. W is a copy, made only when it matters: the offset ‖c‖ is larger
  than twice the rows' spread (rms ‖x − c‖), or the norms leave [2^-40, 2^40].
* cosine: w = x · 2^(-e_x) per row, e_x = ⌊log2 ‖x‖⌋: exact (a power of two), and cosine
  is invariant under a positive scale per row. A copy only when some norm leaves
  [2^-40, 2^40].

Otherwise W is the stored matrix itself (no copy). Either way the keys only *propose*
candidates: exact.py computes every distance it returns in float64 from the stored rows
and proves, with the error bound of keys computed on W, that no row outside the candidates
can rank. W's own rounding (fl32 of the translated rows: ≤ u ‖w‖ per row) is in that bound.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

#: Rows per block when scanning or transforming the matrix (bounded float64 temporaries).
BLOCK_ROWS = 16384
#: W is the stored matrix while every valid row's norm (or, euclidean, ‖x − c‖) lies in
#: [2^-NORM_EXPONENT, 2^NORM_EXPONENT]: squares and products stay normal float32 numbers.
NORM_EXPONENT = 40
#: Euclidean: translate when the rows' offset ‖c‖ exceeds this many times their rms spread.
OFFSET_RATIO = 2.0


@dataclasses.dataclass(frozen=True, eq=False)
class Frame:
    """How W was made from the stored rows.

    work: (N, D) float32, W (the stored matrix itself when `copied` is False).
    offset: (D,) float64 c subtracted before scaling (euclidean), or None.
    scale: 2^e the translated rows were multiplied by (euclidean), 1.0 if none.
    per_row: cosine rows scaled by their own power of two.
    """

    work: np.ndarray
    offset: Optional[np.ndarray]
    scale: float
    per_row: bool

    @property
    def copied(self) -> bool:
        return self.offset is not None or self.scale != 1.0 or self.per_row

    @property
    def nbytes(self) -> int:
        """Bytes this frame adds to the stored matrix (W when it is a copy)."""
        return int(self.work.nbytes) if self.copied else 0

    def to_work(self, vectors: np.ndarray) -> np.ndarray:
        """W-space rows (m, D) float32 of stored-space `vectors` (m, D), as `work` was made."""
        x = np.asarray(vectors, dtype=np.float64)
        if self.per_row:
            return _row_powers(x).astype(np.float32)
        if self.offset is not None:
            x = x - self.offset
        if self.scale != 1.0:
            x = x * self.scale
        return x.astype(np.float32)


def _row_powers(x: np.ndarray) -> np.ndarray:
    """x (m, D) float64 with each non-zero row multiplied by 2^(−⌊log2 ‖x‖⌋): norms in [1, 2)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    exponents = np.zeros(norms.size)
    positive = norms > 0
    exponents[positive] = -np.floor(np.log2(norms[positive]))
    return np.ldexp(x, exponents.astype(np.int64)[:, None])


def _mean(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(D,) float64 mean of matrix[rows], summed in float64 by blocks (slices, no copy, when
    every row is valid)."""
    total = np.zeros(matrix.shape[1])
    every = rows.size == matrix.shape[0]
    for start in range(0, rows.size, BLOCK_ROWS):
        block = matrix[start:start + BLOCK_ROWS] if every else matrix[rows[start:start + BLOCK_ROWS]]
        total += block.sum(axis=0, dtype=np.float64)
    return total / max(1, rows.size)


def _small_offset(rows: np.ndarray, sq: np.ndarray, offset: np.ndarray) -> bool:
    """Euclidean: whether the float64 pass would keep the stored matrix, decided from the rows'
    float32 squared norms `sq` and their float64 mean c (`offset`) alone, where that is certain.

    With M the mean of ‖x‖² over the valid rows, the rms spread s² = M − ‖c‖². When
    ‖c‖² ≤ M / 2, s² ≥ ‖c‖² (so ‖c‖ ≤ s < OFFSET_RATIO · s) even with M's relative rounding
    (≤ D · 2^-24 from float32 squares: far below the factor the ratio leaves); the largest
    norm a factor 2 inside [2^-NORM_EXPONENT, 2^NORM_EXPONENT] likewise. Anything else (a
    large offset, norms near the ends, Inf from a float32 square): False, and the float64
    pass decides."""
    inside = sq[rows]
    if not inside.size:
        return False
    top = float(inside.max())
    limit = 2.0 ** (2 * NORM_EXPONENT - 2)
    if not (1.0 / limit <= top <= limit):  # NaN / Inf: neither
        return False
    return float(offset @ offset) <= 0.5 * float(inside.mean(dtype=np.float64))


def _norm_range(lo: float, hi: float) -> bool:
    """True when every non-zero norm in [lo, hi] keeps float32 squares and products normal."""
    limit = 2.0 ** NORM_EXPONENT
    return hi <= limit and (lo == 0.0 or lo >= 1.0 / limit)


def build(matrix: np.ndarray, valid: np.ndarray, metric: str, *, sq: Optional[np.ndarray] = None) -> Frame:
    """The working frame of `matrix` (N, D) float32/float64 for `metric`; `valid` (N,) bool.
    sq: (N,) the rows' squared norms in the matrix's own precision, when the caller has them
    (neighbors.prepare): cosine then takes the stored matrix without a float64 pass when
    every valid row's is well inside the range (a factor 4 from each end: their rounding,
    ≤ D·u relative, and float32 underflow of tiny elements cannot move a norm across it);
    else the float64 check decides, as without them (1,000,000 × 128: 0.30 s saved).
    Euclidean with sq: the stored matrix when the largest norm is well inside the range and
    the offset's square is at most half the rows' mean squared norm (`_small_offset`), else
    the float64 pass below decides (1,000,000 × 128: ~0.6 s saved)."""
    rows = np.flatnonzero(valid)
    if metric == "cosine" and sq is not None:
        inside = sq[rows]
        limit = 2.0 ** (2 * NORM_EXPONENT - 2)
        if inside.size and bool(np.all(inside >= 1.0 / limit)) and bool(np.all(inside <= limit)):  # NaN: neither
            return Frame(matrix, None, 1.0, False)
    if metric == "cosine":
        lo, hi = np.inf, 0.0
        for start in range(0, rows.size, BLOCK_ROWS):
            x = matrix[rows[start:start + BLOCK_ROWS]].astype(np.float64)
            norms = np.sqrt(np.einsum("ij,ij->i", x, x))
            nonzero = norms[norms > 0]
            if nonzero.size:
                lo, hi = min(lo, float(nonzero.min())), max(hi, float(nonzero.max()))
        if hi == 0.0 or _norm_range(lo, hi):
            return Frame(matrix, None, 1.0, False)
        work = np.zeros(matrix.shape, dtype=np.float32)  # invalid rows stay 0 (never ranked)
        for start in range(0, rows.size, BLOCK_ROWS):
            block = rows[start:start + BLOCK_ROWS]
            work[block] = _row_powers(matrix[block].astype(np.float64)).astype(np.float32)
        return Frame(work, None, 1.0, True)
    # euclidean: the offset and the spread, in float64
    offset = _mean(matrix, rows)
    if sq is not None and _small_offset(rows, sq, offset):
        return Frame(matrix, None, 1.0, False)
    hi, raw_hi, sq_sum = 0.0, 0.0, 0.0
    for start in range(0, rows.size, BLOCK_ROWS):
        x = matrix[rows[start:start + BLOCK_ROWS]].astype(np.float64)
        raw = np.sqrt(np.einsum("ij,ij->i", x, x))
        x -= offset
        sq = np.einsum("ij,ij->i", x, x)
        sq_sum += float(sq.sum())
        norms = np.sqrt(sq)
        hi, raw_hi = max(hi, float(norms.max(initial=0.0))), max(raw_hi, float(raw.max(initial=0.0)))
    spread = math.sqrt(sq_sum / max(1, rows.size))
    offset_norm = float(np.sqrt(offset @ offset))
    # Tiny rows among normal ones need no copy: float32 cannot separate them, so exact.py
    # scans them in float64; only all-tiny or huge norms, or a large offset, need W.
    if 2.0 ** -NORM_EXPONENT <= raw_hi <= 2.0 ** NORM_EXPONENT and offset_norm <= OFFSET_RATIO * spread:
        return Frame(matrix, None, 1.0, False)
    scale = 2.0 ** -math.floor(math.log2(hi)) if hi > 0 else 1.0
    work = np.zeros(matrix.shape, dtype=np.float32)
    for start in range(0, rows.size, BLOCK_ROWS):
        block = rows[start:start + BLOCK_ROWS]
        work[block] = ((matrix[block].astype(np.float64) - offset) * scale).astype(np.float32)
    return Frame(work, offset, scale, False)
