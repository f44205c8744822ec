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
#: _pairwise's stack: 2 entries a level of halving; 2^64 terms would need 2 × 57 + 1.
STACK = 128

_lock = threading.Lock()
_ready = False


def distances(source: np.ndarray, euclidean: bool, queries: np.ndarray, cand: np.ndarray, out: np.ndarray) -> None:
    """out (m, K) float64 := the oracle distances between `queries` (m, D) and the rows
    `cand` (m, K) int64 of `source` (N, D), both float32 or float64 (exact.distances).
    The kernel checks no index (boundscheck=False): shapes and rows are checked here, an
    IndexError or ValueError for what would have read outside the arrays."""
    global _ready
    check(source, queries, cand, out)
    if not _ready:
        with _lock:  # numba's cache is switched on before the first compile, once
            if not _ready and numba_cache.folder() is not None:
                numba_cache.enable_caching(_kernel)
            _ready = True
    _kernel(source, euclidean, queries, cand, out)


def check(source: np.ndarray, queries: np.ndarray, cand: np.ndarray, out: np.ndarray) -> None:
    """distances()' arguments as the unchecked kernel reads them: 2-D, queries (m, D) and out
    (m, K) float64 for cand (m, K) int64, and every candidate a row of source (0 … N − 1: a
    padding row N, or −1, is a bug upstream, not a row to wrap around to)."""
    m, kk = cand.shape
    if (source.ndim != 2 or queries.shape != (m, source.shape[1]) or out.shape != (m, kk)
            or cand.dtype != np.int64 or out.dtype != np.float64):
        raise ValueError("pair_kernel: source %s, queries %s, cand %s %s, out %s %s do not fit"
                         % (source.shape, queries.shape, cand.shape, cand.dtype, out.shape, out.dtype))
    if cand.size and not (0 <= int(cand.min()) and int(cand.max()) < source.shape[0]):
        raise IndexError("pair_kernel: candidate rows %d … %d outside the %d rows of source"
                         % (int(cand.min()), int(cand.max()), source.shape[0]))


def compiled() -> bool:
    """Whether the kernel is compiled in this process (for any argument types)."""
    kernel = globals().get("_kernel")
    return kernel is not None and bool(kernel.signatures)


@numba.njit(nogil=True, boundscheck=False)
def _block(t, lo, n):
    """numpy's pairwise sum of t[lo:lo + n] float64 for n ≤ BLOCK (the module docstring)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += t[i]
        return res
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


@numba.njit(nogil=True, boundscheck=False)
def _pairwise(t, n, spans, sums):
    """numpy's pairwise sum of t[:n] float64: up to BLOCK terms one block; above, the sum of
    the first half (a multiple of 8 terms) plus the sum of the rest, each summed so.

    Without recursion (numba's on-disk cache cannot hold a recursive function: its callers,
    loaded from the cache, call it through an address never filled in, numba/numba#6061, a
    segfault of issue 25.3's first merge): the same tree walked with a stack. spans (STACK, 2)
    int64: pending (start, count), count < 0 for "add the last two sums"; sums (STACK,) float64."""
    if n <= BLOCK:
        return _block(t, 0, n)
    top = 1
    spans[0, 0], spans[0, 1] = 0, n
    done = 0
    while top:
        top -= 1
        lo, count = spans[top, 0], spans[top, 1]
        if count < 0:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
        elif count <= BLOCK:
            sums[done] = _block(t, lo, count)
            done += 1
        else:
            half = count // 2
            half -= half % 8
            spans[top, 0], spans[top, 1] = lo, -1  # after both halves: left + right
            spans[top + 1, 0], spans[top + 1, 1] = lo + half, count - half
            spans[top + 2, 0], spans[top + 2, 1] = lo, half  # on top: summed first
            top += 3
    return sums[0]


@numba.njit(nogil=True, boundscheck=False)
def _kernel(source, euclidean, queries, cand, out):
    m, kk = cand.shape
    d = source.shape[1]
    t = np.empty(d)
    q = np.empty(d)
    spans = np.empty((STACK, 2), dtype=np.int64)
    sums = np.empty(STACK)
    for i in range(m):
        for j in range(d):
            q[j] = np.float64(queries[i, j])
        q_norm = 0.0
        if not euclidean:
            for j in range(d):
                t[j] = q[j] * q[j]
            q_norm = np.sqrt(_pairwise(t, d, spans, sums))
        for c in range(kk):
            x = source[cand[i, c]]
            if euclidean:
                for j in range(d):
                    v = np.float64(x[j]) - q[j]
                    t[j] = v * v
                out[i, c] = np.sqrt(_pairwise(t, d, spans, sums))
                continue
            for j in range(d):
                t[j] = np.float64(x[j]) * q[j]
            dots = _pairwise(t, d, spans, sums)
            for j in range(d):
                v = np.float64(x[j])
                t[j] = v * v
            norms = np.sqrt(_pairwise(t, d, spans, sums)) * q_norm
            cos = dots / norms if norms > 0 else 0.0
            dist = 1.0 - cos
            if dist < 0.0:  # np.clip(…, 0, 2); NaN stays NaN
                dist = 0.0
            elif dist > 2.0:
                dist = 2.0
            out[i, c] = dist
