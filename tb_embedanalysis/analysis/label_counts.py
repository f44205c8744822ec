"""How many label errors, and where (issue 26, item 2): cleanlab's confident joint, with
class probabilities taken from the training history instead of a retrained model.

A point's probabilities P_i^t (L,) at step t are its leave-one-out kNN vote shares. The
steps that carry weight (label_errors.step_weights) are those before memorisation, where
P_i^t reflects where the point sits before the network learnt its given label.

Confident joint (Northcutt et al. 2021, cleanlab's `compute_confident_joint`): per class
the threshold t_c = mean of P_i(c) over the points labelled c; a point counts in
C[y_i, j] for j = argmax over the classes with P_i(j) ≥ t_j (not at all when none
reaches its threshold); each row of C is rescaled to the number of points with that given
label (calibration). With the score's suspects known, the flags of the rows it trusts count
as agreeing, and the points with no confident label are not spread like the confident ones:
memorisation first takes an error's confident label away (on digits 0.52 of the points with
none at the last step are suspects, 0.08 of the confident ones), so row c's off-diagonal
cells are scaled by 1 + ratio · (n_c − r_c) / r_c, ratio the suspects' share among the
points with no confident label over their share among the others (StepJoints.step_joint).
The steps' joints are averaged with shares s_t ∝ w_t² · exp(−LEARNING · f_t), f_t the share
of the trusted rows step t still flags (StepJoints.shares). The estimated errors are the
off-diagonal sum; per class, its row's; per pair (given, likely true), its cell. The
interval is a Poisson bootstrap over points (BOOTSTRAPS draws, seeded: the same interval
every run), 5th to 95th percentile, widened to hold the steps' disagreement (± 1.645 × the
standard error of the steps' s-weighted mean count: which steps to trust is uncertain too,
which sampling does not measure). Its top also holds the estimate + 1.645 × the steps'
s-weighted RMS shortfall (memorisation lowers the late steps' counts together: a shared
bias, not noise), the same top of the uncorrected count (w², no ratio: StepJoints.
_uncorrected_top) and count / r (ErrorCount.widened, once ranked). bench/README.md.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.analysis.confident_labels import confident_labels

BOOTSTRAPS = 100
#: How fast a step's weight in the count falls with the share of trusted rows it flags
#: (StepJoints.shares); chosen among 9 rules on half the tuning seeds, then the other half.
LEARNING = 75.0
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
        whether each is off the diagonal (m,) bool; found once (read BOOTSTRAPS times)."""
        found = self._cells[t]
        if found is None:
            rows = np.flatnonzero(self.likely[t] >= 0)
            given, likely = self.codes[rows], self.likely[t][rows].astype(np.int64)
            found = self._cells[t] = (rows, given * self.n_labels + likely, likely != given)
        return found

    def shares(self, weights: np.ndarray, trusted: Optional[np.ndarray] = None) -> np.ndarray:
        """The steps' shares s (S,) summing to 1: s_t ∝ w_t² · exp(−LEARNING · f_t), f_t the
        share of the `trusted` rows (n,) bool step t flags (0 without them). Why: a step that
        still flags trusted rows has not learnt the clean points; its suspects' flags hold
        clean rows too (classification's early steps: 1.1-1.4 of the flips; bench/README)."""
        w = np.asarray(weights, dtype=np.float64) ** 2
        if trusted is not None and trusted.any():
            flagged = np.array([np.sum(trusted[rows[off]]) for rows, _, off in map(self._step, range(w.size))])
            w = w * np.exp(-LEARNING * flagged / np.sum(trusted))
        return w / w.sum()

    def step_joint(self, t: int, draw: Optional[np.ndarray] = None, trusted: Optional[np.ndarray] = None, *,
                   per_label: Optional[np.ndarray] = None, totals: Optional[Tuple[float, float]] = None) -> np.ndarray:
        """Step t's joint (L, L), row c summing to the (drawn) number n_c of points given c;
        `draw` (n,): the points' bootstrap weights; `trusted` (n,) bool: the rows the score
        does not suspect; per_label, totals: the draw's label counts and _totals, if made.
        Without `trusted`: cleanlab's calibrated joint (row c's confident cells, diagonal at
        least 1, × n_c / r_c, r_c their sum). With it: the trusted rows' flags agree, and row
        c's off-diagonal cells are × 1 + _ratio · (n_c − r_c) / r_c (module docstring)."""
        if per_label is None:
            per_label = self._per_label(draw)
        rows, cells, off = self._step(t)
        point_weights = np.ones(rows.size) if draw is None else draw[rows]
        size = self.n_labels
        raw = np.bincount(cells, weights=point_weights, minlength=size * size).reshape(size, size)
        np.fill_diagonal(raw, np.maximum(raw.diagonal(), 1.0))  # cleanlab's: every class keeps one clean point
        confident = raw.sum(axis=1)
        ratio = 1.0
        if trusted is not None:
            flagged = trusted[rows] & off
            raw -= np.bincount(cells[flagged], weights=point_weights[flagged], minlength=size * size).reshape(size, size)
            ratio = _ratio(point_weights, ~trusted[rows], self._totals(draw, trusted) if totals is None else totals)
        out = raw * (1.0 + ratio * (per_label - confident) / confident)[:, None]
        np.fill_diagonal(out, 0.0)
        errors = out.sum(axis=1)  # at most every point given c, however large the ratio
        out *= np.minimum(1.0, per_label / np.where(errors > 0, errors, 1.0))[:, None]
        np.fill_diagonal(out, per_label - out.sum(axis=1))
        return out

    def _totals(self, draw: Optional[np.ndarray], trusted: Optional[np.ndarray]) -> Tuple[float, float]:
        """(all points, the suspects) weighted by `draw` (None: 1), for _ratio: once a draw."""
        weights = np.ones(self.codes.size) if draw is None else draw
        return float(weights.sum()), float(weights[~trusted].sum()) if trusted is not None else 0.0

    def _per_label(self, draw: Optional[np.ndarray]) -> np.ndarray:
        return self.per_label if draw is None else np.bincount(self.codes, weights=draw, minlength=self.n_labels)

    def joint(self, shares: np.ndarray, draw: Optional[np.ndarray] = None,
              trusted: Optional[np.ndarray] = None) -> np.ndarray:
        """Σ_t s_t C_t (L, L) of step_joint's C_t for step shares s (S,) summing to 1
        (`draw`, `trusted`: step_joint's)."""
        per_label, totals = self._per_label(draw), self._totals(draw, trusted)
        out = np.zeros((self.n_labels, self.n_labels))
        for t in np.flatnonzero(shares > 0):
            out += shares[t] * self.step_joint(int(t), draw, trusted, per_label=per_label, totals=totals)
        return out

    def estimate(self, weights: np.ndarray) -> float:
        """The estimated number of label errors with no trusted rows: the off-diagonal sum
        of the w²-weighted calibrated joints."""
        return _off_diagonal(self.joint(self.shares(weights)))

    def count(self, weights: np.ndarray, trusted: Optional[np.ndarray] = None) -> ErrorCount:
        """ErrorCount for step weights (S,) ≥ 0, not all 0, and the trusted rows (n,) bool
        (None: no trusted flags removed); see count_errors."""
        shares = self.shares(weights, trusted)
        joint = self.joint(shares, trusted=trusted)
        off = joint.copy()
        np.fill_diagonal(off, 0.0)
        per_class = off.sum(axis=1)
        cells = np.argsort(-off, axis=None, kind="stable")[:PAIRS]
        cells = cells[off.flat[cells] >= 0.5]
        classes = np.zeros((BOOTSTRAPS, self.n_labels))
        pair_draws = np.zeros((BOOTSTRAPS, cells.size))
        rng = np.random.default_rng(0)  # seeded: the same interval every run
        for b in range(BOOTSTRAPS):
            boot = self.joint(shares, rng.poisson(1.0, self.codes.size).astype(np.float64), trusted)
            np.fill_diagonal(boot, 0.0)
            classes[b] = boot.sum(axis=1)
            pair_draws[b] = boot.flat[cells]
        totals = classes.sum(axis=1)
        pairs = np.column_stack([cells // self.n_labels, cells % self.n_labels, off.flat[cells],
                                 np.percentile(pair_draws, 5, axis=0), np.percentile(pair_draws, 95, axis=0)]
                                ) if cells.size else np.zeros((0, 5))
        estimate = float(per_class.sum())
        steps = np.array([_off_diagonal(self.step_joint(int(t), trusted=trusted)) if shares[t] > 0 else 0.0
                          for t in range(shares.size)])
        spread, shortfall = _step_margins(shares, steps, estimate)
        plain = self.shares(weights)
        return ErrorCount(estimate, min(float(np.percentile(totals, 5)), max(0.0, estimate - spread)),
                          max(float(np.percentile(totals, 95)), estimate + spread, estimate + shortfall,
                              self._uncorrected_top(plain, trusted)),
                          np.column_stack([per_class, np.percentile(classes, 5, axis=0),
                                           np.percentile(classes, 95, axis=0)]), joint, pairs, *self.flags(plain))

    def _uncorrected_top(self, shares: np.ndarray, trusted: Optional[np.ndarray]) -> float:
        """The top of the uncorrected count (w² shares, each step's calibrated joint less the
        trusted rows' flags): its estimate + the larger _step_margins. Without it the top
        ended below the truth on 9 of 160 tuning runs (digits, errors the score trusts)."""
        steps = np.zeros(shares.size)
        for t in np.flatnonzero(shares > 0):
            rows, cells, off = self._step(int(t))
            joint = _calibrated(cells, self.n_labels, np.ones(rows.size), self.per_label)
            if trusted is not None:
                flagged = trusted[rows] & off
                joint = np.maximum(joint - np.bincount(cells[flagged], minlength=self.n_labels ** 2).reshape(
                    self.n_labels, self.n_labels), 0.0)
            steps[t] = _off_diagonal(joint)
        estimate = float(shares @ steps)
        return estimate + max(_step_margins(shares, steps, estimate))

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


