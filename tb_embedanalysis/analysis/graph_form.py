"""A kNN graph's stored form: the dtypes it is held in (int32 indices while every index fits,
float32 distances above GRAPH_FLOAT64_MAX_BYTES of them) and one row read back with its
exact float64 distances. Split from neighbors.py, which builds the graphs.
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np

from tb_embedanalysis.analysis import exact


def graph_index_dtype(n: int) -> np.dtype:
    """dtype of a kNN graph's indices over n rows: int32 while every index and −1 fit."""
    return np.dtype(np.int32) if n < 2 ** 31 else np.dtype(np.int64)


#: A kNN graph keeps float64 distances up to this many bytes of them, float32 above.
GRAPH_FLOAT64_MAX_BYTES = 256 * 2 ** 20


def graph_distance_dtype(n: int, k: int) -> np.dtype:
    """dtype of a kNN graph's distances over n rows and k neighbours (issue 25.3): float64
    up to GRAPH_FLOAT64_MAX_BYTES (k ≤ 335 at 100,000 rows, k ≤ 33 at 1,000,000), else
    float32. Each row's order is the exact float64 one either way (finish() proves it);
    float32 only rounds the values, to within 2^-24 relative (monotone, so rows stay
    ascending). k = 1,000 at 100,000 rows then holds 800 MB, not 1.2 GB: with its building
    chunks it fits the default working-memory budget. Where a distance is shown as exact
    (a /neighbors row read from the graph) it is recomputed in float64 (exact.distances)."""
    return np.dtype(np.float64) if n * k * 8 <= GRAPH_FLOAT64_MAX_BYTES else np.dtype(np.float32)


def exact_row(graph, index: int, k: int, prepared: Callable) -> Tuple[np.ndarray, np.ndarray]:
    """Row `index`'s first k neighbours of `graph` (int64) and their float64 distances: the
    stored ones, or, for a graph of rounded float32 values, computed again from the rows of
    `prepared()` (the PreparedMatrix, asked for only then)."""
    indices, distances = graph.indices[index, :k].astype(np.int64), graph.distances[index, :k]
    if distances.dtype != np.float64:
        prep = prepared()
        distances = exact.distances(prep.matrix, prep.metric, prep.matrix[index:index + 1], indices[None])[0]
    return indices, distances.copy()
