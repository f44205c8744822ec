"""The column sweep's inner kernel: fold one block of dot products into each query's running
K' best (key, row), in one pass over the block, without writing the keys.

Why numba (it comes with umap-learn, a dependency) and not numpy: after the product, numpy
needs one pass over the (m × c) block per step (scale, mark invalid and excluded rows,
compare with each query's threshold, nonzero, merge), each as long as reading the block,
and on unclustered 100,000 × 128 rows those passes and the merges took about half the
product's own time. Here each query's row of products is read once: a vectorised count of
the keys < its current K'-th key (the common case: none), and only in a row that has some, a
scalar walk that stops at the last of them, computing each key exactly as propose.row_keys
does (cosine fl32(dot · scale), euclidean fl32(scale + (−2) · dot), both one rounding: −2 · dot
is exact) and pushing it into a max-heap by (key, row). Strictly below, because blocks come in
column order: a full heap's rows all precede the block, so an equal key cannot win its tie
(with `≤`, rows of many duplicates walked every block). The heap's fill is a function of its
own, so the first pass over a full heap's row compiles as tightly as possible: it marks
the keys < thr in a byte per column (a compare and a store, no reduction: full-width vectors,
where a count's int64 accumulator held LLVM to 4 floats a compare), then ORs the marks as
words; only a row with a mark is walked, and only its marked columns. One core, 1,024
queries × 100,000 unclustered rows × 128, blocks of 512 columns, product then fold as the
sweep runs them: fold 31.3 ms against 36.6 ms counting per 64-column chunk and walking the
chunks with a count, 41.5 ms counting whole rows and walking each from its start, 48.7 ms
before that; products ≈ 215 ms. Indices run from 0: numba's wraparound of a possibly negative
index kept LLVM from vectorising (0.9 ms against 0.1 ms per 2^20 keys).

The order is propose's: (key, row) with −0.0 equal to +0.0 (float compares), invalid rows
and the query's own row at +inf, NaN never entering (it ranks last, so a query left with
padding is redone by smallest_k, as the numpy sweep did). Compiled once per process on its
first use (about 1 s); cached on disk in numba_cache's folder when the engine set one.
"""

from __future__ import annotations

import threading
from typing import Tuple

import numba  # imported by propose only when a sweep runs (~0.5 s the first time)
import numpy as np

from tb_embedanalysis.analysis import numba_cache

#: Columns per check while a heap still holds padding (a query's first block): a chunk with no
#: key < the root is skipped once the heap is full. Later blocks mark keys (the module docstring).
CHUNK = 64

_lock = threading.Lock()
_ready = False


def fold(dots: np.ndarray, scale: np.ndarray, euclidean: bool, invalid: np.ndarray, exclude: np.ndarray,
         c0: int, heap_keys: np.ndarray, heap_rows: np.ndarray) -> None:
    """Fold dots (m, c) float32 C-contiguous (queries · W rows c0..c0+c) into the max-heaps
    heap_keys (m, K') float32, heap_rows (m, K') int64 in place (root = worst (key, row)).
    scale (c,) the rows' key_scale, invalid (c,) bool, exclude (m,) int64 row left out per
    query (−1: none). Start the heaps at (+inf, n): padding after every real row."""
    global _ready
    if not _ready:
        with _lock:  # numba's cache is switched on before the first compile, once
            if not _ready and numba_cache.folder() is not None:
                _kernel.enable_caching()
            _ready = True
    _kernel(dots, scale, euclidean, invalid, exclude, c0, heap_keys, heap_rows)


def compiled() -> bool:
    """Whether the kernel is compiled (or loaded from numba's cache) in this process; False
    while another thread is compiling it, or still importing this module (no _kernel yet)."""
    kernel = globals().get("_kernel")
    return kernel is not None and bool(kernel.signatures)


def warm() -> None:
    """Compile the kernel now (once per process, ~1 CPU-s and a transient ~25 MB of Python
    objects that tracemalloc sees: not a computation's working memory)."""
    heap_keys = np.full((1, 1), np.inf, dtype=np.float32)
    fold(np.zeros((1, 1), dtype=np.float32), np.zeros(1, dtype=np.float32), False, np.zeros(1, dtype=bool),
         np.full(1, -1, dtype=np.int64), 0, heap_keys, np.full((1, 1), 1, dtype=np.int64))


