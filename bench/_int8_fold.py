"""bench_lowprec.py's stand-in for the fold an int8 pass would run: pair_fold's two kernels with
int32 products and quant_bound's per-pair bound in the marking pass, so the projection pays
for that arithmetic (a measurement, not a path: its heaps are timed, never used).

A pair's optimistic key is −U, U = I·s_q·s_c + ‖q̂‖·‖e_c‖ + ‖e_q‖·‖c‖ (the upper bound of its
cosine on unit rows); each row keeps the M smallest, as pair_fold keeps the K' smallest keys.
"""

from __future__ import annotations

import time

import numba
import numpy as np

from tb_embedanalysis.analysis.topk_fold import _replace_root


@numba.njit(nogil=True, boundscheck=False)
def _rows(ints, s, cn, res, nrm, r0, c0, heap_keys, heap_rows):
    """Block row r: query r0 + r; column j: candidate c0 + j."""
    n = ints.shape[1]
    marks = np.zeros((n + 7) // 8 * 8, dtype=np.uint8)
    words = marks.view(np.uint64)
    sc, ec, nc = s[c0:c0 + n].copy(), res[c0:c0 + n].copy(), nrm[c0:c0 + n].copy()  # local: no aliasing
    for r in range(ints.shape[0]):
        q = r0 + r
        hk, hr = heap_keys[q], heap_rows[q]
        thr, sq, cq, eq = hk[0], s[q], cn[q], res[q]
        row = ints[r]
        for j in range(n):
            marks[j] = -(np.float32(row[j]) * (sq * sc[j]) + (cq * ec[j] + eq * nc[j])) <= thr
        seen = np.uint64(0)
        for w in range(words.size):
            seen |= words[w]
        if seen == 0:
            continue
        for w in range(words.size):
            if words[w] == 0:
                continue
            for j in range(w * 8, w * 8 + 8):
                c = c0 + j
                if marks[j] and c != q:
                    key = -(np.float32(row[j]) * (sq * sc[j]) + (cq * ec[j] + eq * nc[j]))
                    if key < hk[0] or (key == hk[0] and c < hr[0]):
                        _replace_root(hk, hr, key, c)


@numba.njit(nogil=True, boundscheck=False)
def _columns(ints, s, cn, res, nrm, r0, c0, heap_keys, heap_rows):
    """Block column j: query c0 + j; row r: candidate r0 + r."""
    n = ints.shape[1]
    thr = np.empty(n, dtype=np.float32)
    for j in range(n):
        thr[j] = heap_keys[c0 + j, 0]
    marks = np.zeros((n + 7) // 8 * 8, dtype=np.uint8)
    words = marks.view(np.uint64)
    sq, cq, eq = s[c0:c0 + n].copy(), cn[c0:c0 + n].copy(), res[c0:c0 + n].copy()  # local: no aliasing
    for r in range(ints.shape[0]):
        cand = r0 + r
        sc, ec, nc = s[cand], res[cand], nrm[cand]
        row = ints[r]
        for j in range(n):
            marks[j] = -(np.float32(row[j]) * (sq[j] * sc) + (cq[j] * ec + eq[j] * nc)) <= thr[j]
        seen = np.uint64(0)
        for w in range(words.size):
            seen |= words[w]
        if seen == 0:
            continue
        for w in range(words.size):
            if words[w] == 0:
                continue
            for j in range(w * 8, w * 8 + 8):
                if marks[j]:
                    key = -(np.float32(row[j]) * (sq[j] * sc) + (cq[j] * ec + eq[j] * nc))
                    hk, hr = heap_keys[c0 + j], heap_rows[c0 + j]
                    if key < hk[0] or (key == hk[0] and cand < hr[0]):
                        _replace_root(hk, hr, key, cand)
                        thr[j] = hk[0]


def fold_seconds(quantised, tiles, starts, chunk: int, cols: int, width: int) -> float:
    """Seconds (one thread) of folding every tile's int32 products into heaps of `width`;
    the products themselves (exact, from float32 codes) are made outside the clock."""
    n = quantised.codes.shape[0]
    codes = quantised.codes.astype(np.float32)
    s, cn, res, nrm = (np.asarray(getattr(quantised, f), dtype=np.float32)
                       for f in ("scales", "coded_norm", "residual", "norm"))
    heap_keys = np.full((n, width), np.inf, dtype=np.float32)
    heap_rows = np.full((n, width), n, dtype=np.int64)
    warm = np.zeros((1, 1), dtype=np.int32)
    _rows(warm, s, cn, res, nrm, 0, 1, heap_keys[:2].copy(), heap_rows[:2].copy())
    _columns(warm, s, cn, res, nrm, 0, 1, heap_keys[:2].copy(), heap_rows[:2].copy())
    seconds = 0.0
    for a, b in tiles:
        r0, c_start = starts[a], starts[b]
        for c0 in range(c_start, min(n, c_start + chunk), cols):
            ints = np.ascontiguousarray(codes[r0:r0 + chunk] @ codes[c0:c0 + cols].T).astype(np.int32)
            t = time.perf_counter()
            _rows(ints, s, cn, res, nrm, r0, c0, heap_keys, heap_rows)
            if a != b:
                _columns(ints, s, cn, res, nrm, r0, c0, heap_keys, heap_rows)
            seconds += time.perf_counter() - t
    return seconds
