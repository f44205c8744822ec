"""The certified search's bound (certified.py): how small a ranking key any member of a
k-means cell (partition.py) can have for a query, so that a cell whose bound is above a
query's k-th key found so far need not be searched.

For a query q and a cell j with centroid c_j and radius r_j, every member x satisfies, in the
working space W (euclidean: x itself; cosine: x/‖x‖),

    ‖w_x − w_q‖ ≥ L_j(q) = max(0, ‖w_q − c_j‖ − r_j)

which bounds the ranking key from below (neighbors.py: smaller key = nearer):

    euclidean  key = ‖x‖² − 2 x·q = ‖x − q‖² − ‖q‖²     ≥ L_j² − ‖q‖²         − E_j(q)
    cosine     key = −(x·q)/‖x‖   = −(1 − ‖û_x − û_q‖²/2) ‖q‖ ≥ −(1 − L_j²/2) ‖q‖ − E(q)

(all in W, the rows keys are computed on: prep.work). E bounds the rounding of the key as
numpy computes it in float32 (u = eps/2, γ = (D + 2) u; a dot product of any summation order
errs by ≤ γ ‖x‖ ‖q‖):
euclidean E_j(q) = 4γ (R_j + ‖q‖)², R_j = max ‖x‖ in cell j; cosine E(q) = 4γ ‖q‖; both plus a
float64 allowance of 1e-9 relative. certified.py compares the bound with the k-th smallest key
found so far: above it, no member of cell j can be among the k nearest.
"""

from __future__ import annotations

import numpy as np

from tb_embedanalysis.analysis.neighbors import PreparedMatrix
from tb_embedanalysis.analysis.partition import Partition


def rounding_factor(prep: PreparedMatrix) -> float:
    """4γ plus the float64 allowance (γ = (D + 2) u, u = eps/2 of the keys' dtype): E's factor."""
    eps = float(np.finfo(prep.work.dtype).eps) / 2
    return 4 * (prep.matrix.shape[1] + 2) * eps + 1e-9


def key_lower_bounds(prep: PreparedMatrix, part: Partition, queries: np.ndarray, gamma: float) -> np.ndarray:
    """(m, C) float64: no member of cell j has a computed key below [i, j] for query i
    (gamma: rounding_factor(prep))."""
    q = queries.astype(np.float64)
    qnorm = np.sqrt(np.einsum("ij,ij->i", q, q))
    if prep.metric == "cosine":
        w = q / np.where(qnorm > 0, qnorm, 1.0)[:, None]
    else:
        w = q
    wsq = np.einsum("ij,ij->i", w, w)
    dist = np.sqrt(np.maximum(wsq[:, None] + part.centroid_sq[None, :] - 2.0 * (w @ part.centroids.T), 0.0))
    lower = dist - part.radii
    if prep.metric == "cosine":
        lower -= 1e-9  # float64 rounding of the normalised rows, centroids and radii
        np.maximum(lower, 0.0, out=lower)
        bound = -(1.0 - 0.5 * lower * lower) * qnorm[:, None] - gamma * qnorm[:, None]
        bound[qnorm == 0] = -np.inf  # every key is 0: nothing to prove, see certified.py's _block
        return bound
    span = part.max_norms[None, :] + qnorm[:, None]
    lower -= 1e-9 * span
    np.maximum(lower, 0.0, out=lower)
    return lower * lower - (qnorm * qnorm)[:, None] - gamma * span * span
