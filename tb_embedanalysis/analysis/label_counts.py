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
seeded: the same interval every run), 5th to 95th percentile, widened to hold the steps'
disagreement (± 1.645 × the standard error of the steps' w²-weighted mean count: which
steps to trust is uncertain too, which sampling does not measure). Its top also holds the estimate + 1.645 × the steps'
w²-weighted RMS shortfall (memorisation lowers the late steps' counts together: a shared
bias, not noise; bench/README.md) and count / r (ErrorCount.widened, once ranked).
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np

BOOTSTRAPS = 100
#: The (given, likely) pairs an ErrorCount lists with an interval, largest first, at most.
PAIRS = 50


@dataclasses.dataclass(frozen=True, eq=False)
class ErrorCount:
    """count / low / high: the estimated number of label errors and its 90 % interval;
    per_class (L, 3) float64 (estimate, low, high) of the errors among points given each
    label; joint (L, L) float64 calibrated confident joint (rows: given, columns: likely
    true); pairs (m, 5) float64 (given code, likely code, estimate, low, high) of the at
    most PAIRS largest off-diagonal cells of at least 0.5, largest first; flag_share (n,)
    float64 Σ_t s_t [i ∈ F_t] / |F_t|, F_t step t's flagged rows (a confident label other
    than the given one), s_t = w_t² / Σ w², the steps with no flag left out: each step's
    flagged set taken as an estimate of where the errors are; flag_rate (n,) float64
    Σ_t s_t [i ∈ F_t], the weighted share of the steps that flag the row."""

    count: float
    low: float
    high: float
    per_class: np.ndarray
    joint: np.ndarray
    pairs: np.ndarray
    flag_share: np.ndarray
    flag_rate: np.ndarray

    def expected_found(self, order: np.ndarray, cut: int) -> float:
        """The fraction of the errors that the first `cut` rows of `order` should hold: the
        s_t-weighted mean over steps of the share of F_t they hold (0 when nothing is
        flagged or estimated). Why: each step's flagged set is an estimate of the error set;
        how much of it the cut holds is the recall it would have if that step were right."""
        total = float(self.flag_share.sum())
        if self.count <= 0 or cut <= 0 or total <= 0:
            return 0.0
        return float(min(1.0, np.sum(self.flag_share[order[:cut]]) / total))

    def found_range(self, order: np.ndarray, cut: int) -> Tuple[float, float]:
        """(low, high): what reviewing the first `cut` rows of `order` should find, as a
        range. high = expected_found (the flagged rows' share, as if the errors were spread
        like them); low = min(high, Σ over the cut of flag_rate / count): every flag in the
        cut an error and every error no step flags below the cut. Why a range: where clean
        points sit among the errors (classification, confusable flips) the flags miss errors
        that rank below the cut and high promised 0.08-0.13 too much on average; low is
        within 0.05 of the truth there (tuning runs, bench/README.md)."""
        high = self.expected_found(order, cut)
        if high <= 0:
            return 0.0, 0.0
        return min(high, float(np.sum(self.flag_rate[order[:cut]]) / self.count)), high

    def widened(self, order: np.ndarray) -> "ErrorCount":
        """This count with `high` at least count / r, r = expected_found at the cut
        round(count) of `order` (n,) (the ranking, most suspect first). Why: the count drops
        every flag of the trusted rows, as if all errors were among the suspects; r says a
        share 1 − r of them is not, and if every flag among the suspects is an error the
        truth is count / r. The per-class and per-pair intervals stay the bootstrap's."""
        found = self.expected_found(order, int(round(self.count)))
        if found <= 0:
            return self
        return dataclasses.replace(self, high=max(self.high, self.count / found))


#: cleanlab's floor of a class's threshold (CONFIDENT_THRESHOLDS_LOWER_BOUND) and tolerance.
_THRESHOLD_FLOOR, _TOLERANCE = 2e-6, 1e-6


