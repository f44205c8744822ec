"""The recall promised at the cut of a label-error ranking ("reviewing the top N should find
about X %"): with logits from how much the score's two views agree there (promised_recall),
without them from the steps' flags widened by the suspects' agreement with their labels
(flag_recall). label_errors.analyse reads it; the constants were chosen on half the tuning
seeds and checked on the other half and on held-out seeds (bench/README.md)."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from tb_embedanalysis.analysis.label_counts import ErrorCount

#: The promised recall at the cut from the two views' agreement g (promised_recall):
#: [g − a − b (1 − g), g + c], (a, b, c) chosen on half the tuning seeds (100-109), the same
#: on the other half (bench/README.md).
AGREEMENT_RANGE = (0.04, 0.4, 0.01)
#: The promised recall without logits (flag_recall): [h − a − b s, h + c], (a, b, c) chosen on
#: seeds 100-109 and checked on the other fourteen tuning seeds (bench/README.md, ninth round).
FLAG_RANGE = (0.03, 1.15, 0.08)


def top(score: np.ndarray, m: int) -> np.ndarray:
    """(n,) bool: the m highest scores (ties by row position, stable)."""
    chosen = np.zeros(score.size, dtype=bool)
    chosen[np.argsort(-score, kind="stable")[:max(0, min(m, score.size))]] = True
    return chosen


def promised_recall(knn_ranks: np.ndarray, logit_ranks: np.ndarray, cut: int) -> Tuple[float, float]:
    """(low, high): the share of the errors that the score's top `cut` should hold, from the
    agreement g of the two views it combines (n,) each: the share of the cut that both put
    in their own top `cut`; [g − a − b (1 − g), g + c] (AGREEMENT_RANGE) within [0, 1]. Why:
    a point both the neighbourhoods and the logits rank on top is almost always an error,
    and the views disagree more where the score misses more; g tracked the found recall
    within −0.15 … +0.03 on the 176 tuning runs, where the flags' share (the range main
    had then) was 0.13 too high on classification / confusable and 0.10 too low on
    classification / uniform (its range held the found recall on 73 of 176, this on 164)."""
    if cut <= 0:
        return 0.0, 0.0
    agree = float(np.sum(top(knn_ranks, cut) & top(logit_ranks, cut))) / cut
    below, slope, above = AGREEMENT_RANGE
    return max(0.0, agree - below - slope * (1.0 - agree)), min(1.0, agree + above)


def flag_recall(count: ErrorCount, order: np.ndarray, cut: int, fitted: np.ndarray, weights: np.ndarray,
                suspects: np.ndarray) -> Tuple[float, float]:
    """(low, high) without logits: the share of the errors the first `cut` rows of `order`
    should hold, [h − a − b s, h + c] (FLAG_RANGE) within [0, 1]; h = count.expected_found
    (the steps' flags the cut holds), s = the suspects' agreement with their given labels,
    Σ_t w_t mean(fitted_t over the suspects) / Σ w (fitted (S, n), weights (S,), suspects
    (n,) bool). Why s: a suspect its neighbours still vote for is a boundary point as often
    as an error, so the more the suspects agree with their labels, the more errors sit below
    the cut where no flag sees them: the flags alone promised 0.17-0.28 too much on
    classification / confusable, where s is 0.15-0.22 (digits 0.02-0.06; bench/README.md)."""
    high = count.expected_found(order, cut)
    if high <= 0:
        return 0.0, 0.0
    agree = float(np.dot(weights, fitted[:, suspects].mean(axis=1)) / np.sum(weights)) if suspects.any() else 0.0
    below, slope, above = FLAG_RANGE
    return max(0.0, high - below - slope * agree), min(1.0, high + above)
