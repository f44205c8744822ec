"""The questions the tab and the CLI ask, answered as JSON-ready dicts.

Routes and CLI commands both call these functions, so `tb-embedanalysis analyze --format
json` prints exactly what `/clusters` and `/hard_examples` serve. Nothing here knows about
HTTP: failures raise `tb_embedanalysis.errors` types that the callers map.
"""

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from tb_embedanalysis.analysis import text_match
from tb_embedanalysis.analysis.engine import HARDNESS_METHODS, AnalysisEngine, Pending
from tb_embedanalysis.errors import InvalidArgument, NotFound, Unanalysable
from tb_embedanalysis.logs.model import Embedding

METRICS = ("cosine", "euclidean")
MAX_K = 1000


def metadata_row(embedding: Embedding, index: int) -> dict:
    return embedding.metadata.row(index) if embedding.metadata is not None else {}


def valid_count(embedding: Embedding) -> int:
    return int(np.count_nonzero(embedding.finite))


def check_k(embedding: Embedding, k: int) -> int:
    """1 ≤ k ≤ min(1000, N − 1) over the finite rows."""
    n_valid = valid_count(embedding)
    if n_valid < 2:
        raise Unanalysable("embedding %r has fewer than 2 finite rows" % embedding.ref.name)
    upper = min(MAX_K, n_valid - 1)
    if not 1 <= k <= upper:
        raise InvalidArgument("k must be between 1 and %d for embedding %r, got %d" % (upper, embedding.ref.name, k))
    return k


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise InvalidArgument("metric must be one of %s, got %r" % (", ".join(METRICS), metric))
    return metric


def labels_of(embedding: Embedding, column: Optional[str]) -> Tuple[str, Sequence[str]]:
    """(column, labels) for cluster analysis; the guessed label column when column is None."""
    name = embedding.ref.name
    if embedding.metadata is None:
        raise InvalidArgument(
            "embedding %r has no metadata, so there are no labels to analyse; write a metadata.tsv "
            "with a label column (write_embedding(..., metadata=labels), see the README)" % name
        )
    column = column or embedding.label_column
    if column is None:
        raise InvalidArgument(
            "embedding %r has no label column (its columns: %s); choose one with label_column="
            % (name, ", ".join(embedding.metadata.columns))
        )
    if column not in embedding.metadata.columns:
        raise NotFound("unknown column %r; columns: %s" % (column, ", ".join(embedding.metadata.columns)))
    return column, embedding.metadata.values[column]


def text_column(embedding: Embedding) -> str:
    """The column a typed word is looked up in: the first that is not the label column."""
    columns = embedding.metadata.columns
    for column in columns:
        if column != embedding.label_column:
            return column
    return columns[0]


def resolve_query(embedding: Embedding, *, index: Optional[int], query: Optional[str],
                  column: Optional[str]) -> Tuple[int, int]:
    """(row index, number of rows that matched) for a neighbour query."""
    n_rows = embedding.shape[0]
    if index is None and query is None:
        raise InvalidArgument("pass index= (a row number) or query= (a metadata value)")
    if index is not None:
        if not 0 <= index < n_rows:
            raise NotFound("index %d is out of range: embedding %r has %d rows" % (index, embedding.ref.name, n_rows))
        if not embedding.finite[index]:
            raise Unanalysable("row %d contains NaN or Inf and is excluded from analysis" % index)
        return index, 1
    if embedding.metadata is None:
        raise InvalidArgument("embedding %r has no metadata to look up %r in" % (embedding.ref.name, query))
    column = column or text_column(embedding)
    if column not in embedding.metadata.columns:
        raise NotFound("unknown column %r; columns: %s" % (column, ", ".join(embedding.metadata.columns)))
    rows = [row for row in text_match.find_value(embedding.metadata.values[column], query) if embedding.finite[row]]
    if not rows:
        raise NotFound("no row has %s = %r" % (column, query))
    return rows[0], len(rows)


