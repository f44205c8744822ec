"""Questions about a subset of rows (issue 27.3: a selection *isolated* in the tab):
cluster statistics and nearest neighbours computed exactly on those rows alone, and the
whole embedding's hard-example ranking restricted to them (the selection's gallery).

The subset is copied into a compact matrix of its own (m × D, m ≤ MAX_SUBSET_ROWS), named
by the embedding's fingerprint and the rows, so each answer costs what an embedding of m
rows costs (never a pass over all N) and is cached like any other: the engine, its graph
buckets and its statistics are the ones the whole embedding uses. The metric is the whole
embedding's (`metric=auto` chooses on all rows): isolating points must not change how
distances are measured.
"""

from __future__ import annotations

import hashlib
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending, Space
from tb_embedanalysis.cache import CacheKey
from tb_embedanalysis.errors import InvalidArgument, Unanalysable
from tb_embedanalysis.logs.model import Column, Embedding
from tb_embedanalysis.queries import questions
from tb_embedanalysis.queries.rules import (
    HISTORY_METHOD, MAX_K, METRIC_CHOICES, check_choice, check_hard_method, check_work_memory, labels_of, metadata_row, resolve_metric, resolve_query,
)

#: The most rows one subset question may hold: its compact copy (m × D float32) and every
#: computation on it are bounded by this, whatever the rows= ranges span.
MAX_SUBSET_ROWS = 200_000


class Subset:
    """The rows of a subset (sorted, finite only) and a compact embedding-like view of them."""

    def __init__(self, embedding: Embedding, rows: np.ndarray):
        self.embedding = embedding
        self.rows = rows  # (m,) int64 original indices, ascending, finite rows only
        digest = hashlib.sha256(embedding.fingerprint.encode("ascii") + b"\0" + rows.astype("<i8").tobytes())
        self.fingerprint = "subset-" + digest.hexdigest()[:40]

    def space(self, engine: AnalysisEngine, metric: str) -> Space:
        """The subset's Space; its compact copy is made once per subset content and kept in
        the engine's result cache (bounded in bytes), not copied again by every request
        (a click's /neighbors?rows= among 200,000 rows of 768 dimensions: 600 MB)."""
        def copy() -> np.ndarray:
            vectors = np.ascontiguousarray(self.embedding.vectors[self.rows])
            vectors.flags.writeable = False
            return vectors

        vectors = engine.memory.once(CacheKey.of("subset-vectors", self.fingerprint), copy)
        return Space(vectors, self.fingerprint, np.ones(self.rows.size, dtype=bool), metric)

    def label_values(self, column: str) -> Column:
        metadata = self.embedding.metadata
        if metadata is None:  # labels_of has refused it before
            raise InvalidArgument("embedding %r has no metadata" % self.embedding.ref.name)
        values = metadata.values[column]
        return Column(np.asarray(values.codes)[self.rows], values.categories)


def check_rows(embedding: Embedding, ranges: Sequence[Tuple[int, int]]) -> Subset:
    """The subset `rows=` names (params.row_ranges): every row must exist; rows with NaN/Inf
    are left out (they are never analysed); at least 2 and at most MAX_SUBSET_ROWS rows."""
    n = embedding.shape[0]
    selected = sum(high - low + 1 for low, high in ranges)
    if selected > MAX_SUBSET_ROWS + n:  # far beyond: refuse before building a mask
        raise InvalidArgument("parameter 'rows' names %d rows; a subset may hold at most %d"
                              % (selected, MAX_SUBSET_ROWS))
    mask = np.zeros(n, dtype=bool)
    for low, high in ranges:
        if high >= n:
            raise InvalidArgument("parameter 'rows': row %d is out of range (embedding %r has %d rows, 0-%d)"
                                  % (high, embedding.ref.name, n, n - 1))
        mask[low:high + 1] = True
    count = int(np.count_nonzero(mask))
    if count > MAX_SUBSET_ROWS:
        raise InvalidArgument("parameter 'rows' names %d rows; a subset may hold at most %d" % (count, MAX_SUBSET_ROWS))
    mask &= embedding.finite
    rows = np.flatnonzero(mask)
    if rows.size < 2:
        raise Unanalysable("parameter 'rows' names %d row%s with finite values; a subset needs at least 2"
                           % (rows.size, "" if rows.size == 1 else "s"))
    return Subset(embedding, rows)


def _check_k(subset: Subset, k: Optional[int]) -> int:
    upper = min(MAX_K, subset.rows.size - 1)
    if k is None:
        return min(10, upper)
    if not 1 <= k <= upper:
        raise InvalidArgument("k must be between 1 and %d for these %d rows, got %d" % (upper, subset.rows.size, k))
    return k


