"""The questions routes and CLI ask about one embedding (and /runs, /compare), as JSON-ready dicts."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Union

import numpy as np

from tb_embedanalysis.analysis import column_values, text_match
from tb_embedanalysis.analysis.engine import HARDNESS_METHODS, AnalysisEngine, Pending
from tb_embedanalysis.errors import InvalidArgument, NotFound, QueryError, bug_message, new_error_id
from tb_embedanalysis.logs import EmbeddingStore
from tb_embedanalysis.logs.errors import LogError
from tb_embedanalysis.logs.model import Embedding, EmbeddingSeries
from tb_embedanalysis.quoting import clipped
from tb_embedanalysis.queries.provenance import provenance
from tb_embedanalysis.queries import quick
from tb_embedanalysis.queries.rules import (
    HISTORY_METHOD, MAX_LIMIT, MAX_OFFSET, MAX_SEARCH_LIMIT, _column, check_hard_method,
    check_k, check_range, label_question, labels_of, metadata_row, resolve_metric, resolve_query, space,
)
from tb_embedanalysis.queries.workspace import Workspace

logger = logging.getLogger(__name__)


def runs(workspace: Workspace) -> dict:
    """Every run with its embeddings (latest step described), and the configs' problems."""
    listed: List[dict] = []
    problems: List[dict] = []
    for info in workspace.catalog.runs():
        listed.append({"run": info.run, "embeddings": [_describe(workspace, series) for series in info.series]})
        problems.extend({"run": p.run, "config": p.config_path, "error": p.message} for p in info.problems)
    return {"runs": listed, "problems": problems}


def _describe(workspace: Workspace, series: EmbeddingSeries) -> dict:
    """/runs' entry for the latest step of `series`. An embedding that is neither held nor
    small is described from cheap facts (EmbeddingStore.summary) so that /runs answers in
    well under a second; its nonfinite_rows is then 0 until it is loaded, and errors only
    parsing finds (a non-UTF-8 byte, a row too long) surface as 422 from the data routes."""
    entry: Dict[str, Any] = {"name": series.name, "step": series.refs[-1].step, "steps": list(series.steps), "shape": None,
             "columns": [], "label_column": None, "has_sprite": False, "thumbnail_size": None,
             "nonfinite_rows": 0, "warnings": [], "error": None}
    try:
        summary = workspace.summary(series.run, series.name)
    except (QueryError, LogError) as error:  # listed with its error, never dropped
        entry["error"] = str(error)
        return entry
    except Exception:
        error_id = new_error_id()
        logger.exception("embedanalysis: describing %s/%s for /runs failed [error id %s]",
                         series.run, series.name, error_id)
        entry["error"] = bug_message("describing this embedding", error_id)
        return entry
    if summary.ref != series.refs[-1]:  # training moved on while we looked: list what we show
        try:
            entry["steps"] = list(workspace.catalog.series(series.run, series.name).steps)
        except QueryError:
            pass
        entry["step"] = summary.ref.step
        if summary.ref.step not in entry["steps"]:
            entry["steps"].append(summary.ref.step)
    entry.update(
        shape=list(summary.shape),
        columns=list(summary.columns),
        label_column=summary.label_column,
        has_sprite=summary.sprite is not None,
        thumbnail_size=list(summary.sprite.thumbnail_size) if summary.sprite else None,
        nonfinite_rows=summary.nonfinite_rows,
        warnings=list(summary.warnings),
    )
    return entry


def neighbors(engine: AnalysisEngine, embedding: Embedding, *, index: Optional[int] = None,
              query: Optional[str] = None, column: Optional[str] = None, k: Optional[int] = None,
              metric: Optional[str] = None, label_column: Optional[str] = None) -> dict:
    """The k nearest valid rows of row `index`, or of the first row whose `column` holds
    `query`; always exact (`exact` in the answer says so)."""
    metric, choice = resolve_metric(engine, embedding, metric, label_column)
    where = space(embedding, metric)
    k = check_k(embedding, k)
    row, matches = resolve_query(embedding, index=index, query=query, column=column)
    result = engine.neighbors(where, index=row, k=k)
    return {
        "query": {"index": row, "metadata": metadata_row(embedding, row), "matches": matches},
        "metric": where.metric,
        "metric_choice": choice,
        "exact": bool(result.exact),
        "neighbors": [
            {"index": int(i), "distance": float(d), "metadata": metadata_row(embedding, int(i))}
            for i, d in zip(result.indices, result.distances)
        ],
    }


