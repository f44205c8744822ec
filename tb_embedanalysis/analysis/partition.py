"""k-means cells over the rows of a prepared matrix, each with an exact radius: the
partition that the certified kNN search (certified.py) prunes with.

Working space W, where the cells and the bound live:

* euclidean: w = x (the row itself),
* cosine:    w = x / ‖x‖ (on unit vectors cosine distance = ‖a − b‖² / 2). Rows with ‖x‖ = 0
  have no direction; they are kept out of the cells (`zero_rows`), because their ranking key
  is exactly 0 against every query (see neighbors.py) and needs no bound.

Cell j has a centroid c_j and the radius r_j = max over its members ‖w − c_j‖, computed in
float64 from the rows themselves, so every member satisfies ‖w − c_j‖ ≤ r_j (up to float64
rounding, which certified.py allows for). The centroids only have to be *good*: k-means runs
in float32 on a sample with a fixed seed; a poor partition costs time, never correctness.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np
import scipy.sparse

from tb_embedanalysis.analysis.neighbors import PreparedMatrix, ProgressFn

#: Cells ≈ CELLS_PER_SQRT_N · √rows: per-query work is (cells + rows searched) · D, and with
#: √N cells both terms stay near √N · D on clustered data (measured in bench/bench_exact_large.py).
CELLS_PER_SQRT_N = 2.0
#: k-means trains on at most SAMPLE_PER_CELL rows per cell, for ITERATIONS Lloyd steps.
SAMPLE_PER_CELL = 48
ITERATIONS = 8
#: Row blocks for the radii (a few float64 copies of the block: ~4 MB each) and for the
#: float64 → float32 working rows: bounded temporaries whatever N is.
BLOCK_ROWS = 4096
#: Elements of one (rows × cells) score block of the nearest-centroid search (8 MB float32):
#: the whole k-means sample at once was 48 C × C, 0.77 GB at 1M rows (C ≈ 2,000).
SCORE_ELEMENTS = 1 << 21


@dataclasses.dataclass(frozen=True, eq=False)
class Partition:
    """Cells over the searchable rows (valid, and for cosine non-zero).

    rows: (S,) int64 row indices sorted by (cell, row); cell j is rows[starts[j]:starts[j+1]].
    starts: (C + 1,) int64. centroids: (C, D) float64 in W; centroid_sq: (C,) ‖c_j‖².
    radii: (C,) float64, max ‖w − c_j‖ over members. max_norms: (C,) float64, max ‖x‖ of the
    members' raw rows (bounds the float32 rounding of their keys). zero_rows: cosine only,
    valid rows with ‖x‖ = 0, ascending (empty for euclidean).
    """

    rows: np.ndarray
    starts: np.ndarray
    centroids: np.ndarray
    centroid_sq: np.ndarray
    radii: np.ndarray
    max_norms: np.ndarray
    zero_rows: np.ndarray

    @property
    def n_cells(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.starts)

    def members(self, cell: int) -> np.ndarray:
        return self.rows[self.starts[cell]:self.starts[cell + 1]]


def working_rows(prep: PreparedMatrix, rows: np.ndarray, dtype=np.float64) -> np.ndarray:
    """W-space vectors (len(rows), D) of the given rows of prep.work, the rows keys are computed
    on (cosine: normalised in float64; a
    narrower dtype is filled BLOCK_ROWS at a time, without a float64 copy of all rows)."""
    if np.dtype(dtype) != np.float64 and rows.size > BLOCK_ROWS:
        out = np.empty((rows.size, prep.work.shape[1]), dtype=dtype)
        for start in range(0, rows.size, BLOCK_ROWS):
            out[start:start + BLOCK_ROWS] = working_rows(prep, rows[start:start + BLOCK_ROWS])
        return out
    x = prep.work[rows].astype(np.float64)
    if prep.metric == "cosine":
        x /= np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    return x.astype(dtype, copy=False)


def _nearest(w: np.ndarray, centroids: np.ndarray, centroid_sq: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for each row of `w` (float32 is enough: only speed
    depends on it), SCORE_ELEMENTS scores at a time."""
    out = np.empty(w.shape[0], dtype=np.int64)
    step = max(64, SCORE_ELEMENTS // max(1, centroids.shape[0]))
    minus2 = -2 * centroids.T  # exact (a power of two): one pass less over each score block
    for start in range(0, w.shape[0], step):
        scores = w[start:start + step] @ minus2
        scores += centroid_sq
        out[start:start + step] = np.argmin(scores, axis=1)
    return out


def _cell_sums(w: np.ndarray, assign: np.ndarray, c: int) -> np.ndarray:
    """(c, D) float64 sums of the rows of `w` (S, D) float32 in each cell `assign` (S,): a
    sparse one-hot product over BLOCK_ROWS rows at a time (no float64 copy of the whole sample).
    The centroids only decide speed, never a result (the module docstring). Why scipy.sparse: 4x faster than the reduceat of gathered float64 segments it replaces
    (7.5 against 32 ms per Lloyd step at 30,000 × 128 sample rows, 632 cells)."""
    out = np.zeros((c, w.shape[1]))
    for start in range(0, w.shape[0], BLOCK_ROWS):
        block = assign[start:start + BLOCK_ROWS]
        onehot = scipy.sparse.csr_matrix((np.ones(block.size), (block, np.arange(block.size))), shape=(c, block.size))
        out += onehot @ w[start:start + BLOCK_ROWS].astype(np.float64)
    return out


class Lloyd:
    """k-means on a seeded sample of the searchable rows of `prep`, stepped on demand, so that
    certified_graph can ask after a few steps whether cells can pay at all (on unclustered data
    they cannot, and the remaining steps are never paid) and finish the same deterministic steps
    otherwise: step(a) then step(b) gives the centroids step(a + b) gives.

    rows: (S,) the searchable rows, ascending; zero_rows: cosine rows with ‖x‖ = 0; sample:
    (≤ SAMPLE_PER_CELL · C,) ascending rows the centroids train on; centroids (C, D) float32."""

    def __init__(self, prep: PreparedMatrix, *, seed: int = 0, n_cells: int = 0):
        self.prep = prep
        searchable = prep.valid.copy()
        self.zero_rows = np.empty(0, dtype=np.int64)
        if prep.metric == "cosine":
            zero = prep.valid & (prep.key_scale == 0)
            self.zero_rows = np.flatnonzero(zero)
            searchable &= ~zero
        self.rows = np.flatnonzero(searchable)
        s = self.rows.size
        c = n_cells or int(min(s, max(1, round(CELLS_PER_SQRT_N * math.sqrt(s)))))
        rng = np.random.default_rng(seed)
        self.sample = np.sort(rng.choice(self.rows, min(s, SAMPLE_PER_CELL * c), replace=False))
        self._w = working_rows(prep, self.sample, np.float32)
        self.centroids = self._w[np.sort(rng.choice(self._w.shape[0], c, replace=False))].copy()
        self.steps = 0
        self._assign: Optional[np.ndarray] = None

    def assignment(self) -> np.ndarray:
        """(len(sample),) each sample row's nearest current centroid (kept for the next step)."""
        if self._assign is None:
            self._assign = _nearest(self._w, self.centroids, np.einsum("ij,ij->i", self.centroids, self.centroids))
        return self._assign

    def step(self, count: int) -> None:
        """`count` Lloyd steps on the sample; empty cells keep their centroid."""
        w, c = self._w, self.centroids.shape[0]
        for _ in range(count if w.shape[0] else 0):
            assign = self.assignment()
            self._assign = None  # the centroids move
            counts = np.bincount(assign, minlength=c)
            filled = np.flatnonzero(counts)
            sums = _cell_sums(w, assign, c)[filled]
            self.centroids[filled] = (sums / counts[filled, None]).astype(np.float32)
        self.steps += count

    def partition(self, *, on_progress: ProgressFn = None) -> Partition:
        """Every searchable row in the cell of its nearest centroid, with exact radii."""
        return cells(self.prep, self.rows, self.zero_rows, self.centroids, on_progress=on_progress)


def build(prep: PreparedMatrix, *, seed: int = 0, n_cells: int = 0, on_progress: ProgressFn = None) -> Partition:
    """k-means partition of the searchable rows of `prep`; n_cells = 0 picks ≈ 2 √S."""
    lloyd = Lloyd(prep, seed=seed, n_cells=n_cells)
    lloyd.step(ITERATIONS)
    return lloyd.partition(on_progress=on_progress)


def cells(prep: PreparedMatrix, rows: np.ndarray, zero_rows: np.ndarray, centroids: np.ndarray, *,
          nearest: Optional[np.ndarray] = None, on_progress: ProgressFn = None) -> Partition:
    """The partition of `rows` (ascending searchable rows of `prep`) into the cells of their
    nearest `centroids` (C, D) float32 (`nearest` (len(rows),) when known already), empty
    cells dropped, radii exact in float64."""
    s, d = rows.size, prep.work.shape[1]
    if s == 0:
        empty = np.empty(0)
        return Partition(rows, np.zeros(1, dtype=np.int64), np.empty((0, d)), empty, empty, empty, zero_rows)
    centroid_sq32 = np.einsum("ij,ij->i", centroids, centroids)
    cell = np.empty(s, dtype=np.int64) if nearest is None else nearest
    assign_rows = 4 * BLOCK_ROWS  # progress granularity; _nearest bounds its own scores
    for start in range(0, s if nearest is None else 0, assign_rows):
        block = rows[start:start + assign_rows]
        cell[start:start + assign_rows] = _nearest(working_rows(prep, block, np.float32), centroids, centroid_sq32)
        if on_progress is not None:
            on_progress(0.5 * min(1.0, (start + block.size) / s))
    # Drop empty cells, renumber, and order rows by (cell, row): rows is ascending already.
    used, cell = np.unique(cell, return_inverse=True)
    centroids = centroids[used].astype(np.float64)
    order = np.argsort(cell, kind="stable")
    rows, cell = rows[order], cell[order]
    starts = np.searchsorted(cell, np.arange(used.size + 1)).astype(np.int64)
    dist = np.empty(s)
    norm = np.empty(s)
    for start in range(0, s, BLOCK_ROWS):  # exact radii from the float64 rows
        block, owner = rows[start:start + BLOCK_ROWS], cell[start:start + BLOCK_ROWS]
        diff = working_rows(prep, block) - centroids[owner]
        dist[start:start + BLOCK_ROWS] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        raw = prep.work[block].astype(np.float64)
        norm[start:start + BLOCK_ROWS] = np.sqrt(np.einsum("ij,ij->i", raw, raw))
        if on_progress is not None:
            on_progress(0.5 + 0.5 * min(1.0, (start + block.size) / s))
    radii = np.maximum.reduceat(dist, starts[:-1])  # rows are sorted by cell; no cell is empty
    max_norms = np.maximum.reduceat(norm, starts[:-1])
    return Partition(rows, starts, centroids, np.einsum("ij,ij->i", centroids, centroids), radii, max_norms,
                     zero_rows)