def clusters(engine: AnalysisEngine, embedding: Embedding, *, rows: Sequence[Tuple[int, int]],
             label_column: Optional[str] = None, k: Optional[int] = None, metric: Optional[str] = None,
             wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    """/clusters on the rows `rows` names alone: every figure (kNN votes, purity, silhouette,
    Davies–Bouldin, the confusion matrix) as if those rows were the whole embedding."""
    subset = check_rows(embedding, rows)
    k = _check_k(subset, k)
    metric = check_choice("metric", metric, METRIC_CHOICES)
    column, _ = labels_of(engine, embedding, label_column, Space(embedding.vectors, embedding.fingerprint,
                                                                  embedding.finite))
    metric, choice = resolve_metric(engine, embedding, metric, column)
    where = subset.space(engine, metric)
    try:
        encoded = engine.labels(where, subset.label_values(column), column=column)
    except ValueError as error:  # labels.NoClustersError: every selected point has its own label
        raise InvalidArgument("these %d rows cannot be analysed by label: %s" % (subset.rows.size, error)) from None
    check_work_memory(engine, embedding, "labels", k=k, n_labels=len(encoded.names), valid=subset.rows.size)
    report = engine.clusters(where, encoded, k=k, wait=wait, on_progress=on_progress)
    if isinstance(report, Pending):
        return report
    payload = report.to_dict()
    payload["overall"].update(label_column=column, metric_choice=choice, subset_rows=int(subset.rows.size))
    return payload


def neighbors(engine: AnalysisEngine, embedding: Embedding, *, rows: Sequence[Tuple[int, int]], index: int,
              k: Optional[int] = None, metric: Optional[str] = None,
              label_column: Optional[str] = None) -> dict:
    """/neighbors of row `index` among the rows `rows` names (index itself need not be one
    of them; it is never its own neighbour). Exact: the same scan as the whole embedding's."""
    row, _ = resolve_query(embedding, index=index, query=None, column=None)
    subset = check_rows(embedding, rows)
    metric, choice = resolve_metric(engine, embedding, check_choice("metric", metric, METRIC_CHOICES), label_column)
    where = subset.space(engine, metric)
    position = np.searchsorted(subset.rows, row)
    inside = position < subset.rows.size and subset.rows[position] == row
    upper = min(MAX_K, subset.rows.size - (1 if inside else 0))
    k = min(10, upper) if k is None else k
    if not 1 <= k <= upper:
        raise InvalidArgument("k must be between 1 and %d for these %d rows, got %d" % (upper, subset.rows.size, k))
    if inside:
        result = engine.neighbors(where, index=int(position), k=k)
    else:
        result = engine.neighbors(where, vector=embedding.vectors[row], k=k)
    found: List[dict] = [{"index": int(subset.rows[i]), "distance": float(d),
                          "metadata": metadata_row(embedding, int(subset.rows[i]))}
                         for i, d in zip(result.indices, result.distances)]
    return {"query": {"index": row, "metadata": metadata_row(embedding, row), "matches": 1},
            "metric": where.metric, "metric_choice": choice, "exact": bool(result.exact),
            "subset_rows": int(subset.rows.size), "neighbors": found}


def hard_examples(engine: AnalysisEngine, embedding: Embedding, *, rows: Sequence[Tuple[int, int]],
                  method: Optional[str] = None, label_column: Optional[str] = None, k: Optional[int] = None,
                  metric: Optional[str] = None, label: Optional[str] = None, predicted: Optional[str] = None,
                  offset: Optional[int] = None, limit: Optional[int] = None, wait: bool = False,
                  on_progress=None) -> Union[dict, Pending]:
    """The whole embedding's hard-example ranking (one step's score) restricted to the rows
    `rows` names: each point's label, kNN vote and score among *all* rows, listed hardest
    first; `total` and `hard_total` count the subset's points. The tab's selection gallery."""
    if check_hard_method(method) == HISTORY_METHOD:
        raise InvalidArgument("parameter 'rows' works with one step's scores, not method %r" % HISTORY_METHOD)
    subset = check_rows(embedding, rows)
    outside = np.ones(embedding.shape[0], dtype=bool)
    outside[subset.rows] = False
    payload = questions.hard_examples(engine, embedding, label_column=label_column, method=method, k=k,
                                      metric=metric, label=label, predicted=predicted, offset=offset, limit=limit,
                                      wait=wait, on_progress=on_progress, hide_rows=np.flatnonzero(outside))
    if isinstance(payload, Pending):
        return payload
    payload.pop("hidden", None)  # rows outside the subset, not points hidden by a tag
    payload["subset_rows"] = int(subset.rows.size)
    return payload