def metadata_column(embedding: Embedding, column: Optional[str]) -> dict:
    """Every row's value of one metadata column (the map colours points by it), as the
    column is held: its distinct values (`categories`, in order of first appearance) and
    one code per row, row i's value being categories[codes[i]]. At 1,000,000 rows with
    1,000 labels that is 4 MB of small integers to encode and parse instead of 12 MB of
    strings, and the tab makes one object per label, not one per row.
    """
    if embedding.metadata is None:
        raise NotFound("embedding %r has no metadata" % embedding.ref.name)
    column = _column(embedding, column or embedding.label_column or embedding.metadata.columns[0])
    values = embedding.metadata.values[column]
    # numeric: each category's number, exact min and max (column_values.py), or None.
    return {"column": column, "categories": list(values.categories), "codes": values.codes,
            "numeric": column_values.summary(values.categories, values.codes)}


def search(embedding: Embedding, pattern: str, *, column: Optional[str] = None, limit: Optional[int] = None,
           literal: bool = False) -> dict:
    """Rows whose metadata matches `pattern` (a regex; with literal=True, plain text).
    `as_text`: the pattern was searched as plain text because it is not a valid regex
    (`regex_error` says why), so the tab can say so instead of a bare "0 matches"."""
    limit = check_range("limit", limit, default=100, minimum=1, maximum=MAX_SEARCH_LIMIT)
    try:
        problem = None if literal else text_match.regex_error(pattern)
        problem = None if problem is None else clipped(problem, 120)  # RE2 quotes the pattern: bound the echo
        if embedding.metadata is None:
            return {"total": 0, "matches": [], "as_text": problem is not None, "regex_error": problem}
        columns = [_column(embedding, column)] if column else list(embedding.metadata.columns)
        total, rows = text_match.search([embedding.metadata.values[c] for c in columns], pattern, limit=limit,
                                         literal=literal)
    except text_match.SearchTimeout as error:  # its message names the parameter q
        raise InvalidArgument(str(error)) from None
    return {"total": total, "matches": [{"index": row, "metadata": metadata_row(embedding, row)} for row in rows],
            "as_text": problem is not None, "regex_error": problem}


def clusters(engine: AnalysisEngine, embedding: Embedding, *, label_column: Optional[str] = None,
             k: Optional[int] = None, metric: Optional[str] = None, wait: bool = False,
             on_progress=None, estimate: bool = True) -> Union[dict, Pending]:
    """/clusters, or Pending with a sample's estimate meanwhile (queries/quick.py) unless
    `estimate` is False (/compare asks every step: an estimate for the shown one only)."""
    asked = label_question(engine, embedding, k=k, metric=metric, label_column=label_column)
    metric, choice = resolve_metric(engine, embedding, asked.metric, asked.label_column)
    where = space(embedding, metric)
    column, encoded = labels_of(engine, embedding, asked.label_column, where)
    report = engine.clusters(where, encoded, k=asked.k, wait=wait, on_progress=on_progress, estimate=estimate)
    if isinstance(report, Pending):  # the sample's estimate meanwhile, when there is one
        if not estimate:
            return report
        return quick.clusters_pending(engine, where, encoded, asked.k, report, column=column, choice=choice)
    payload = report.to_dict()
    payload["overall"]["label_column"] = column
    payload["overall"]["metric_choice"] = choice
    # precomputed ahead: by what, when (while this report's entry or its graphs are on disk)
    payload["provenance"] = provenance(engine, where, engine.clusters_key(where, encoded, asked.k))
    return payload


def hard_examples(engine: AnalysisEngine, embedding: Embedding, *, label_column: Optional[str] = None,
                  method: Optional[str] = None, k: Optional[int] = None, metric: Optional[str] = None,
                  label: Optional[str] = None, predicted: Optional[str] = None, offset: Optional[int] = None,
                  limit: Optional[int] = None, wait: bool = False, on_progress=None,
                  hide_rows: Optional[np.ndarray] = None) -> Union[dict, Pending]:
    """One step's hard examples (method: a HARDNESS_METHODS score; ranked_examples answers
    method=history). hide_rows: row indices left out after ranking (points tagged "ok"),
    counted in `hidden`."""
    method = check_hard_method(method)
    if method == HISTORY_METHOD:
        raise InvalidArgument("method %r ranks every step, not one: ask ranked_examples" % method)
    asked = label_question(engine, embedding, k=k, metric=metric, label_column=label_column)
    offset = check_range("offset", offset, default=0, minimum=0, maximum=MAX_OFFSET)
    limit = check_range("limit", limit, default=50, minimum=1, maximum=MAX_LIMIT)
    metric, choice = resolve_metric(engine, embedding, asked.metric, asked.label_column)
    where = space(embedding, metric)
    column, encoded = labels_of(engine, embedding, asked.label_column, where)
    for name, value in (("label", label), ("predicted", predicted)):
        if value is not None and value not in encoded.names:
            raise NotFound("unknown %s %r in column %r" % (name, value, column))
    report = engine.hard_examples(where, encoded, method=method, k=asked.k, wait=wait,
                                  on_progress=on_progress)
    if isinstance(report, Pending):
        return quick.hard_pending(engine, embedding, where, encoded, asked.k, report, column=column, label=label,
                                  predicted=predicted, limit=limit, hide_rows=hide_rows)
    payload = _hard_page(report, embedding, column, label=label, predicted=predicted, offset=offset, limit=limit,
                         hide_rows=hide_rows)
    payload.update(metric=metric, metric_choice=choice)
    return payload


