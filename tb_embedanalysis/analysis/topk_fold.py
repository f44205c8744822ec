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

Above HEAP_MAX_CANDIDATES (k ≥ ~50) the heap gives way to topk_cut's buffer (its docstring:
at k = 1,000 the heap's sifts were most of a graph); both keep the same rows in the same order.

The order is propose's: (key, row) with −0.0 equal to +0.0 (float compares), invalid rows
and the query's own row at +inf, NaN never entering (it ranks last, so a query left with
padding is redone by smallest_k, as the numpy sweep did). Compiled once per process on its
first use (about 1 s); cached on disk in numba_cache's folder when the engine set one.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Tuple

import numba  # imported by propose only when a sweep runs (~0.5 s the first time)
import numpy as np

from tb_embedanalysis.analysis import numba_cache, tie_order, topk_cut

#: Columns per check while a heap still holds padding (a query's first block): a chunk with no
#: key < the root is skipped once the heap is full. Later blocks mark keys (the module docstring).
CHUNK = 64
#: A query's buffer holds up to CAPACITY × K' pairs before it is cut back to its K' best:
#: 2 halves the memory of 4 and cuts twice as often (measured in bench/README.md, k = 1,000).
CAPACITY = 2
#: Up to this K' a max-heap of K' (a sift of ≤ 6 levels per entering key) instead of the buffer:
#: at K' = 15 (k = 10) the buffer's cuts made the fold 0.045 s against the heap's 0.033 s per
#: 1,024 queries × 100,000 × 64 (one core).
HEAP_MAX_CANDIDATES = 64

_lock = threading.Lock()
_ready = False


@dataclasses.dataclass
class Running:
    """Each query's running K' best (key, row) of the columns folded so far.

    Up to HEAP_MAX_CANDIDATES a max-heap (keys, rows (m, K'), padding (+inf, n) after every
    real row); above, topk_cut's buffers: keys (m, CAPACITY·K') float32 and rows int64 whose
    first count[i] pairs are row i's candidates, threshold (worst_key, worst_row) (m,) the
    K'-th best at the last cut, (+inf, n) before the first."""

    keys: np.ndarray
    rows: np.ndarray
    count: np.ndarray
    worst_key: np.ndarray
    worst_row: np.ndarray
    kk: int

    @classmethod
    def start(cls, m: int, kk: int, n: int) -> "Running":
        width = kk if kk <= HEAP_MAX_CANDIDATES else CAPACITY * kk
        return cls(np.full((m, width), np.inf, dtype=np.float32), np.full((m, width), n, dtype=np.int64),
                   np.zeros(m, dtype=np.int64), np.full(m, np.inf, dtype=np.float32), np.full(m, n, dtype=np.int64), kk)

    @property
    def heap(self) -> bool:
        """K' ≤ HEAP_MAX_CANDIDATES: keys and rows are a max-heap of K' by (key, row), root the
        threshold (count and worst unused)."""
        return self.keys.shape[1] == self.kk

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.rows.nbytes + 3 * self.count.nbytes)


def fold(dots: np.ndarray, scale: np.ndarray, euclidean: bool, invalid: np.ndarray, exclude: np.ndarray,
         c0: int, best: Running) -> None:
    """Fold dots (m, c) float32 C-contiguous (queries · W rows c0..c0+c, blocks in column order)
    into `best` in place. scale (c,) the rows' key_scale, invalid (c,) bool, exclude (m,) int64
    row left out per query (−1: none). The kernels check no index: the shapes are checked here."""
    global _ready
    m, c = dots.shape
    if scale.shape != (c,) or invalid.shape != (c,) or exclude.shape != (m,) or best.keys.shape[0] != m:
        raise ValueError("topk_fold.fold: dots %s, scale %s, invalid %s, exclude %s, running %s do not fit"
                         % (dots.shape, scale.shape, invalid.shape, exclude.shape, best.keys.shape))
    if not _ready:
        with _lock:  # numba's cache is switched on before the first compile, once
            if not _ready and numba_cache.folder() is not None:
                for kernel in (_kernel, topk_cut.kernel, topk_cut.cut_all):
                    numba_cache.enable_caching(kernel)
            _ready = True
    if best.heap:
        _kernel(dots, scale, euclidean, invalid, exclude, c0, best.keys, best.rows)
    else:
        topk_cut.kernel(dots, scale, euclidean, invalid, exclude, c0, best.keys, best.rows, best.count,
                        best.worst_key, best.worst_row, best.kk)


def compiled() -> bool:
    """Whether the kernel is compiled (or loaded from numba's cache) in this process; False
    while another thread is compiling it, or still importing this module (no _kernel yet)."""
    kernel = globals().get("_kernel")
    return kernel is not None and bool(kernel.signatures)


def warm(*, large: bool = True) -> None:
    """Compile the kernel now (once per process, ~1 CPU-s and a transient ~25 MB of Python
    objects that tracemalloc sees: not a computation's working memory); large: also the
    buffer's kernels for K' > HEAP_MAX_CANDIDATES (topk_cut)."""
    for kk in (1, HEAP_MAX_CANDIDATES + 1)[:2 if large else 1]:  # the heap, then the buffer and its cuts
        best = Running.start(1, kk, 3 * kk)
        fold(np.zeros((1, 3 * kk), dtype=np.float32), np.zeros(3 * kk, dtype=np.float32), False,
             np.zeros(3 * kk, dtype=bool), np.full(1, -1, dtype=np.int64), 0, best)
        ordered(best)


def ordered(best: Running) -> Tuple[np.ndarray, np.ndarray]:
    """Each query's K' best (rows, keys) (m, K') in propose's order: ascending by (key, row);
    (n, +inf) padding where fewer than K' keys entered."""
    if not best.heap:
        topk_cut.cut_all(best.keys, best.rows, best.count, best.kk)
    return tie_order.sorted_pairs(best.keys[:, :best.kk], best.rows[:, :best.kk])


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
