"""Exact answers from proposed candidates: float64 distances from the stored rows, and a proof
that no row outside the candidates can rank, else a float64 scan.

The oracle every search answers like: for a query q (a stored row, or a free vector) the
distances of all valid rows are computed in float64 from the stored values,

    euclidean  d(x, q) = √Σ (x_i − q_i)²
    cosine     d(x, q) = 1 − Σ x_i q_i / (√Σ x_i² √Σ q_i²)   (0 norm: cos = 0), clipped to [0, 2]

and the k smallest are taken by (distance, row index). Stored values are float32, so these
float64 sums never overflow (|x| ≤ 3.4e38).

The fast searches rank by float32 keys on the working matrix W (frame.py) and return the
K' > k best rows by key, S. Here S's exact distances give the exact top k within S; that is
the true top k when every row outside S is provably worse than the k-th. A row x outside
S has key(x) ≥ key(K'-th) ≥ max_{s∈S} (true key(s) − E(s)), with E the rounding bound of a
float32 key (below); a row that would rank (d(x, q) ≤ d_k, the tie included) has a key of
at most T = true key at d_k + E. So L = max_{s∈S} (key(s) − E(s)) > T proves S holds the
answer. In W units, u = 2^-24, γ = D u / (1 − D u):

* euclidean, key = ‖w‖² − 2 w·q (+ ‖q‖², dropped on both sides): the float32 key errs by at
  most (γ + 2u)(‖w‖ + ‖q‖)² + D·2^-126 (underflow), and W's own rounding moves a distance
  by at most 1.01 u (‖w‖ + ‖q‖). A row that ranks has ‖w‖ ≤ δ_k + 1.02‖q‖ (δ = 2^e d).
* cosine, key = −(w·q)/‖w‖ = −‖q‖ cos: errs by at most ‖q‖ (1.5 γ + 6u) (the product, the
  norm, its square root and reciprocal, the final product), so the test is
  cos_k − min_{s∈S} cos_s > 2 (1.5 γ + 6u) + 2.02 (1.5 D + 6) U64, the last term the float64
  cosines' own rounding (U64 = 2^-53).

Euclidean allows 1e-12 relative for float64's own rounding. A query that fails the test (a
near-tie beyond float32, more duplicates than K', rows too tiny for float32) is searched
again with a larger K', then by scan(): the oracle itself, in bounded blocks.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from tb_embedanalysis.analysis import numba_cache, tie_order

U32 = 2.0 ** -24
U64 = 2.0 ** -53
#: Rows (queries × candidates × D) of float64 work per block: 2**21 elements = 16 MB.
BLOCK_ELEMENTS = 1 << 21
#: distances() takes the compiled kernel even cold (numba's import and compile, ~1 CPU-s and
#: ~100 MB of LLVM's while it compiles) against this many stored rows with this many candidates
#: a query or more: a graph at k ≥ ~50 (at k = 1,000 numpy's distances were 45 of 165 s, the
#: kernel's 20); at k = 10 the compile cost more than it saved in a cold pass.
KERNEL_COLD_MIN_ROWS = 20_000
KERNEL_COLD_MIN_CANDIDATES = 64


def distances(source: np.ndarray, metric: str, queries: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """(m, K) float64 oracle distances between `queries` (m, D) stored-space values and the
    stored rows `cand` (m, K). Summed along contiguous rows, so a pair gets the same bits
    whichever block it is computed in; pair_kernel's compiled twin gives the same bits
    and takes over where its compile pays (KERNEL_COLD_MIN_*) or is done already."""
    m, kk = cand.shape
    d = source.shape[1]
    out = np.empty((m, kk))
    if m and kk and _kernel_pays(source.shape[0], kk):
        from tb_embedanalysis.analysis import pair_kernel  # numba: imported when it pays

        pair_kernel.distances(source, metric == "euclidean", np.ascontiguousarray(queries),
                              np.ascontiguousarray(cand, dtype=np.int64), out)
        return out
    step = max(1, BLOCK_ELEMENTS // max(1, kk * d))
    for start in range(0, m, step):
        x = source[cand[start:start + step]].astype(np.float64)  # (b, K, D)
        q = queries[start:start + step].astype(np.float64)[:, None, :]
        out[start:start + step] = _pair_distances(x, q, metric)
    return out


def _kernel_pays(n_rows: int, width: int) -> bool:
    """Whether exact.distances takes pair_kernel: for `width` candidates a query against n_rows
    stored rows (KERNEL_COLD_MIN_*), or once it is compiled in this process (numba_cache.compiled,
    without importing numba)."""
    if n_rows >= KERNEL_COLD_MIN_ROWS and width >= KERNEL_COLD_MIN_CANDIDATES:
        return True
    return numba_cache.compiled(__name__.rpartition(".")[0] + ".pair_kernel")


def _pair_distances(x: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Oracle distances between x (..., D) and q (broadcastable), float64."""
    if metric == "euclidean":
        diff = x - q
        return np.sqrt((diff * diff).sum(axis=-1))
    dots = (x * q).sum(axis=-1)
    norms = np.sqrt((x * x).sum(axis=-1)) * np.sqrt((q * q).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    return np.clip(1.0 - cos, 0.0, 2.0)


def _order(idx: np.ndarray, dist: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """The k best per row by (distance, index)."""
    order = tie_order.first_k(dist, idx, k)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1)


def refine(prep, queries: np.ndarray, cand: np.ndarray, k: int, complete: np.ndarray, *, unit: float = U32
           ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact top k of each query among its candidates, and whether that is provably the
    top k over all valid rows.

    prep: neighbors.PreparedMatrix. queries: (m, D) stored-space values. cand: (m, K') int,
    each row a set of K' rows with the smallest keys (ties either way), the query's own row
    left out, K' > k; keys computed in float32 on W (unit = U32), or in float64 on the
    translated rows (unit = U64, propose64). complete: (m,) bool, the candidates are every
    valid row but the query's own (nothing to prove).
    Returns (indices (m, k) int64, distances (m, k) float64, proven (m,) bool).
    """
    cand = np.asarray(cand, dtype=np.int64)
    dist = distances(prep.matrix, prep.metric, queries, cand)
    idx, best = _order(cand, dist, k)
    d = prep.matrix.shape[1]
    gamma = d * unit / (1 - d * unit)
    if prep.metric == "cosine":
        cos_k = 1.0 - best[:, -1]
        cos_min = 1.0 - dist.max(axis=1)
        # clipping at [0, 2] only makes distances larger: harmless for cos_min, and d_k
        # clipped from below at 0 means cos_k is at most 1, as it is.
        # both sides' keys err by ‖q‖(1.5γ + 6u); the float64 cosines themselves by (1.5D + 6)·U64
        proven = cos_k - cos_min > 2 * (1.5 * gamma + 6 * unit) + 2.02 * (1.5 * d + 6) * U64
        proven |= ~queries.any(axis=1)  # q = 0: every row is at distance exactly 1; ties by index
        return idx, best, proven | complete
    frame = prep.frame
    scale = frame.scale
    # ‖w‖ of candidates in W units from key_scale = fl32(‖w‖²) (relative error ≤ γ32), and
    # of queries from the stored rows; the float64 keys' rows differ from W's by ≤ u32 ‖w‖.
    g32 = d * U32 / (1 - d * U32)
    wn = np.sqrt(prep.key_scale[cand].astype(np.float64) / (1 - g32)) * (1 + 1e-6)
    qn = scale * _offset_norms(queries, frame.offset)[:, None] * (1 + 1e-6)
    err = gamma + 2 * unit
    tiny = (d + 4) * (2.0 ** -126 if unit == U32 else 2.0 ** -1022)
    span = wn + qn
    rho_lo = np.maximum(0.0, scale * dist - 1.01 * unit * span)
    lower = (rho_lo * rho_lo - (err + 1e-12) * span * span - tiny).max(axis=1)
    delta_k = scale * best[:, -1:]
    reach = (delta_k + 1.02 * qn) * (1 + 1e-6) + qn
    rho_hi = delta_k + 1.01 * unit * reach
    top = (rho_hi * rho_hi + (err + 1e-12) * reach * reach + tiny)[:, 0]
    return idx, best, (lower > top) | complete


def gap_proven(prep, wq: np.ndarray, keys: np.ndarray, k: int) -> np.ndarray:
    """(m,) bool: the first k of each query's candidates are its exact top k as a set, proven
    from the float32 keys alone (cosine; euclidean: all False, refine proves those).

    wq: (m, D) W-space queries; keys: (m, K') float32 ascending, K' > k, every row outside
    the candidates keyed ≥ keys[:, -1] ≥ keys[:, k]. Each key errs by at most ‖q‖ (1.5 γ + 6u)
    (module docstring), so a gap keys[:, k] − keys[:, k−1] above twice that, plus the float64
    cosines' own rounding 2.02 (1.5 D + 6) U64 ‖q‖, puts every row ranked ≤ k by key strictly
    before every other row in the oracle's float64 order: refine's proof without computing
    the other K' − k distances (its float64 re-rank of K' = 15 was 15–30 % of a graph on
    clustered data). A zero query (all keys 0), NaN or +inf keys never pass."""
    m = keys.shape[0]
    if prep.metric != "cosine":
        return np.zeros(m, dtype=bool)
    d = wq.shape[1]
    gamma = d * U32 / (1 - d * U32)
    w = wq.astype(np.float64)
    qn = np.sqrt(np.einsum("ij,ij->i", w, w))
    margin = qn * (2 * (1.5 * gamma + 6 * U32) + 2.02 * (1.5 * d + 6) * U64) * (1 + 1e-6)
    with np.errstate(invalid="ignore"):
        gap = keys[:, k].astype(np.float64) - keys[:, k - 1].astype(np.float64)
        return (gap > margin) & (qn > 0)


def top_of(prep, queries: np.ndarray, cand: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """(indices (m, k) int64, distances (m, k) float64): the candidates `cand` (m, k), which
    are the top k as a set, ordered by (oracle distance, row)."""
    cand = np.asarray(cand, dtype=np.int64)
    return _order(cand, distances(prep.matrix, prep.metric, queries, cand), k)


def _offset_norms(x: np.ndarray, offset) -> np.ndarray:
    """‖x − offset‖ (...,) float64 of rows x (..., D)."""
    x = x.astype(np.float64)
    if offset is not None:
        x -= offset
    return np.sqrt((x * x).sum(axis=-1))


def _work64(prep, x: np.ndarray) -> np.ndarray:
    """Rows x (m, D) in the float64 working space: euclidean (x − c) 2^e, cosine x."""
    x = x.astype(np.float64)
    if prep.metric == "euclidean":
        if prep.frame.offset is not None:
            x -= prep.frame.offset
        x *= prep.frame.scale
    return x


def propose64(prep, queries: np.ndarray, kk: int, exclude: np.ndarray) -> np.ndarray:
    """(m, kk) int64: for each stored-space query (m, D), kk valid rows with the smallest
    float64 keys (euclidean ‖w‖² − 2 w·q on the translated rows, cosine −(x·q)/‖x‖), its
    `exclude` row left out: the candidates refine(unit=U64) can prove where float32's
    resolution was not enough (cosine on rows that share a large offset)."""
    m = queries.shape[0]
    rows = np.flatnonzero(prep.valid)
    q = _work64(prep, queries)
    best_idx = np.full((m, kk), -1, dtype=np.int64)
    best_key = np.full((m, kk), np.inf)
    step = max(kk, BLOCK_ELEMENTS // max(1, m, prep.matrix.shape[1]))
    for start in range(0, rows.size, step):
        block = rows[start:start + step]
        w = _work64(prep, prep.matrix[block])
        sq = np.einsum("ij,ij->i", w, w)
        keys = q @ w.T
        if prep.metric == "euclidean":
            keys *= -2
            keys += sq
        else:
            with np.errstate(divide="ignore"):
                keys *= np.where(sq > 0, -1.0 / np.sqrt(sq), 0.0)
        keys[exclude[:, None] == block[None, :]] = np.inf
        all_key = np.concatenate([best_key, keys], axis=1)
        all_idx = np.concatenate([best_idx, np.broadcast_to(block, keys.shape)], axis=1)
        part = np.argpartition(all_key, kk - 1, axis=1)[:, :kk]
        best_key = np.take_along_axis(all_key, part, axis=1)
        best_idx = np.take_along_axis(all_idx, part, axis=1)
    return best_idx


def scan(prep, queries: np.ndarray, k: int, exclude: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The oracle itself: exact top k of each query (m, D) over every valid row, `exclude`
    (m,) left out (−1: none), computed in float64 in bounded blocks. O(m·N·D)."""
    m, n = queries.shape[0], prep.matrix.shape[0]
    rows = np.flatnonzero(prep.valid)
    out_idx = np.empty((m, k), dtype=np.int64)
    out_dist = np.empty((m, k))
    d = prep.matrix.shape[1]
    step = max(1, BLOCK_ELEMENTS // max(1, d))
    for i in range(m):
        q = queries[i].astype(np.float64)[None, :]
        best_idx = np.empty(0, dtype=np.int64)
        best_dist = np.empty(0)
        for start in range(0, rows.size, step):
            block = rows[start:start + step]
            dist = _pair_distances(prep.matrix[block].astype(np.float64), q, prep.metric)
            keep = block != exclude[i]
            all_idx = np.concatenate([best_idx, block[keep]])
            all_dist = np.concatenate([best_dist, dist[keep]])
            if all_idx.size > k:
                kth = np.partition(all_dist, k - 1)[k - 1]
                near = all_dist <= kth
                all_idx, all_dist = all_idx[near], all_dist[near]
            order = np.lexsort((all_idx, all_dist))[:k]
            best_idx, best_dist = all_idx[order], all_dist[order]
        out_idx[i], out_dist[i] = best_idx, best_dist
    del n
    return out_idx, out_dist