def _hard_page(report, embedding: Embedding, column: str, *, label: Optional[str], predicted: Optional[str],
               offset: int, limit: int, hide_rows: Optional[np.ndarray] = None) -> dict:
    """The /hard_examples body of one page of a HardnessReport; rows in `hide_rows` are left
    out after ranking and before paging, so `total` and `hard_total` count what is listed."""
    ranked = report.ranked(label=label, predicted=predicted)
    hidden = 0
    if hide_rows is not None and hide_rows.size:
        keep = ~np.isin(report.rows[ranked], hide_rows)
        hidden = int(ranked.size - np.count_nonzero(keep))
        ranked = ranked[keep]
    examples = [report.example(int(pos)) for pos in ranked[offset:offset + limit]]
    for example in examples:
        example["metadata"] = metadata_row(embedding, example["index"])
    # Every point is ranked (total); `hard_total` counts those whose kNN vote disagrees with
    # their label, the same definition as the per-label `hard_count` of /clusters.
    hard_total = int(np.count_nonzero(report.predicted[ranked] != report.codes[ranked]))
    payload = {"total": int(ranked.size), "hard_total": hard_total, "method": report.method,
               "methods": list(HARDNESS_METHODS), "label_column": column, "examples": examples}
    if hide_rows is not None:
        payload["hidden"] = hidden  # ranked points left out because of their tag
    return payload


def projection_json(result) -> dict:
    coords = np.ascontiguousarray(result.coords, dtype="<f4")
    return {"method": result.method, "n": int(coords.shape[0]), "sampled": bool(result.sampled),
            "coords": np.round(coords.astype(np.float64), 5)}


def thumbnail(store: EmbeddingStore, embedding: Embedding, index: int) -> bytes:
    """PNG bytes of row `index`'s thumbnail."""
    if not 0 <= index < embedding.shape[0]:
        raise NotFound("index %d is out of range: embedding %r has %d rows"
                       % (index, embedding.ref.name, embedding.shape[0]))
    if embedding.sprite is None:
        raise NotFound("embedding %r has no sprite image, so no thumbnails" % embedding.ref.name)
    return store.thumbnail_png(embedding, index)


def compare(workspace: Workspace, run: str, name: str, *, label_column: Optional[str] = None,
            k: Optional[int] = None, metric: Optional[str] = None) -> Union[dict, Pending]:
    """Cluster statistics of every step of `name`, in `run` first, then in the other runs.

    The parameters are checked as /clusters checks them, against the embedding the tab
    shows (`run`'s latest step): what /clusters refuses is refused, not repeated as the
    error of every step. A step where they do not fit (fewer rows than k, no such column)
    lists its own error, and so does a step that cannot be read (if that is the shown one,
    the parameters are checked step by step)."""
    workspace.catalog.series(run, name)  # 404 for an unknown run or embedding
    try:
        shown = workspace.load(run, name)
    except LogError:
        shown = None  # its entry says why
    if shown is not None:
        label_question(workspace.engine, shown, k=k, metric=metric, label_column=label_column)
    entries, pending = [], []
    for series in workspace.catalog.same_name_elsewhere(name):
        for ref in series.refs:
            entry = {"run": ref.run, "step": ref.step}
            try:
                result = clusters(workspace.engine, workspace.store.load(ref), label_column=label_column,
                                  k=k, metric=metric,
                                  # the shown step's job is /clusters' own: it keeps the estimate
                                  estimate=shown is not None and ref == shown.ref)
            except (QueryError, LogError) as error:  # a broken step must not hide the others
                entry["error"] = str(error)
            else:
                if isinstance(result, Pending):
                    pending.append(result.progress)
                    continue
                entry.update(overall=result["overall"], labels=result["labels"])
            entries.append(entry)
    if pending:
        progress = (len(entries) + sum(pending)) / (len(entries) + len(pending))
        return Pending(progress=progress, message="statistics of every step")
    entries.sort(key=lambda e: (e["run"] != run, e["run"], -1 if e["step"] is None else e["step"]))
    return {"run": run, "embedding": name, "series": entries}
