"""Label errors from everything a training history logs (issue 26): which points, read
from the neighbourhoods at every step and, when the embedding is the logits, from the
logits too.

Inputs, for the n analysed rows at S steps (oldest first): each step's k nearest other
points (positions), the given label codes y, and optionally the logits z (S, n, L), whose
column c is label code c. A point's evidence at step t:

* kNN margin  m_i^t (history.py): its label's share of the vote minus the best other's;
* logit margin  z_i^t(y_i) − max_{c≠y_i} z_i^t(c) (AUM's, Pleiss et al. 2020, per step);
(Dataset Cartography's confidence, softmax(z_i^t)(y_i), was measured as a component and
left out: see combined_score.)

The score (combined_score) ranks by the kNN history over weighted steps and, with logits,
by the logit margin at the step that best confirms the neighbourhoods' suspects and over all
steps (logit_view), each view weighted by how few of the points the history trusts it ranks
among its suspects; the recall promised at the cut is the views' agreement there with logits
(recall_promise.promised_recall), without them the flags' share widened by the suspects'
agreement with their labels (recall_promise.flag_recall); the count (label_counts.py) and memorisation.py use the step weights.

**Step weights.** A step carries evidence while the network fits the points it trusts but
not the suspects: before that nothing is learned, after it (memorisation) every point agrees
with its label. With suspects = the top `m` of a first, equally weighted ranking (m the
estimated number of errors, label_counts.py), w_t = max(0, a_t(trusted) − a_t(suspects)),
a the fraction whose prediction (kNN vote, and the logits' argmax when there are logits)
equals the given label. The score and the count are then recomputed with those weights.
All of it is a pure function of the logged history: no retraining, the same on every run.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.analysis.history import history_score, tallies_of
from tb_embedanalysis.analysis.label_counts import ErrorCount, StepJoints
from tb_embedanalysis.analysis.recall_promise import flag_recall, promised_recall, top

#: Logits are used when their width is the number of labels and their last step's argmax
#: agrees with the given label on more than this fraction of the rows (column c = code c
#: then evidently holds: a wrong column order agrees with almost none).
LOGITS_AGREEMENT = 0.5
METHOD_KNN = "history (kNN margins over weighted steps)"
METHOD_LOGITS = ("history (kNN margins over weighted steps and logit margins at the step that best confirms "
                 "them and over all steps, by rank, each view weighted by how few trusted points it ranks among the "
                 "suspects)")


@dataclasses.dataclass(frozen=True, eq=False)
class StepEvidence:
    """Per step and point: fitted (S, n) float, the prediction equals the given label (kNN
    vote; with logits, the kNN vote and the logits' argmax both count, as halves);
    logit_margin (S, n) float64, or None without logits."""

    fitted: np.ndarray
    logit_margin: Optional[np.ndarray]


def usable_logits(vectors: Sequence[np.ndarray], codes: np.ndarray, n_labels: int) -> bool:
    """Whether the steps' vectors (n, D) are logits over the labels (see LOGITS_AGREEMENT)."""
    last = np.asarray(vectors[-1])
    if last.ndim != 2 or last.shape[1] != n_labels or n_labels < 2:
        return False
    return float(np.mean(np.argmax(last, axis=1) == codes)) > LOGITS_AGREEMENT


def step_evidence(predicted: np.ndarray, codes: np.ndarray, logits: Optional[Sequence[np.ndarray]]) -> StepEvidence:
    """StepEvidence from the kNN votes predicted (S, n) and, when not None, logits (S of (n, L))."""
    fitted = (predicted == codes[None, :]).astype(np.float64)
    if logits is None:
        return StepEvidence(fitted, None)
    n = codes.size
    margins = []
    for z in logits:
        z = np.asarray(z)
        if z.dtype not in (np.float32, np.float64):
            z = z.astype(np.float64)
        # max and argmax are exact in the logged dtype: only the two (n,) terms become float64
        # (the same margins, bit for bit, as converting all of z first, at half the copying)
        own = z[np.arange(n), codes].astype(np.float64)
        other = z.copy()
        other[np.arange(n), codes] = -np.inf
        margins.append(own - other.max(axis=1).astype(np.float64))
        fitted[len(margins) - 1] = (fitted[len(margins) - 1] + (np.argmax(z, axis=1) == codes)) / 2.0
    return StepEvidence(fitted, np.stack(margins))


def step_weights(fitted: np.ndarray, suspects: np.ndarray) -> np.ndarray:
    """w_t = max(0, mean fitted of the trusted rows − of the suspects), (S,) float64, for
    fitted (S, n) in [0, 1] and suspects (n,) bool. All steps weigh 1 when none separates
    (or there are no suspects or no trusted rows): nothing to prefer one by."""
    if not suspects.any() or suspects.all():
        return np.ones(fitted.shape[0])
    weights = np.maximum(0.0, fitted[:, ~suspects].mean(axis=1) - fitted[:, suspects].mean(axis=1))
    return weights if weights.sum() > 0 else np.ones(fitted.shape[0])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Percentile ranks in (0, 1], ties averaged (scipy's rankdata: a library, not ours)."""
    from scipy.stats import rankdata

    return rankdata(values) / values.size


def _separation(ranks: np.ndarray, suspects: np.ndarray) -> float:
    """AUROC of `ranks` (n,) (ties averaged) at putting the suspects (n,) bool above the
    rest, from the rank sum (Mann-Whitney): 0.5 when it does not separate them."""
    m = int(suspects.sum())
    if m == 0 or m == ranks.size:
        return 0.5
    total = float(np.sum(ranks[suspects]) * ranks.size)
    return (total - m * (m + 1) / 2.0) / (m * (ranks.size - m))


def _misfit(ranks: np.ndarray, suspects: np.ndarray) -> float:
    """The share of a view's top m (ranks (n,), m = the suspects' number) taken by trusted
    rows (not `suspects`), at least one row's worth (a view whose top m is exactly the
    suspects is not given infinite weight); 1 without suspects."""
    m = int(suspects.sum())
    if m == 0:
        return 1.0
    return max(int(np.sum(top(ranks, m) & ~suspects)), 1) / m


def view_weight(knn_ranks: np.ndarray, logit_ranks: np.ndarray, suspects: np.ndarray) -> float:
    """α = e_k⁻² / (e_k⁻² + e_l⁻²) in (0, 1), the kNN view's weight, e_v = _misfit of the
    view's ranks (n,) against the suspects (n,) bool: inverse-variance weights, the view
    that puts fewer trusted rows among its top m is the less noisy one."""
    knn_noise, logit_noise = _misfit(knn_ranks, suspects) ** -2, _misfit(logit_ranks, suspects) ** -2
    return knn_noise / (knn_noise + logit_noise)


def logit_view(logit_margin: np.ndarray, knn_top: np.ndarray) -> np.ndarray:
    """The logit view (n,) in (0, 1], higher = more suspect, of the margins (S, n):
    (rank(−margin at t*) + rank(−mean margin over the steps)) / 2, t* the step whose ranks
    best separate `knn_top` (n,) bool (_separation). Why the mean too (AUM's own score):
    on uniform flips AUM was the best anchor, one step is noisier than the mean of all, and
    t* alone lost to AUM by 0.0001 on held-out digits; on the 176 tuning runs this raised the
    smallest margin over every anchor in both halves of the seeds (bench/README.md)."""
    step_ranks = [_ranks(-margin) for margin in logit_margin]
    best = int(np.argmax([_separation(r, knn_top) for r in step_ranks]))
    return (step_ranks[best] + _ranks(-logit_margin.mean(axis=0))) / 2.0


def combined_score(neighbors: Sequence[np.ndarray], codes: np.ndarray, evidence: StepEvidence,
                   weights: np.ndarray, tallies: Optional[list] = None, *,
                   suspects: Optional[np.ndarray] = None, knn_plain: Optional[np.ndarray] = None) -> np.ndarray:
    """Label-error score (n,) float64, **higher = more likely mislabelled**.

    Without logits: the trust-weighted kNN history score over the steps weighted by
    `weights` (history.history_score), range [0, 1]. With logits, in percentile ranks
    (0, 1], ties sharing their mean rank:

        score = α rank(kNN history over weighted steps) + (1 − α) logit_view
        logit_view = (rank(−logit margin at t*) + rank(−mean logit margin)) / 2

    * t* (the logit view's step): the step whose logit margins best separate the top m of
      the plain (equally weighted) kNN history score, m = the suspects' number: the other
      view picks the step, so the logits are read where they confirm the neighbourhoods
      and not where they only agree with themselves (after memorisation every margin is
      positive; before learning none carries anything).
    * α = e_k⁻² / (e_k⁻² + e_l⁻²) (view_weight), e_v the share of the view's own top m
      (as ranked, the very quantity combined) taken by rows the history trusts (not
      `suspects`): inverse-variance weights, the view that contradicts fewer of the trusted
      points is the less noisy one. (Each view's prediction, vote or argmax, disagreeing
      with trusted labels was the misfit before: a proxy of what the ranks say, it gave
      the logits as much weight on digits with confusable flips, where they add nothing,
      as on classification, where they add most.)

    Why: on the protocol's ten tuning seeds (tests/label_error_protocol.py) a fixed rank
    mean of the kNN history and AUM was below the kNN history alone on digits with
    confusable flips and below the best single step on classification; AUM's mean over
    every step is dominated by the memorised late steps, whose logits are largest. This
    rule was the best of the principled ones measured there (bench/README.md).
    `suspects` (n,) bool and `knn_plain` (the equally weighted kNN history score) are
    needed with logits.
    """
    weighted = history_score(neighbors, codes, step_weights=weights, tallies=tallies)
    if evidence.logit_margin is None:
        return weighted
    views = _views(weighted, evidence.logit_margin, suspects, knn_plain)
    return _mixed(views, suspects if suspects is not None else np.zeros(weighted.size, dtype=bool))


def _views(weighted: np.ndarray, logit_margin: np.ndarray, suspects: Optional[np.ndarray],
           knn_plain: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """(kNN ranks, logit_view) (n,) each, the two views combined_score weighs."""
    if suspects is None or knn_plain is None:
        raise ValueError("with logits the score needs the suspects and the plain kNN history score")
    return _ranks(weighted), logit_view(logit_margin, top(knn_plain, int(suspects.sum())))


def _mixed(views: Tuple[np.ndarray, np.ndarray], suspects: np.ndarray) -> np.ndarray:
    """α kNN ranks + (1 − α) logit view, α = view_weight of the two against the suspects."""
    alpha = view_weight(views[0], views[1], suspects)
    return alpha * views[0] + (1.0 - alpha) * views[1]


#: Rounds of (suspects → step weights → score and count); 2: tuned on the protocol's tuning seeds.
WEIGHT_ROUNDS = 2


@dataclasses.dataclass(frozen=True, eq=False)
class LabelErrors:
    """What the history says about label errors: method (its name, logits or not), score
    (n,) (combined_score), weights (S,) the final step weights, fitted (S, n) the step
    evidence's fitted, count (label_counts.ErrorCount), suspects (n,) bool the top
    round(count) of the score the weights were last computed from; found (low, high) the
    share of the errors that the score's top round(count) should hold (promised_recall with
    logits, flag_recall without)."""

    method: str
    score: np.ndarray
    weights: np.ndarray
    fitted: np.ndarray
    count: ErrorCount
    suspects: np.ndarray
    found: Tuple[float, float]


def analyse(neighbors: Sequence[np.ndarray], codes: np.ndarray, n_labels: int, predicted: np.ndarray,
            vectors: Optional[Sequence[np.ndarray]] = None, *, rounds: int = WEIGHT_ROUNDS) -> LabelErrors:
    """LabelErrors of n rows labelled `codes` (n,) from each step's neighbours (n, k)
    positions, kNN votes predicted (S, n) and the steps' vectors (n, D) (used as logits
    when usable_logits says so). Equal step weights first, then `rounds` times: suspects =
    the top round(estimated count) of the score, step_weights from them, score and count again."""
    codes = np.asarray(codes, dtype=np.int64)
    logits = vectors if vectors is not None and usable_logits(vectors, codes, n_labels) else None
    evidence = step_evidence(predicted, codes, logits)
    tallies = tallies_of(neighbors, codes)  # built once for every round's score and the joints
    joints = StepJoints(neighbors, codes, n_labels, [tally.slot for tally in tallies])
    weights = np.ones(len(neighbors))
    plain = history_score(neighbors, codes, tallies=tallies)
    if evidence.logit_margin is None:
        score = plain
    else:  # the first ranking: kNN history and AUM by rank (equal steps, equal views)
        score = (_ranks(plain) + _ranks(-evidence.logit_margin.mean(axis=0))) / 2.0
    suspects = top(score, int(round(joints.estimate(weights))))
    for _ in range(rounds):
        weights = step_weights(evidence.fitted, suspects)
        if logits is None:
            score = combined_score(neighbors, codes, evidence, weights, tallies)
        suspects = top(score, int(round(joints.estimate(weights))))
    views = None
    if evidence.logit_margin is not None:  # the final score, from the last round's weights and suspects
        views = _views(history_score(neighbors, codes, step_weights=weights, tallies=tallies),
                       evidence.logit_margin, suspects, plain)
        score = _mixed(views, suspects)
    order = np.lexsort((np.arange(score.size), -score))  # PointHistory.order's: by score, then row
    count = joints.count(weights, trusted=~suspects).widened(order)
    cut = int(round(count.count))
    found = (flag_recall(count, order, cut, evidence.fitted, weights, suspects) if views is None
             else promised_recall(*views, cut))
    return LabelErrors(METHOD_LOGITS if logits is not None else METHOD_KNN, score, weights, evidence.fitted,
                       count, suspects, found)
