"""Confidence intervals for figures estimated from a random sample of rows.

One kind of interval, the **Wilson score interval** (95 %), for every figure the sample
estimate gives (estimate_sample.py):

* a proportion: x successes among n sampled rows (kNN accuracy; per label, recall among the
  label's sampled rows and precision among the rows voted for it, each a simple random
  sample of its subpopulation once its size is given; a confusion cell among its row's);
* the mean of values in [0, 1] (per-label purity, the mean share of same-label neighbours):
  Var(X) ≤ μ(1 − μ) for any X in [0, 1], so the Wilson interval with n = the rows averaged
  is at least as wide as a normal interval with the true variance, and it stays wide at
  p̂ = 0 or 1 where a t-interval on a sample with no spread would collapse to a point.

Wilson rather than the normal (Wald) interval: Wald's coverage falls far below 95 % near
0 and 1, where kNN recall of good labels sits. The formula is scipy's
`binomtest(x, n).proportion_ci(method="wilson")` (tests/test_estimate_sample.py checks it
against scipy); it is written out here because scipy's takes one proportion per call and
a confusion matrix of 1,000 labels has a million cells.

Sampling is without replacement from a finite population; the intervals ignore the finite
population correction, which only makes them wider (conservative) when the sample is a
large share of the rows.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

#: 95 %: the standard normal's 97.5 % quantile.
Z95 = 1.959963984540054
NAME = "wilson-95"


def wilson(successes, trials, *, z: float = Z95) -> Tuple[np.ndarray, np.ndarray]:
    """(low, high) float64 arrays: the Wilson score interval of successes / trials, elementwise.
    `successes` may be fractional (a sum of values in [0, 1]). Where trials = 0: (NaN, NaN),
    nothing is known."""
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z / (1 + z2 / n) * np.sqrt(np.maximum(p * (1 - p) / n + z2 / (4 * n * n), 0.0))
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    # Wilson's interval holds the point estimate; rounding must not push it out at p̂ = 0 or 1.
    low = np.where(x <= 0, 0.0, low)
    high = np.where(x >= n, 1.0, high)
    empty = ~(n > 0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)