def _ratio(confident: np.ndarray, suspects: np.ndarray, totals: Tuple[float, float]) -> float:
    """The suspects' share among the points with no confident label over their share among
    the confident ones (weights `confident` (m,), `suspects` (m,) bool among them); totals:
    (all points, the suspects) weighted alike. 1 when either side is empty."""
    inside, suspect_inside = float(confident.sum()), float(confident[suspects].sum())
    if totals[0] - inside <= 0 or suspect_inside <= 0:
        return 1.0
    return ((totals[1] - suspect_inside) / (totals[0] - inside)) / (suspect_inside / inside)


def _step_margins(shares: np.ndarray, steps: np.ndarray, estimate: float) -> Tuple[float, float]:
    """(spread, shortfall) of the steps' counts (S,) around their s-weighted `estimate`:
    1.645 × the standard error of the weighted mean, as if each step were an independent
    estimate (1 / Σ s² of them), and 1.645 × the s-weighted RMS of the steps below it (a
    bias the memorised steps share: not divided by their number)."""
    spread = 1.645 * float(np.sqrt(np.sum(shares * (steps - estimate) ** 2) * np.sum(shares ** 2)))
    return spread, 1.645 * float(np.sqrt(np.sum(shares * np.minimum(steps - estimate, 0.0) ** 2)))


def count_errors(neighbors: Sequence[np.ndarray], codes: np.ndarray, n_labels: int,
                 weights: np.ndarray, trusted: Optional[np.ndarray] = None) -> ErrorCount:
    """ErrorCount of n rows labelled `codes` (n,) int64 from each step's neighbours (n, k)
    positions and the step weights (S,) ≥ 0 (not all 0).

    The count is Σ_t s_t C_t, C_t step t's joint of its kNN vote shares alone (StepJoints.
    step_joint, s_t: StepJoints.shares): a joint of probabilities averaged over steps
    counted 0.7-0.8 of the planted flips on the tuning runs (a point memorised at later
    steps falls below its likely label's threshold; bench/README.md). `trusted` (n,) bool:
    the rows the score does not suspect (module docstring; None: none, and the count is
    the w²-weighted mean of cleanlab's calibrated joints). Intervals (overall, per class,
    per listed pair): the module docstring.
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
