"""Training history: what each point's neighbourhood said about its label at every step.

A TensorBoard logdir holds the same N rows at several training steps. Per point i and step
t (S steps, k neighbours, the leave-one-out kNN vote of clusters.py at each step):

* agreement  a_i^t = p_i^t(y_i), the fraction of its k nearest other points sharing its label;
* vote       v_i^t = the kNN vote (= scikit-learn's KNeighborsClassifier leave-one-out vote);
* margin     m_i^t = p_i^t(y_i) − max_{c≠y_i} p_i^t(c), cleanlab's normalized margin before
  its (1 + m) / 2 rescaling; range [−1, 1], > 0 when the label wins the vote outright.

Per point, over the steps: mean margin and variability (population standard deviation of
m_i^t: Dataset Cartography's two axes, on neighbourhoods instead of logits); *learned at*,
the first step from which the vote equals the label at every later step (none when it
does not at the last step); *forgetting events*, steps where the vote stops equalling the
label after it did at the step before (Toneva et al. 2019); *never learned*, the vote never
equals the label. And the history score of `history_score` for ranking label errors.

Everything takes plain arrays for the n analysed rows; positions (not original row
numbers) index neighbours, so the kernels know nothing about invalid rows.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.analysis.labels import Votes

if TYPE_CHECKING:  # label_errors builds on history_score here: a type only, no import circle
    from tb_embedanalysis.analysis.label_errors import LabelErrors

#: Rounds of trust re-weighting in history_score (3: tuned on held-in protocol seeds; more
#: rounds move the AUROC by < 0.0002, see bench/README.md).
TRUST_ROUNDS = 3
#: Row block of the weighted vote: (block × k) float64 temporaries of ~32 MB at most.
_BLOCK_ELEMENTS = 1 << 22


@dataclasses.dataclass(frozen=True, eq=False)
class PointHistory:
    """Per-step and per-point figures of the n analysed rows (see the module docstring).

    steps: the S steps, oldest first; names: label names; rows (n,) original row indices;
    codes (n,) label codes. agreement / margin (S, n) float64; predicted (S, n) int64 vote
    codes. mean_margin / variability (n,) float64; learned_at (n,) int64 index into steps,
    −1 when not learned at the last step; forgetting (n,) int64; never_learned (n,) bool;
    score (n,) float64, higher = more likely mislabelled: errors.score when given, else
    history_score; errors: label_errors.LabelErrors (method, step weights, count) or None.
    order (n,) int64: positions by score, highest first, ties by row; made once with the
    result (the /history error count and every page of the history ranking read it).
    """

    steps: Tuple[Optional[int], ...]
    names: Tuple[str, ...]
    k: int
    rows: np.ndarray
    codes: np.ndarray
    agreement: np.ndarray
    predicted: np.ndarray
    margin: np.ndarray
    mean_margin: np.ndarray
    variability: np.ndarray
    learned_at: np.ndarray
    forgetting: np.ndarray
    never_learned: np.ndarray
    score: np.ndarray
    errors: Optional["LabelErrors"] = None
    order: np.ndarray = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        order = np.lexsort((self.rows, -self.score))
        order.flags.writeable = False  # shared by every request on the cached result
        object.__setattr__(self, "order", order)


def step_figures(votes: Votes, k: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(agreement, vote, margin), each (n,), of one step's uniform LOO kNN `votes`."""
    return votes.own / k, votes.predicted, (votes.own - votes.best_other) / k


def point_summary(margin: np.ndarray, correct: np.ndarray):
    """Per-point figures over the steps from margin (S, n) float and correct (S, n) bool
    (vote = label): (mean margin, variability, learned_at, forgetting, never_learned)."""
    n_steps = correct.shape[0]
    # learned_at: one past the last step where the vote was wrong, if that is a real step.
    wrong_rev = ~correct[::-1]
    last_wrong = np.where(wrong_rev.any(axis=0), n_steps - 1 - np.argmax(wrong_rev, axis=0), -1)
    learned_at = np.where(last_wrong + 1 < n_steps, last_wrong + 1, -1).astype(np.int64)
    forgetting = np.count_nonzero(correct[:-1] & ~correct[1:], axis=0).astype(np.int64)
    return (margin.mean(axis=0), margin.std(axis=0), learned_at, forgetting, ~correct.any(axis=0))


@dataclasses.dataclass(frozen=True, eq=False)
class _Tally:
    """How one step's k neighbour labels group, computed once and reused by every trust
    round: slot (n, k) int16, for each neighbour the first slot of the row holding the same
    label (its class's representative); own (n,) int64, the representative of the row's own
    label, −1 when no neighbour has it."""

    slot: np.ndarray
    own: np.ndarray
    _plain: list = dataclasses.field(default_factory=list, repr=False)

    def plain_margin(self) -> np.ndarray:
        """margin() with every weight 1, made once: every history_score on these tallies
        (plain and step-weighted) starts from it."""
        if not self._plain:
            self._plain.append(self.margin(np.ones(self.slot.shape)))
        return self._plain[0]

    @classmethod
    def of(cls, neighbor_codes: np.ndarray, codes: np.ndarray) -> "_Tally":
        n, k = neighbor_codes.shape
        slot = np.empty((n, k), dtype=np.int16 if k < 2 ** 15 else np.int32)
        own = np.full(n, -1, dtype=np.int64)
        positions = np.arange(k)
        for start, stop in _blocks(n, k):
            block = neighbor_codes[start:stop]
            order = np.argsort(block, axis=1, kind="stable")  # equal labels become adjacent
            ordered = np.take_along_axis(block, order, axis=1)
            first = np.ones(ordered.shape, dtype=bool)
            first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
            begin = np.maximum.accumulate(np.where(first, positions, 0), axis=1)
            np.put_along_axis(slot[start:stop], order, np.take_along_axis(order, begin, axis=1), axis=1)
            mine = block == codes[start:stop, None]
            has = mine.any(axis=1)
            own[start:stop][has] = slot[start:stop][has, np.argmax(mine[has], axis=1)]
        return cls(slot, own)

    def margin(self, weights: np.ndarray) -> np.ndarray:
        """(W(y_i) − max_{c≠y_i} W(c)) / Σ_j w_ij per row for `weights` (n, k) > 0."""
        n, k = self.slot.shape
        out = np.empty(n)
        for start, stop in _blocks(n, k):
            b = stop - start
            w = np.asarray(weights[start:stop], dtype=np.float64)
            keys = (np.arange(b)[:, None] * k + self.slot[start:stop]).ravel()
            sums = np.bincount(keys, weights=w.ravel(), minlength=b * k).reshape(b, k)  # class sums at slots
            own_slot = self.own[start:stop]
            has = np.flatnonzero(own_slot >= 0)
            own = np.zeros(b)
            own[has] = sums[has, own_slot[has]]
            sums[has, own_slot[has]] = 0.0
            out[start:stop] = (own - sums.max(axis=1)) / w.sum(axis=1)
        return out


