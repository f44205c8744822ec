"""The symmetric graph's kernels (symmetric_graph.py): fold one block of products of rows
I × rows J into both sides' running K' best, the rows of I as queries (each block row into
its query's heap) and the rows of J as queries (each block column into its query's heap).

A product w_i · w_j serves both pairs (i, j) and (j, i); the key of each is propose.row_keys'
formula on that one float32 product: cosine fl(dot · key_scale[candidate]), euclidean
fl(key_scale[candidate] + (−2) · dot). Blocks do not come in column order for a heap here (a
heap gets rows from both sides, in schedule order), so a key equal to the root is marked too
(`≤`) and the walk orders by (key, row) as propose does: a candidate enters when its key is
smaller, or equal with a smaller row. Invalid rows and the query's own row never enter; NaN
never does (every compare with it is false); the heaps start at (+inf, n) padding, which any
real row beats. The first pass over a block row marks the keys ≤ the threshold in a byte per
column (a compare and a store: full-width vectors, topk_fold's own finding), the marks ORed as
words, and only a row with a mark is walked, only at its marked columns. numba as topk_fold
(its heap sift is shared); compiled on first use, cached in numba_cache's folder.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from tb_embedanalysis.analysis import numba_cache
from tb_embedanalysis.analysis.topk_fold import _replace_root

_lock = threading.Lock()
_ready = False


def _cache_once() -> None:
    global _ready
    if not _ready:
        with _lock:  # numba's cache is switched on before the first compile, once
            if not _ready and numba_cache.folder() is not None:
                numba_cache.enable_caching(_fold_rows)
                numba_cache.enable_caching(_fold_columns)
            _ready = True


def fold_block(dots: np.ndarray, scale: np.ndarray, euclidean: bool, invalid: np.ndarray, r0: int, c0: int,
               heap_keys: np.ndarray, heap_rows: np.ndarray, *, both: bool) -> None:
    """Fold dots (m, c) float32 C-contiguous (W rows r0..r0+m · W rows c0..c0+c) into the
    heaps heap_keys (N, K') float32, heap_rows (N, K') int64, in place: the block rows' heaps,
    and with `both` the block columns' too. scale (N,) key_scale, invalid (N,) bool. A block
    of a tile on the diagonal (rows and columns from the same rows) holds both orders of its
    pairs: fold it with both=False; a query's own row never enters. The kernels check no
    index: the shapes and offsets are checked here."""
    _cache_once()
    m, c = dots.shape
    n = heap_keys.shape[0]
    if not (0 <= r0 <= n - m and 0 <= c0 <= n - c and scale.shape == (n,) and invalid.shape == (n,)
            and heap_rows.shape == heap_keys.shape):
        raise ValueError("pair_fold.fold_block: dots %s at (%d, %d), scale %s, invalid %s, heaps %s, %s do not fit"
                         % (dots.shape, r0, c0, scale.shape, invalid.shape, heap_keys.shape, heap_rows.shape))
    _fold_rows(dots, scale[c0:c0 + c], euclidean, invalid[c0:c0 + c], r0, c0, heap_keys, heap_rows)
    if both:
        _fold_columns(dots, scale[r0:r0 + m], euclidean, invalid[r0:r0 + m], r0, c0, heap_keys, heap_rows)


def compiled() -> bool:
    """Whether both kernels are compiled (or loaded from numba's cache) in this process."""
    return bool(_fold_rows.signatures) and bool(_fold_columns.signatures)


def warm() -> None:
    """Compile both kernels now (once per process)."""
    heap_keys = np.full((2, 1), np.inf, dtype=np.float32)
    heap_rows = np.full((2, 1), 2, dtype=np.int64)
    fold_block(np.zeros((1, 1), dtype=np.float32), np.zeros(2, dtype=np.float32), False, np.zeros(2, dtype=bool),
               0, 1, heap_keys, heap_rows, both=True)


@numba.njit(nogil=True, boundscheck=False)
def _fold_rows(dots, scale, euclidean, invalid, r0, c0, heap_keys, heap_rows):
    """Each block row r is query r0 + r; column j is candidate c0 + j (scale, invalid: the
    columns'); column r0 + r − c0 is the query's own row."""
    minus2 = np.float32(-2.0)
    n = dots.shape[1]
    marks = np.zeros((n + 7) // 8 * 8, dtype=np.uint8)  # the tail stays 0
    words = marks.view(np.uint64)
    for r in range(dots.shape[0]):
        hk = heap_keys[r0 + r]
        hr = heap_rows[r0 + r]
        row = dots[r]
        thr = hk[0]
        if euclidean:
            for j in range(n):
                marks[j] = scale[j] + minus2 * row[j] <= thr
        else:
            for j in range(n):
                marks[j] = row[j] * scale[j] <= thr
        seen = np.uint64(0)
        for w in range(words.size):
            seen |= words[w]
        if seen == 0:
            continue  # the common case
        own = r0 + r - c0
        for w in range(words.size):
            if words[w] == 0:
                continue
            for j in range(w * 8, w * 8 + 8):
                if marks[j] and not invalid[j] and j != own:
                    if euclidean:
                        key = scale[j] + minus2 * row[j]
                    else:
                        key = row[j] * scale[j]
                    col = c0 + j
                    if key < hk[0] or (key == hk[0] and col < hr[0]):
                        _replace_root(hk, hr, key, col)


@numba.njit(nogil=True, boundscheck=False)
def _fold_columns(dots, scale, euclidean, invalid, r0, c0, heap_keys, heap_rows):
    """Each block column j is query c0 + j; row r is candidate r0 + r (scale, invalid: the
    rows'). The columns' thresholds are read once and kept current as their heaps change."""
    minus2 = np.float32(-2.0)
    n = dots.shape[1]
    thr = np.empty(n, dtype=np.float32)
    for j in range(n):
        thr[j] = heap_keys[c0 + j, 0]
    marks = np.zeros((n + 7) // 8 * 8, dtype=np.uint8)
    words = marks.view(np.uint64)
    for r in range(dots.shape[0]):
        if invalid[r]:
            continue
        row = dots[r]
        s = scale[r]
        if euclidean:
            for j in range(n):
                marks[j] = s + minus2 * row[j] <= thr[j]
        else:
            for j in range(n):
                marks[j] = row[j] * s <= thr[j]
        seen = np.uint64(0)
        for w in range(words.size):
            seen |= words[w]
        if seen == 0:
            continue
        cand = r0 + r
        for w in range(words.size):
            if words[w] == 0:
                continue
            for j in range(w * 8, w * 8 + 8):
                if marks[j]:
                    if euclidean:
                        key = s + minus2 * row[j]
                    else:
                        key = row[j] * s
                    hk = heap_keys[c0 + j]
                    hr = heap_rows[c0 + j]
                    if key < hk[0] or (key == hk[0] and cand < hr[0]):
                        _replace_root(hk, hr, key, cand)
                        thr[j] = hk[0]
