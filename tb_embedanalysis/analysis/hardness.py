"""Hard examples: how strongly each point sits in another label's territory.

Every method maps a LabelContext (embeddings + labels + kNN graph, see clusters.py) to a
score per valid point, **higher = harder** (more likely mislabelled or ambiguous). Notation:
N_i the k nearest other points of i, y_i its label, p_i(c) = |{j ∈ N_i : y_j = c}| / k the
leave-one-out kNN class probability, c* = argmax_{c ≠ y_i} p_i(c), d(x, c_l) the distance to
label l's centroid.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

from tb_embedanalysis.analysis import labels as label_codes
from tb_embedanalysis.analysis.clusters import LabelContext
from tb_embedanalysis.analysis.reports import HardnessReport


def knn_disagreement(ctx: LabelContext) -> np.ndarray:
    """1 − p_i(y_i): the fraction of neighbours with another label. This is cleanlab's
    self-confidence score (1 − it) on out-of-sample kNN probabilities. Range [0, 1]."""
    return 1.0 - ctx.votes.own / ctx.graph.k


def knn_margin(ctx: LabelContext) -> np.ndarray:
    """(1 + p_i(c*) − p_i(y_i)) / 2: cleanlab's normalized margin on out-of-sample kNN
    probabilities, flipped so that higher = harder. Range [0, 1], 0.5 = a tied vote."""
    return (1.0 + (ctx.votes.best_other - ctx.votes.own) / ctx.graph.k) / 2.0


def centroid_margin(ctx: LabelContext) -> np.ndarray:
    """d(x_i, c_{y_i}) − min_{l ≠ y_i} d(x_i, c_l): positive when another label's centroid
    is nearer than the point's own. Range [−2, 2] for cosine, unbounded for euclidean."""
    return ctx.own_dist - np.nan_to_num(ctx.other_dist, nan=np.inf)


#: Rows cleaned_knn_margin weighs and votes at a time (analysis/estimates.py counts one block).
HARDNESS_BLOCK_ROWS = 4096


def cleaned_knn_margin(ctx: LabelContext) -> np.ndarray:
    """Normalized kNN margin with suspicious and far neighbours down-weighted.

    q_j = p_j(y_j) is neighbour j's own kNN agreement; neighbour j of point i votes with
    w_ij = (q_j + 1/k) · exp(−(d_ij / d_ik)²), d_ik the distance to i's k-th neighbour;
    P_i(c) = Σ_{j∈N_i, y_j=c} w_ij / Σ_{j∈N_i} w_ij and the score is
    (1 + P_i(c*) − P_i(y_i)) / 2 + 0.05 · tanh(m_i / (3 · median |m|)), m the centroid
    margin.
    Mislabelled neighbours agree with few of their own neighbours, so they vote weakly
    and a clean point beside a planted error does not look hard; distances and the
    centroid term break the ties of a plain vote count. Range [−0.05, 1.05], 0.5 ≈ a
    tied vote. Ranks planted label errors best in our tests (digits, pixels and logits).
    """
    k = ctx.graph.k
    trust = ctx.votes.own / k + 1.0 / k
    position = _positions(ctx)
    margin = np.empty(ctx.rows.size)
    # Row blocks, each voted on its own (rows are independent: the same numbers): no (n, k)
    # weights at once (800 MB at k = 1,000 on 100,000 rows), nor the chain's four more.
    step = HARDNESS_BLOCK_ROWS
    neighbor_codes = ctx.neighbor_codes
    for start in range(0, ctx.rows.size, step):
        sl = slice(start, start + step)
        dist = ctx.neighbor_distances(sl)
        scale = dist[:, -1:] + 1e-12
        weights = trust[position[ctx.graph.indices[ctx.rows[sl]]]] * np.exp(-(dist / scale) ** 2)
        votes = label_codes.vote(neighbor_codes[sl], ctx.codes[sl], ctx.n_labels, weights=weights)
        margin[sl] = (votes.best_other - votes.own) / votes.total
    return (1.0 + margin) / 2.0 + 0.05 * np.tanh(_scaled_centroid_margin(ctx) / 3.0)


def _positions(ctx: LabelContext) -> np.ndarray:
    position = np.full(ctx.prep.matrix.shape[0], -1, dtype=np.int64)
    position[ctx.rows] = np.arange(ctx.rows.size)
    return position


def _scaled_centroid_margin(ctx: LabelContext) -> np.ndarray:
    margin = centroid_margin(ctx)
    scale = np.median(np.abs(margin[np.isfinite(margin)])) if np.isfinite(margin).any() else 1.0
    return np.nan_to_num(margin / (scale if scale > 0 else 1.0), posinf=1e6, neginf=-1e6)


#: name → score function (higher = harder); the docstring of each gives formula and range.
HARDNESS_METHODS: Dict[str, Callable[[LabelContext], np.ndarray]] = {
    "cleaned_knn_margin": cleaned_knn_margin,
    "knn_disagreement": knn_disagreement,
    "knn_margin": knn_margin,
    "centroid_margin": centroid_margin,
}
#: The method that ranks planted label errors best in tests/test_analysis_hardness.py.
DEFAULT_HARDNESS_METHOD = "cleaned_knn_margin"


def check_method(method: Optional[str]) -> str:
    method = DEFAULT_HARDNESS_METHOD if method is None else method
    if method not in HARDNESS_METHODS:
        raise ValueError("unknown hardness method %r; methods: %s" % (method, ", ".join(HARDNESS_METHODS)))
    return method


def hard_examples(ctx: LabelContext, *, method: Optional[str] = None) -> HardnessReport:
    """Score every valid point with `method` and rank hardest first (ties by row index).

    A point counts as *hard* (hard_count in the cluster statistics) when its kNN vote
    disagrees with its label; the ranking covers every point, hardest first.
    """
    method = check_method(method)
    scores = np.asarray(HARDNESS_METHODS[method](ctx), dtype=np.float64)
    order = np.lexsort((ctx.rows, -scores))
    return HardnessReport(method, ctx.encoded.names, ctx.rows, ctx.codes, ctx.votes.predicted, scores,
                          centroid_margin(ctx), ctx.votes, order)
