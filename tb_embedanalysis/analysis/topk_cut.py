"""topk_fold's kernel for large K' (k ≥ ~50): each query keeps a buffer of up to 2 K' (key, row)
pairs, appends the keys below its threshold and, when full, cuts it back to its K' best,
whose K'-th pair becomes the threshold.

Why not the heap of topk_fold for every K': a heap pays a sift of log2 K' levels with
unpredictable branches per entering key, and at k = 1,000 (K' = 1,250) ~6,700 keys enter per
query on 100,000 rows (K' (1 + ln N / K') for columns in random order): the heap's fold took
0.78 s per 1,024 queries × 100,000 × 64 on one core against 0.14 s of products (75 of a 165 s
graph). Appending is a store; the threshold moves only at each cut (~9,000 keys enter, 6
cuts a query), and a cut selects the K'-th key by a radix select on its monotone bits (11 +
11 + 10 bits: three histogram passes without data-dependent branches; a quickselect's
mispredicted compares cost ~100 µs a cut of 2,500 pairs): the fold 0.32 s. A query's state
lives in locals while its row is walked (kept in the arrays, which LLVM must assume may
alias, every entering key reloaded and stored all three: ~70 ns a key).

The order is topk_fold's, (key, row), strictly below the threshold once cut (the buffer's
rows all precede the columns left); the same rows in the same order as the heap gives.
"""

from __future__ import annotations

import numba
import numpy as np

#: Buffers of at most this many pairs are cut by an insertion sort (_cut).
SMALL_CUT = 128


@numba.njit(nogil=True, boundscheck=False, inline="always")
def _before(ka, ra, kb, rb):
    """(ka, ra) < (kb, rb) by (key, row)."""
    return ka < kb or (ka == kb and ra < rb)


@numba.njit(nogil=True, boundscheck=False, inline="always")
def _monotone(key):
    """uint32 ordered as the float32 keys are (−0.0 = +0.0; no NaN here)."""
    bits = np.float32(key + np.float32(0.0)).view(np.uint32)  # −0.0 + 0.0 = +0.0
    if bits >> np.uint32(31):
        return ~bits
    return bits | np.uint32(0x80000000)


@numba.njit(nogil=True, boundscheck=False)
def _cut(bk, br, count, kk, hist, mono):
    """Keep the kk best (key, row) of bk[:count], br[:count] (count > kk, pairs distinct, no
    NaN) in bk[:kk], br[:kk] (any order); returns the kk-th best (key, row). The kk-th key by a
    radix select on its monotone bits (11 + 11 + 10 bits, histograms in `hist` (2048,) int64):
    three passes without data-dependent branches, where a quickselect's compares mispredicted
    (module docstring); among the keys equal to it, the smallest rows. mono (≥ count,) uint32: scratch for the keys' monotone bits.
    Up to SMALL_CUT pairs an insertion sort instead (the histograms' fixed cost dominated a
    cut of 30 pairs at k = 10; the kept pairs stay sorted, so the next sort is short)."""
    if count <= SMALL_CUT:
        for i in range(1, count):
            key, row = bk[i], br[i]
            j = i - 1
            while j >= 0 and _before(key, row, bk[j], br[j]):
                bk[j + 1] = bk[j]
                br[j + 1] = br[j]
                j -= 1
            bk[j + 1] = key
            br[j + 1] = row
        return bk[kk - 1], br[kk - 1]
    for i in range(count):
        mono[i] = _monotone(bk[i])
    rank = kk  # 1-based rank of the wanted key among the ones with the prefix found so far
    prefix = np.uint32(0)
    for shift, bits in ((21, 11), (10, 11), (0, 10)):
        top = shift + bits  # the bits above `top` must equal prefix's
        hist[:1 << bits] = 0
        mask = np.uint32((1 << bits) - 1)
        for i in range(count):
            u = mono[i]
            if top == 32 or (u >> np.uint32(top)) == (prefix >> np.uint32(top)):
                hist[(u >> np.uint32(shift)) & mask] += 1
        below = 0
        digit = 0
        while below + hist[digit] < rank:
            below += hist[digit]
            digit += 1
        rank -= below
        prefix |= np.uint32(digit) << np.uint32(shift)
    # prefix: the kk-th key's bits; `rank` of the keys equal to it are kept, smallest rows first
    equal = 0
    for i in range(count):
        if mono[i] == prefix:
            equal += 1
    last_row = -1
    if equal == rank:
        for i in range(count):
            if mono[i] == prefix and br[i] > last_row:
                last_row = br[i]
    else:
        rows = np.empty(equal, dtype=br.dtype)
        e = 0
        for i in range(count):
            if mono[i] == prefix:
                rows[e] = br[i]
                e += 1
        last_row = np.sort(rows)[rank - 1]
    w = 0
    worst_key = bk[0]
    for i in range(count):
        u = mono[i]
        if u < prefix or (u == prefix and br[i] <= last_row):
            if u == prefix:
                worst_key = bk[i]
            bk[w] = bk[i]
            br[w] = br[i]
            w += 1
    return worst_key, last_row