def confident_labels(neighbor_codes: np.ndarray, codes: np.ndarray, n_labels: int, *,
                     slot: Optional[np.ndarray] = None) -> np.ndarray:
    """(n,) int64 each row's confident label at one step (−1: none), from its k neighbours'
    labels neighbor_codes (n, k), by cleanlab's `compute_confident_joint` rule on the vote
    shares P_i(c) = |{j : y_j = c}| / k: t_c = max(mean of P_i(c) over rows labelled c, 2e-6);
    the classes with P_i(c) ≥ t_c − 1e-6 are confident; one → that one, several →
    argmax_c P_i(c) (ties: the smallest label). Sparse: only the (row, label) pairs present
    are formed, never an (n, L) matrix (an absent pair has P = 0, below every t_c − 1e-6).
    slot (n, k), when known (history's tallies): for each neighbour the first position in
    its row holding the same label; the same answer by row blocks, without the global sort
    of n·k keys (0.21 → 0.07 s a step at 100,000 × 10 neighbours)."""
    if slot is not None:
        return _confident_by_rows(neighbor_codes, codes, n_labels, slot)
    n, k = neighbor_codes.shape
    pairs, counts = np.unique((np.arange(n)[:, None] * n_labels + neighbor_codes).ravel(), return_counts=True)
    rows, labels = pairs // n_labels, pairs % n_labels
    share = counts / k
    own = np.zeros(n)
    mine = labels == codes[rows]
    own[rows[mine]] = share[mine]
    thresholds = np.maximum(np.bincount(codes, weights=own, minlength=n_labels) / np.maximum(
        np.bincount(codes, minlength=n_labels), 1), _THRESHOLD_FLOOR)
    above = share >= thresholds[labels] - _TOLERANCE
    confident = np.bincount(rows[above], minlength=n)
    order = np.lexsort((labels, -share, rows))  # per row: the largest share first, ties to the smallest label
    first = np.ones(order.size, dtype=bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    argmax = np.full(n, -1, dtype=np.int64)
    argmax[rows[order][first]] = labels[order][first]
    single = np.full(n, -1, dtype=np.int64)  # the confident class of rows with exactly one
    single[rows[above]] = labels[above]
    return np.where(confident > 1, argmax, np.where(confident == 1, single, -1))


#: Row block of _confident_by_rows: (block × k) temporaries of ~32 MB each at most.
_BLOCK_ELEMENTS = 1 << 22


def _confident_by_rows(neighbor_codes: np.ndarray, codes: np.ndarray, n_labels: int, slot: np.ndarray) -> np.ndarray:
    """confident_labels from the rows' label groups `slot` (its docstring), bit for bit."""
    n, k = neighbor_codes.shape
    step = max(1, _BLOCK_ELEMENTS // max(k, 1))
    blocks = [(start, min(n, start + step)) for start in range(0, n, step)]
    counts = []  # per block (b, k): the label's count at its first position in the row, else 0
    own = np.zeros(n)
    for start, stop in blocks:
        b = stop - start
        block = np.bincount((np.arange(b)[:, None] * k + slot[start:stop]).ravel(), minlength=b * k).reshape(b, k)
        mine = (neighbor_codes[start:stop] == codes[start:stop, None]) & (block > 0)
        own[start:stop] = np.where(mine.any(axis=1), block[np.arange(b), np.argmax(mine, axis=1)], 0) / k
        counts.append(block)
    thresholds = np.maximum(np.bincount(codes, weights=own, minlength=n_labels) / np.maximum(
        np.bincount(codes, minlength=n_labels), 1), _THRESHOLD_FLOOR)
    out = np.empty(n, dtype=np.int64)
    for (start, stop), block in zip(blocks, counts):
        labels, rows = neighbor_codes[start:stop], np.arange(stop - start)
        above = (block > 0) & (block / k >= thresholds[labels] - _TOLERANCE)
        confident = above.sum(axis=1)
        key = np.where(block > 0, block * n_labels + (n_labels - 1 - labels), -1)  # most votes, then smallest label
        argmax = labels[rows, np.argmax(key, axis=1)]
        single = labels[rows, np.argmax(above, axis=1)]
        out[start:stop] = np.where(confident > 1, argmax, np.where(confident == 1, single, -1))
    return out


class StepJoints:
    """Each step's confident labels, found once: step weights only combine them, so the
    rounds of label_errors.analyse cost a few bincounts each, not a pass over the graphs.

    likely (S of (n,) int32, −1: none): the confident label of every point at each step.
    """

    def __init__(self, neighbors: Sequence[np.ndarray], codes: np.ndarray, n_labels: int,
                 slots: Optional[Sequence[np.ndarray]] = None):
        """slots: each step's label groups (confident_labels' slot), when known."""
        self.codes, self.n_labels = np.asarray(codes, dtype=np.int64), n_labels
        steps = len(neighbors)
        self.likely = [confident_labels(self.codes[neighbors[t]], self.codes, n_labels,
                                        slot=None if slots is None else slots[t]).astype(np.int32)
                       for t in range(steps)]
        self.per_label = np.bincount(self.codes, minlength=n_labels).astype(np.float64)
        self._cells: list = [None] * steps

    def _step(self, t: int):
        """Step t's confident rows (m,) int64, their cells given · L + likely (m,) int64 and
        whether each is off the diagonal (m,) bool; found once (the bootstrap reads them
        BOOTSTRAPS times)."""
        found = self._cells[t]
        if found is None:
            rows = np.flatnonzero(self.likely[t] >= 0)
            given, likely = self.codes[rows], self.likely[t][rows].astype(np.int64)
            found = self._cells[t] = (rows, given * self.n_labels + likely, likely != given)
        return found

    def _shares(self, weights: np.ndarray) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64) ** 2
        return w / w.sum()

    def step_joint(self, t: int, draw: Optional[np.ndarray] = None, trusted: Optional[np.ndarray] = None, *,
                   per_label: Optional[np.ndarray] = None) -> np.ndarray:
        """Step t's calibrated confident joint (L, L); `draw` (n,): bootstrap weights of the
        points; `trusted` (n,) bool: their off-diagonal flags removed (module docstring);
        per_label: the draw's weighted label counts when already made (every step shares them)."""
        if per_label is None:
            per_label = self._per_label(draw)
        rows, cells, off = self._step(t)
        point_weights = np.ones(rows.size) if draw is None else draw[rows]
        out = _calibrated(cells, self.n_labels, point_weights, per_label)
        if trusted is not None:
            flagged = trusted[rows] & off
            false = np.bincount(cells[flagged], weights=point_weights[flagged],
                                minlength=self.n_labels ** 2).reshape(self.n_labels, self.n_labels)
            out = np.maximum(out - false, 0.0)
        return out

    def _per_label(self, draw: Optional[np.ndarray]) -> np.ndarray:
        return self.per_label if draw is None else np.bincount(self.codes, weights=draw, minlength=self.n_labels)

    def joint(self, weights: np.ndarray, draw: Optional[np.ndarray] = None,
              trusted: Optional[np.ndarray] = None) -> np.ndarray:
        """Σ_t w_t² C_t / Σ_t w_t² (L, L) of step_joint's C_t (`draw`, `trusted`: its)."""
        w = self._shares(weights)
        per_label = self._per_label(draw)
        out = np.zeros((self.n_labels, self.n_labels))
        for t in np.flatnonzero(w > 0):
            out += w[t] * self.step_joint(int(t), draw, trusted, per_label=per_label)
        return out

    def estimate(self, weights: np.ndarray) -> float:
        """The estimated number of label errors: the off-diagonal sum of joint(weights)."""
        return _off_diagonal(self.joint(weights))

    def count(self, weights: np.ndarray, trusted: Optional[np.ndarray] = None) -> ErrorCount:
        """ErrorCount for step weights (S,) ≥ 0, not all 0, and the trusted rows (n,) bool
        (None: no trusted flags removed); see count_errors."""
        joint = self.joint(weights, trusted=trusted)
        off = joint.copy()
        np.fill_diagonal(off, 0.0)
        per_class = off.sum(axis=1)
        cells = np.argsort(-off, axis=None, kind="stable")[:PAIRS]
        cells = cells[off.flat[cells] >= 0.5]
        classes = np.zeros((BOOTSTRAPS, self.n_labels))
        pair_draws = np.zeros((BOOTSTRAPS, cells.size))
        rng = np.random.default_rng(0)  # seeded: the same interval every run
        for b in range(BOOTSTRAPS):
            boot = self.joint(weights, rng.poisson(1.0, self.codes.size).astype(np.float64), trusted)
            np.fill_diagonal(boot, 0.0)
            classes[b] = boot.sum(axis=1)
            pair_draws[b] = boot.flat[cells]
        totals = classes.sum(axis=1)
        pairs = np.column_stack([cells // self.n_labels, cells % self.n_labels, off.flat[cells],
                                 np.percentile(pair_draws, 5, axis=0), np.percentile(pair_draws, 95, axis=0)]
                                ) if cells.size else np.zeros((0, 5))
        w = self._shares(weights)
        estimate = float(per_class.sum())
        steps = np.array([_off_diagonal(self.step_joint(int(t), trusted=trusted)) if w[t] > 0 else 0.0
                          for t in range(w.size)])
        # The steps' disagreement: the standard error of their weighted mean, as if each step
        # were an independent estimate (1 / Σ w² of them: the effective number of steps).
        spread = 1.645 * float(np.sqrt(np.sum(w * (steps - estimate) ** 2) * np.sum(w ** 2)))
        # The steps below the estimate share one bias (memorisation): not divided by their number.
        shortfall = 1.645 * float(np.sqrt(np.sum(w * np.minimum(steps - estimate, 0.0) ** 2)))
        return ErrorCount(estimate, min(float(np.percentile(totals, 5)), max(0.0, estimate - spread)),
                          max(float(np.percentile(totals, 95)), estimate + spread, estimate + shortfall),
                          np.column_stack([per_class, np.percentile(classes, 5, axis=0),
                                           np.percentile(classes, 95, axis=0)]), joint, pairs, *self.flags(w))

    def flags(self, shares: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """ErrorCount's (flag_share, flag_rate), each (n,), for step shares s (S,) summing to 1."""
        share, rate = np.zeros(self.codes.size), np.zeros(self.codes.size)
        for t in np.flatnonzero(shares > 0):
            rows, _, off = self._step(int(t))
            if off.any():
                share[rows[off]] += shares[t] / int(off.sum())
                rate[rows[off]] += shares[t]
        return share, rate


def _off_diagonal(joint: np.ndarray) -> float:
    return float(joint.sum() - np.trace(joint))


def count_errors(neighbors: Sequence[np.ndarray], codes: np.ndarray, n_labels: int,
                 weights: np.ndarray, trusted: Optional[np.ndarray] = None) -> ErrorCount:
    """ErrorCount of n rows labelled `codes` (n,) int64 from each step's neighbours (n, k)
    positions and the step weights (S,) ≥ 0 (not all 0).

    The count is Σ_t w_t² C_t / Σ_t w_t², C_t the calibrated confident joint of step t's
    kNN vote shares alone: a joint of probabilities averaged over steps counted 0.7-0.8 of
    the planted flips on the tuning runs (a point memorised at later steps falls below its
    likely label's threshold), per-step joints weighted by w² 0.93-1.11 (bench/README.md).
    `trusted` (n,) bool: the rows the score does not suspect, whose flags are removed
    (module docstring; None: none). Intervals (overall, per class, per listed pair): the
    module docstring.
    """
    return StepJoints(neighbors, codes, n_labels).count(weights, trusted)


def _calibrated(cells: np.ndarray, n_labels: int, weights: np.ndarray, per_label: np.ndarray) -> np.ndarray:
    """The calibrated confident joint (L, L) of confident points in cells given · L + likely:
    diagonal cells at least 1, then each row rescaled to the (weighted) number of points
    with that given label (cleanlab's calibrate_confident_joint, before its rounding)."""
    joint = np.bincount(cells, weights=weights, minlength=n_labels * n_labels)
    joint = joint.reshape(n_labels, n_labels)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1.0))  # cleanlab's: every class keeps one clean point
    rows = joint.sum(axis=1)
    return joint * (per_label / np.where(rows > 0, rows, 1.0))[:, None]