def neighbors(engine: AnalysisEngine, embedding: Embedding, *, index: Optional[int] = None,
              query: Optional[str] = None, column: Optional[str] = None, k: int = 10,
              metric: str = "cosine", exact: Optional[bool] = None) -> dict:
    check_metric(metric)
    check_k(embedding, k)
    row, matches = resolve_query(embedding, index=index, query=query, column=column)
    result = engine.neighbors(embedding.vectors, embedding.fingerprint, index=row, k=k, metric=metric,
                              exact=exact, valid=embedding.finite)
    return {
        "query": {"index": row, "metadata": metadata_row(embedding, row), "matches": matches},
        "metric": metric,
        "exact": bool(result.exact),
        "neighbors": [
            {"index": int(i), "distance": float(d), "metadata": metadata_row(embedding, int(i))}
            for i, d in zip(result.indices, result.distances)
        ],
    }


def metadata_column(embedding: Embedding, column: Optional[str]) -> dict:
    """Every value of one metadata column in row order (the map colours points by it).

    One compact list instead of N row dicts: 100,000 labels are a few hundred kB of JSON.
    """
    if embedding.metadata is None:
        raise NotFound("embedding %r has no metadata" % embedding.ref.name)
    column = column or embedding.label_column or embedding.metadata.columns[0]
    if column not in embedding.metadata.columns:
        raise NotFound("unknown column %r; columns: %s" % (column, ", ".join(embedding.metadata.columns)))
    return {"column": column, "values": list(embedding.metadata.values[column])}


def search(embedding: Embedding, pattern: str, *, column: Optional[str] = None, limit: int = 100) -> dict:
    if embedding.metadata is None:
        return {"total": 0, "matches": []}
    if column is not None and column not in embedding.metadata.columns:
        raise NotFound("unknown column %r; columns: %s" % (column, ", ".join(embedding.metadata.columns)))
    columns = [column] if column else list(embedding.metadata.columns)
    try:
        total, rows = text_match.search([embedding.metadata.values[c] for c in columns], pattern, limit=limit)
    except text_match.SearchTimeout as error:
        raise InvalidArgument(str(error)) from None
    return {"total": total, "matches": [{"index": row, "metadata": metadata_row(embedding, row)} for row in rows]}


def clusters(engine: AnalysisEngine, embedding: Embedding, *, label_column: Optional[str] = None,
             k: int = 10, metric: str = "cosine", wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    check_metric(metric)
    check_k(embedding, k)
    column, labels = labels_of(embedding, label_column)
    report = engine.clusters(embedding.vectors, embedding.fingerprint, labels, k=k, metric=metric,
                             valid=embedding.finite, wait=wait, label_column=column, **_progress(on_progress))
    if isinstance(report, Pending):
        return report
    payload = report.to_dict()
    payload["overall"]["label_column"] = column
    return payload


def hard_examples(engine: AnalysisEngine, embedding: Embedding, *, label_column: Optional[str] = None,
                  method: Optional[str] = None, k: int = 10, metric: str = "cosine",
                  label: Optional[str] = None, predicted: Optional[str] = None, offset: int = 0,
                  limit: int = 50, wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    check_metric(metric)
    check_k(embedding, k)
    column, labels = labels_of(embedding, label_column)
    if method is not None and method not in HARDNESS_METHODS:
        raise InvalidArgument("unknown method %r; methods: %s" % (method, ", ".join(HARDNESS_METHODS)))
    known = set(labels) if label is not None or predicted is not None else ()
    for name, value in (("label", label), ("predicted", predicted)):
        if value is not None and value not in known:
            raise NotFound("unknown %s %r in column %r" % (name, value, column))
    report = engine.hard_examples(embedding.vectors, embedding.fingerprint, labels, method=method, k=k,
                                  metric=metric, valid=embedding.finite, wait=wait, label_column=column, **_progress(on_progress))
    if isinstance(report, Pending):
        return report
    total, examples = report.page(label=label, predicted=predicted, offset=offset, limit=limit)
    for example in examples:
        example["metadata"] = metadata_row(embedding, example["index"])
    # Every point is ranked (total); `hard_total` counts those whose kNN vote disagrees with
    # their label, the same definition as the per-label `hard_count` of /clusters.
    ranked = report.ranked(label=label, predicted=predicted)
    hard_total = int(np.count_nonzero(report.predicted[ranked] != report.codes[ranked]))
    return {"total": total, "hard_total": hard_total, "method": report.method,
            "methods": list(HARDNESS_METHODS), "label_column": column, "examples": examples}


def _progress(on_progress):
    return {"on_progress": on_progress} if on_progress is not None else {}