def _blocks(n: int, k: int):
    step = max(1, _BLOCK_ELEMENTS // max(k, 1))
    return ((start, min(n, start + step)) for start in range(0, n, step))


def weighted_margin(neighbor_codes: np.ndarray, codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(W_i(y_i) − max_{c≠y_i} W_i(c)) / Σ_j w_ij, W_i(c) = Σ_{j ∈ N_i, y_j = c} w_ij.

    neighbor_codes (n, k) int, codes (n,) int, weights (n, k) float > 0. Range [−1, 1].
    (labels.vote computes the same from a global sort of n·k keys; the per-row grouping
    here is kept across history_score's rounds: 5× faster at 10 steps × 100,000 points.)
    """
    return _Tally.of(neighbor_codes, codes).margin(weights)


def tallies_of(neighbors: Sequence[np.ndarray], codes: np.ndarray) -> list:
    """Each step's neighbour-label grouping, for history_score calls on the same history."""
    codes = np.asarray(codes, dtype=np.int64)
    return [_Tally.of(codes[nb], codes) for nb in neighbors]


def history_score(neighbors: Sequence[np.ndarray], codes: np.ndarray, *, rounds: int = TRUST_ROUNDS,
                  step_weights: Optional[np.ndarray] = None, tallies: Optional[list] = None) -> np.ndarray:
    """Label-error score of every point from its neighbourhoods at every step.

    neighbors: S arrays (n, k) int, each step's k nearest other points as positions into
    the n rows; codes (n,) int labels. With M_i the mean over steps of a point's margin:

        M_i⁰ = mean_t m_i^t (plain normalized kNN margin), trust_j = (1 + M_j) / 2,
        then `rounds` times: M_i = mean_t (W_i^t(y_i) − max_{c≠y_i} W_i^t(c)) / Σ_j w_ij^t
        with w_ij^t = trust_j + 1/k for j ∈ N_i^t, and trust updated from the new M;
        score_i = (1 − M_i) / 2.

    Range [0, 1], **higher = more likely mislabelled**, 0.5 ≈ a tie on average. Why: a
    flipped point pulls its neighbours' plain margins down, and once the network memorises
    it, it joins its wrong class and votes there. Its trust is its whole history's margin,
    low because its early neighbourhoods disagreed, so its late votes count for little:
    clean points beside errors stop looking hard, errors keep looking hard. step_weights
    (S,) ≥ 0, not all 0: the means over steps are weighted so (label_errors.py); None: equal.
    tallies: tallies_of(neighbors, codes), when several scores of one history are wanted.
    """
    codes = np.asarray(codes, dtype=np.int64)
    k = neighbors[0].shape[1]
    if tallies is None:
        tallies = tallies_of(neighbors, codes)
    w = np.ones(len(tallies)) if step_weights is None else np.asarray(step_weights, dtype=np.float64)
    mean = np.average([tally.plain_margin() for tally in tallies], axis=0, weights=w)
    for _ in range(rounds):
        trust = (1.0 + mean) / 2.0
        mean = np.average([tally.margin(trust[nb] + 1.0 / k) for tally, nb in zip(tallies, neighbors)], axis=0,
                          weights=w)
    return (1.0 - mean) / 2.0


def point_history(steps: Sequence[Optional[int]], names: Sequence[str], rows: np.ndarray, codes: np.ndarray,
                  votes: Sequence[Votes], neighbors: Sequence[np.ndarray], k: int,
                  errors: Optional["LabelErrors"] = None) -> PointHistory:
    """PointHistory of n rows labelled `codes` from each step's LOO kNN `votes` and
    `neighbors` (n, k) positions (the same rows at every step, oldest step first); its score
    is `errors`' (label_errors.analyse) when given, else history_score's."""
    if not len(steps) == len(votes) == len(neighbors) or len(steps) < 1:
        raise ValueError("%d steps, %d votes, %d neighbour arrays" % (len(steps), len(votes), len(neighbors)))
    figures = [step_figures(v, k) for v in votes]
    agreement = np.stack([f[0] for f in figures])
    predicted = np.stack([f[1] for f in figures]).astype(np.int64)
    margin = np.stack([f[2] for f in figures])
    mean, variability, learned_at, forgetting, never = point_summary(margin, predicted == codes[None, :])
    return PointHistory(tuple(steps), tuple(names), int(k), rows, codes, agreement, predicted, margin, mean,
                        variability, learned_at, forgetting, never,
                        history_score(neighbors, codes) if errors is None else errors.score, errors)
