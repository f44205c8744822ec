"""exact.distances compiled: the float64 oracle distances of (query, candidate) pairs, bit for
bit what exact.py's numpy code computes, without its (rows, K', D) temporaries.

Why numba (already a dependency, see topk_fold.py): at k = 1,000 a graph computes the exact
distances of K' = 1,250 candidates per row; numpy gathers them into (rows, K', D) float32,
converts to float64, subtracts, squares and sums, five passes over memory per pair, which
was 45 of 165 s of a 100,000 × 64 graph. Here each pair is read once and its terms summed in L1.

Same bits as numpy, so that a pair gets the same distance whichever path computes it (this
kernel, exact.scan, or numpy below the size where the compile pays): every elementwise step
(float32 → float64, −, ×, √, ÷, 1 − cos, the clip) is one IEEE rounding either way, and the
sums follow numpy's own order for a reduction along a contiguous axis, its pairwise sum
(numpy/_core/src/umath/loops_utils.h.src `pairwise_sum`): below 8 terms one by one from 0.0;
up to 128 eight running sums (terms j, j + 8, …) combined as ((r0 + r1) + (r2 + r3)) +
((r4 + r5) + (r6 + r7)), then the remainder one by one; above, the two halves (the first a
multiple of 8 terms) summed so and added. tests/test_pair_kernel.py checks the bits against
the installed numpy for D = 1 … 300 and beyond; a numpy that sums otherwise fails there.
No fastmath: LLVM may neither reassociate nor fuse a multiply and an add.
"""

from __future__ import annotations

import threading

import numba  # imported by exact.distances only when the kernel pays (~0.5 s the first time)
import numpy as np

from tb_embedanalysis.analysis import numba_cache

#: numpy's pairwise-sum block (PW_BLOCKSIZE).
BLOCK = 128

_lock = threading.Lock()
_ready = False


def distances(source: np.ndarray, euclidean: bool, queries: np.ndarray, cand: np.ndarray, out: np.ndarray) -> None:
    """out (m, K) float64 := the oracle distances between `queries` (m, D) and the rows
    `cand` (m, K) int64 of `source` (N, D), both float32 or float64 (exact.distances)."""
    global _ready
    if not _ready:
        with _lock:  # numba's cache is switched on before the first compile, once
            if not _ready and numba_cache.folder() is not None:
                _kernel.enable_caching()
            _ready = True
    _kernel(source, euclidean, queries, cand, out)


def compiled() -> bool:
    """Whether the kernel is compiled in this process (for any argument types)."""
    kernel = globals().get("_kernel")
    return kernel is not None and bool(kernel.signatures)


@numba.njit(nogil=True, boundscheck=False)
def _pairwise(t, lo, n):
    """numpy's pairwise sum of t[lo:lo + n] float64 (the module docstring)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += t[i]
        return res
    if n <= BLOCK:
        r0, r1, r2, r3 = t[lo], t[lo + 1], t[lo + 2], t[lo + 3]
        r4, r5, r6, r7 = t[lo + 4], t[lo + 5], t[lo + 6], t[lo + 7]
        i = lo + 8
        end = lo + n - n % 8
        while i < end:
            r0 += t[i]
            r1 += t[i + 1]
            r2 += t[i + 2]
            r3 += t[i + 3]
            r4 += t[i + 4]
            r5 += t[i + 5]
            r6 += t[i + 6]
            r7 += t[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < lo + n:
            res += t[i]
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(t, lo, half) + _pairwise(t, lo + half, n - half)


@numba.njit(nogil=True, boundscheck=False)
def _kernel(source, euclidean, queries, cand, out):
    m, kk = cand.shape
    d = source.shape[1]
    t = np.empty(d)
    q = np.empty(d)
    for i in range(m):
        for j in range(d):
            q[j] = np.float64(queries[i, j])
        q_norm = 0.0
        if not euclidean:
            for j in range(d):
                t[j] = q[j] * q[j]
            q_norm = np.sqrt(_pairwise(t, 0, d))
        for c in range(kk):
            x = source[cand[i, c]]
            if euclidean:
                for j in range(d):
                    v = np.float64(x[j]) - q[j]
                    t[j] = v * v
                out[i, c] = np.sqrt(_pairwise(t, 0, d))
                continue
            for j in range(d):
                t[j] = np.float64(x[j]) * q[j]
            dots = _pairwise(t, 0, d)
            for j in range(d):
                v = np.float64(x[j])
                t[j] = v * v
            norms = np.sqrt(_pairwise(t, 0, d)) * q_norm
            cos = dots / norms if norms > 0 else 0.0
            dist = 1.0 - cos
            if dist < 0.0:  # np.clip(…, 0, 2); NaN stays NaN
                dist = 0.0
            elif dist > 2.0:
                dist = 2.0
            out[i, c] = dist