@numba.njit(nogil=True, boundscheck=False)
def cut_all(keys, rows, count, kk):
    """Every query's buffer cut back to its kk best (the rest of a row: padding or stale)."""
    hist = np.zeros(2048, dtype=np.int64)
    mono = np.empty(keys.shape[1], dtype=np.uint32)
    for r in range(keys.shape[0]):
        if count[r] > kk:
            _cut(keys[r], rows[r], count[r], kk, hist, mono)
            count[r] = kk


@numba.njit(nogil=True, boundscheck=False)
def kernel(dots, scale, euclidean, invalid, exclude, c0, keys, rows, count, worst_key, worst_row, kk):
    """topk_fold.fold for a Running whose buffers are wider than K' (its arrays as arguments)."""
    inf = np.float32(np.inf)
    minus2 = np.float32(-2.0)
    n = dots.shape[1]
    marks = np.zeros((n + 7) // 8 * 8, dtype=np.uint8)  # the tail stays 0
    words = marks.view(np.uint64)
    hist = np.zeros(2048, dtype=np.int64)
    width = keys.shape[1]
    mono = np.empty(width, dtype=np.uint32)
    for r in range(dots.shape[0]):
        row = dots[r]
        bk = keys[r]
        br = rows[r]
        ex = exclude[r] - c0
        # this query's state in locals (the arrays may alias as far as LLVM knows: kept in
        # them, every entering key reloaded and stored all three, ~70 ns a key)
        c, tk, tr = count[r], worst_key[r], worst_row[r]
        start = 0
        if tr >= c0:
            # Before the query's first cut (threshold (+inf, n): its first 2 K' keys): every
            # column walked, invalid and excluded ones at +inf (after every finite key), until
            # a cut sets the threshold; the rest of the block as below.
            start = n
            for j in range(n):
                if euclidean:
                    key = scale[j] + minus2 * row[j]
                else:
                    key = row[j] * scale[j]
                if invalid[j] or j == ex:
                    key = inf
                if _before(key, c0 + j, tk, tr):
                    bk[c] = key
                    br[c] = c0 + j
                    c += 1
                    if c == width:  # full: cut back to the kk best, the kk-th the threshold
                        tk, tr = _cut(bk, br, c, kk, hist, mono)
                        c = kk
                        start = j + 1
                        break
            if start == n:
                count[r], worst_key[r], worst_row[r] = c, tk, tr
                continue
        # Past a cut: the buffer's rows all precede the columns left, so a key equal to the
        # threshold comes after it and cannot enter; only keys < thr (the threshold on entry)
        # may. Marked in one compare-and-store pass (full-width vectors), then ORed as words.
        # The same pass as topk_fold's heap kernel, written out again: a shared inline helper
        # made the heap's fold 0.030 → 0.041 s per 1,024 queries × 100,000 (k = 10, one core).
        thr = tk
        if euclidean:
            for j in range(n):
                marks[j] = scale[j] + minus2 * row[j] < thr
        else:
            for j in range(n):
                marks[j] = row[j] * scale[j] < thr
        for j in range(start):  # walked already
            marks[j] = 0
        seen = np.uint64(0)
        for w in range(words.size):
            seen |= words[w]
        if seen == 0:  # the common case
            count[r], worst_key[r], worst_row[r] = c, tk, tr  # a cut in the walk above
            continue
        for w in range(words.size):  # only the marked columns, 8 marks a word
            if words[w] == 0:
                continue
            for j in range(w * 8, w * 8 + 8):
                if marks[j]:
                    if euclidean:
                        key = scale[j] + minus2 * row[j]
                    else:
                        key = row[j] * scale[j]
                    if key < tk and not invalid[j] and j != ex:
                        bk[c] = key
                        br[c] = c0 + j
                        c += 1
                        if c == width:
                            tk, tr = _cut(bk, br, c, kk, hist, mono)
                            c = kk
        count[r], worst_key[r], worst_row[r] = c, tk, tr
