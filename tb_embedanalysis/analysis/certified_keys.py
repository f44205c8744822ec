"""The ranking keys of the certified search (certified.py) on any subset of rows, bit for bit
the keys neighbors.py computes over all rows, and the merge of top-k lists by (key, row).

Bit-for-bit equality needs the BLAS to compute each dot product the same way whatever the
shape of the product it sits in: products are padded to at least PAD × PAD (OpenBLAS does
agree then: tests/test_analysis_certified.py checks it on the installed BLAS).
"""

from __future__ import annotations

import numpy as np

from tb_embedanalysis.analysis.neighbors import PreparedMatrix
from tb_embedanalysis.analysis.propose import merge_topk  # noqa: F401 (certified.py's import)

#: Products are at least PAD × PAD (repeated rows fill the gap): OpenBLAS computes tiny
#: products (M·N ≲ 1024) and matrix-vector products with a different summation order, so
#: a key could differ in the last bit from the one neighbors.knn_graph computes.
PAD = 64


def products(q: np.ndarray, x: np.ndarray) -> np.ndarray:
    """q @ x.T (m, c) through the regular sgemm kernel, whatever m and c are."""
    m, c = q.shape[0], x.shape[0]
    if m < PAD:
        q = np.concatenate([q, np.repeat(q[:1], PAD - m, axis=0)])
    if c < PAD:
        x = np.concatenate([x, np.repeat(x[:1], PAD - c, axis=0)])
    out = q @ x.T
    return out if out.shape == (m, c) else np.ascontiguousarray(out[:m, :c])


def subset_keys(prep: PreparedMatrix, queries: np.ndarray, x: np.ndarray, cols: np.ndarray,
                exclude: np.ndarray) -> np.ndarray:
    """Ranking keys (m, len(cols)) of `queries` against the rows `cols` (ascending; x is
    prep.matrix[cols] or a slice view of it), computed as propose.row_keys does; the key of
    each query's `exclude` row (m,) is +inf."""
    keys = products(queries, x)
    if prep.metric == "cosine":
        keys *= prep.key_scale[cols]
    else:
        keys *= -2
        keys += prep.key_scale[cols]
    pos = np.minimum(np.searchsorted(cols, exclude), cols.size - 1)
    hit = np.flatnonzero(cols[pos] == exclude)
    keys[hit, pos[hit]] = np.inf
    return keys