def ordered(heap_keys: np.ndarray, heap_rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The heaps' (rows, keys) (m, K') in propose's order: ascending by (key, row)."""
    order = np.lexsort((heap_rows, heap_keys), axis=1)
    return np.take_along_axis(heap_rows, order, axis=1), np.take_along_axis(heap_keys, order, axis=1)


@numba.njit(nogil=True, boundscheck=False, inline="always")
def _count_below(row, scale, euclidean, thr):
    """How many keys of `row` (products, from index 0: see the module docstring) are < thr."""
    count = 0
    minus2 = np.float32(-2.0)
    if euclidean:
        for j in range(row.size):
            if scale[j] + minus2 * row[j] < thr:
                count += 1
    else:
        for j in range(row.size):
            if row[j] * scale[j] < thr:
                count += 1
    return count


@numba.njit(nogil=True, boundscheck=False, inline="always")
def _replace_root(hk, hr, key, col):
    """Put (key, col) in place of the max-heap's root and sift it down by (key, row)."""
    kk = hk.size
    p = 0
    while True:
        child = 2 * p + 1
        if child >= kk:
            break
        if child + 1 < kk and (hk[child + 1] > hk[child] or (hk[child + 1] == hk[child] and hr[child + 1] > hr[child])):
            child += 1
        if hk[child] > key or (hk[child] == key and hr[child] > col):
            hk[p] = hk[child]
            hr[p] = hr[child]
            p = child
        else:
            break
    hk[p] = key
    hr[p] = col


@numba.njit(nogil=True, boundscheck=False)
def _fill_row(row, scale, euclidean, invalid, ex, c0, hk, hr):
    """One query's row while its heap still holds padding (+inf at the root): any key may enter,
    so every key is walked until the heap is full, then chunks with no key < the root are skipped."""
    inf = np.float32(np.inf)
    minus2 = np.float32(-2.0)
    for j0 in range(0, row.size, CHUNK):
        part = row[j0:j0 + CHUNK]
        sc = scale[j0:j0 + CHUNK]
        if hk[0] < inf and _count_below(part, sc, euclidean, hk[0]) == 0:
            continue
        for j in range(part.size):
            if euclidean:
                key = sc[j] + minus2 * part[j]
            else:
                key = part[j] * sc[j]
            if not key <= hk[0] and hk[0] < inf:
                continue  # cannot enter (NaN neither); +inf at the root: padding, any may
            if invalid[j0 + j] or j0 + j == ex:
                key = inf
            col = c0 + j0 + j
            if key < hk[0] or (key == hk[0] and col < hr[0]):
                _replace_root(hk, hr, key, col)


@numba.njit(nogil=True, boundscheck=False)
def _kernel(dots, scale, euclidean, invalid, exclude, c0, heap_keys, heap_rows):
    inf = np.float32(np.inf)
    minus2 = np.float32(-2.0)
    n = dots.shape[1]
    marks = np.zeros((n + 7) // 8 * 8, dtype=np.uint8)  # the tail stays 0
    words = marks.view(np.uint64)
    for r in range(dots.shape[0]):
        hk = heap_keys[r]
        row = dots[r]
        if not hk[0] < inf:
            _fill_row(row, scale, euclidean, invalid, exclude[r] - c0, c0, hk, heap_rows[r])
            continue
        # A full heap: its rows are all < c0 (blocks come in column order), so a key equal to
        # the root's comes after it and cannot enter; only keys < thr (the root on entry) may.
        # Marked in one compare-and-store pass (full-width vectors), then ORed as words.
        thr = hk[0]
        if euclidean:
            for j in range(n):
                marks[j] = scale[j] + minus2 * row[j] < thr
        else:
            for j in range(n):
                marks[j] = row[j] * scale[j] < thr
        seen = np.uint64(0)
        for w in range(words.size):
            seen |= words[w]
        if seen == 0:
            continue  # the common case
        ex = exclude[r] - c0
        hr = heap_rows[r]
        for w in range(words.size):  # only the marked columns, 8 marks a word
            if words[w] == 0:
                continue
            for j in range(w * 8, w * 8 + 8):
                if marks[j]:
                    if euclidean:
                        key = scale[j] + minus2 * row[j]
                    else:
                        key = row[j] * scale[j]
                    if key < hk[0] and not invalid[j] and j != ex:
                        _replace_root(hk, hr, key, c0 + j)
