"""Which steps matter (issue 26, item 3): where memorisation starts, and whether the logged
steps let the history see label errors at all.

A network first learns what most labels agree on, then memorises the rest: the likely label
errors (label_errors: the top of the score, as many as the estimated count) start to agree
with their given labels. Per step, `suspect_fit` is the fraction of them whose prediction
(kNN vote, and with logits their argmax) equals the given label and `trusted_fit` the same
for every other point; their difference is the step's weight. **Memorisation starts** at
the first step where suspect_fit ≥ ONSET_FIT (half the likely errors now agree with labels
their early history contradicted). The verdict then says whether the history can help:

* `too_few`: fewer than MIN_STEPS logged steps;
* `too_late`: memorisation had started by the first or second logged step, so at most one
  step saw the errors before the network fitted them;
* `not_memorised`: no step reaches ONSET_FIT (still useful: the last steps carry evidence);
* `ok`: at least two steps before the onset.

The suggested schedule (also in the writer's docs): doubling steps that put at least
STEPS_BEFORE steps before the onset (or before the first logged step, when too late) and end
at the last logged step.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence

import numpy as np

ONSET_FIT = 0.5
MIN_STEPS = 4
STEPS_BEFORE = 4
#: At most this many suggested steps (doubling from the first: 2^11 × the first at most).
MAX_SUGGESTED = 12


@dataclasses.dataclass(frozen=True)
class Memorisation:
    """onset: the step memorisation starts at (None: not seen); verdict and message (see
    the module docstring); suspect_fit / trusted_fit / weights: per step, as lists;
    suggested: the steps to log next time (empty when the verdict is ok)."""

    onset: Optional[int]
    verdict: str
    message: str
    suspect_fit: List[float]
    trusted_fit: List[float]
    weights: List[float]
    suggested: List[int]


def _doubling(first: int, last: int) -> List[int]:
    steps: List[int] = []
    step = max(1, int(first))
    while step < last and len(steps) < MAX_SUGGESTED - 1:
        steps.append(step)
        step *= 2
    return steps + [int(last)]


def detect(steps: Sequence[int], fitted: np.ndarray, suspects: np.ndarray, weights: np.ndarray) -> Memorisation:
    """Memorisation of a history with numbered `steps` (S, oldest first), fitted (S, n) in
    [0, 1] (label_errors.StepEvidence.fitted), suspects (n,) bool, step weights (S,)."""
    steps = [int(s) for s in steps]
    n_steps = len(steps)
    if suspects.any():
        suspect_fit = fitted[:, suspects].mean(axis=1)
    else:
        suspect_fit = np.zeros(n_steps)
    trusted_fit = fitted[:, ~suspects].mean(axis=1) if (~suspects).any() else np.zeros(n_steps)
    reached = np.flatnonzero(suspect_fit >= ONSET_FIT) if suspects.any() else np.array([], dtype=np.int64)
    onset = int(reached[0]) if reached.size else None
    last = steps[-1]
    if n_steps < MIN_STEPS:
        verdict = "too_few"
        message = ("only %d steps were logged; the history needs at least %d, from early in training on"
                   % (n_steps, MIN_STEPS))
    elif not suspects.any():
        verdict, onset = "no_errors", None
        message = "the history estimates no label errors, so there is no memorisation to see"
    elif onset is not None and onset <= 1:
        verdict = "too_late"
        message = ("the network had memorised most likely label errors by step %d, the %s logged step: the history "
                   "saw them for at most one step; log earlier steps" % (steps[onset], "first" if onset == 0 else "second"))
    elif onset is None:
        verdict = "not_memorised"
        message = ("the likely label errors still disagree with their labels at the last step (%d); every step "
                   "carries evidence" % last)
    else:
        verdict = "ok"
        message = ("memorisation starts at step %d: from there most likely label errors agree with their given "
                   "label; the %d steps before it carry the evidence" % (steps[onset], onset))
    suggested: List[int] = []
    if verdict in ("too_few", "too_late"):
        anchor = steps[onset] if onset is not None and onset > 0 else steps[0]
        suggested = _doubling(max(1, anchor // 2 ** STEPS_BEFORE), last)
        message += "; for example at steps %s" % ", ".join(str(s) for s in suggested)
    return Memorisation(None if onset is None else steps[onset], verdict, message,
                        [float(v) for v in suspect_fit], [float(v) for v in trusted_fit],
                        [float(v) for v in weights], suggested)
