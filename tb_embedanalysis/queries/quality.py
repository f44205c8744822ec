"""Data-quality questions (issue 18): outliers, and near-duplicates with leaks across splits."""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

from tb_embedanalysis.analysis.duplicates import GRAPH_K, MAX_PAIRS, TooManyPairs
from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending
from tb_embedanalysis.analysis.outliers import SCORE_NAME
from tb_embedanalysis.errors import InvalidArgument, NotFound, Unanalysable
from tb_embedanalysis.logs.model import Embedding
from tb_embedanalysis.queries.rules import (
    MAX_LIMIT, MAX_OFFSET, _column, check_k, check_range, check_work_memory, metadata_row, resolve_metric, space,
    valid_count,
)

#: Members listed per duplicate group (`size` gives the whole count).
MAX_GROUP_MEMBERS = 100


def outliers(engine: AnalysisEngine, embedding: Embedding, *, k: Optional[int] = None, metric: Optional[str] = None,
             offset: Optional[int] = None, limit: Optional[int] = None, wait: bool = False,
             on_progress=None) -> Union[dict, Pending]:
    """/outliers: every finite point ranked by its mean distance to its k nearest neighbours
    (analysis/outliers.py), most outlying first, ties by index; a page of them. metric:
    as the other routes (None / "auto": chosen from the labels, see rules.resolve_metric)."""
    metric, choice = resolve_metric(engine, embedding, metric)
    where = space(embedding, metric)
    k = check_k(embedding, k)
    offset = check_range("offset", offset, default=0, minimum=0, maximum=MAX_OFFSET)
    limit = check_range("limit", limit, default=50, minimum=1, maximum=MAX_LIMIT)
    check_work_memory(engine, embedding, "outliers", k=k)
    report = engine.outliers(where, k=k, wait=wait, on_progress=on_progress)
    if isinstance(report, Pending):
        return report
    total, examples = report.page(offset, limit)
    for example in examples:
        example["metadata"] = metadata_row(embedding, example["index"])
    return {"total": total, "k": report.k, "metric": report.metric, "metric_choice": choice,
            "score": {"name": SCORE_NAME, "range": report.score_range(),
                      "direction": "higher = farther from its nearest neighbours"},
            "examples": examples}


def check_threshold(threshold: Optional[float]) -> Optional[float]:
    if threshold is None:
        return None
    if not math.isfinite(threshold) or threshold < 0:
        raise InvalidArgument("parameter 'threshold' must be a finite distance ≥ 0, got %r" % threshold)
    return float(threshold)


def duplicates(engine: AnalysisEngine, embedding: Embedding, *, threshold: Optional[float] = None,
               split_column: Optional[str] = None, metric: Optional[str] = None, offset: Optional[int] = None,
               limit: Optional[int] = None, wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    """/duplicates: pairs of finite points within `threshold` grouped into sets
    (analysis/duplicates.py); with `split_column`, the groups whose members come from more than
    one split (leaks) first, then by size. A page of groups; at most MAX_GROUP_MEMBERS
    members listed per group."""
    metric, choice = resolve_metric(engine, embedding, metric)
    where = space(embedding, metric)
    threshold = check_threshold(threshold)
    offset = check_range("offset", offset, default=0, minimum=0, maximum=MAX_OFFSET)
    limit = check_range("limit", limit, default=50, minimum=1, maximum=MAX_LIMIT)
    splits = None
    if split_column is not None:
        if embedding.metadata is None:
            raise NotFound("embedding %r has no metadata, so no split column %r" % (embedding.ref.name, split_column))
        splits = embedding.metadata.values[_column(embedding, split_column)]
    if valid_count(embedding) < 2:
        raise Unanalysable("embedding %r has fewer than 2 finite rows" % embedding.ref.name)
    check_work_memory(engine, embedding, "duplicates", k=min(GRAPH_K, valid_count(embedding) - 1),
                      what="finding near-duplicates")
    try:
        report = engine.duplicates(where, threshold=threshold, wait=wait, on_progress=on_progress)
    except TooManyPairs as error:
        raise Unanalysable(str(error)) from None
    if isinstance(report, Pending):
        return report
    crosses = np.zeros(len(report.groups), dtype=bool)
    if splits is not None:
        codes = splits.codes
        crosses = np.array([np.unique(codes[g]).size > 1 for g in report.groups], dtype=bool)
    order = np.lexsort((np.arange(len(report.groups)), ~crosses))  # leaks first, then the report's order
    groups = []
    for g in order[offset:offset + limit].tolist():
        members = report.groups[g]
        group = {"size": int(members.size),
                 "members": [{"index": int(i), "metadata": metadata_row(embedding, int(i))}
                             for i in members[:MAX_GROUP_MEMBERS].tolist()],
                 "max_distance": float(report.max_distance[g]), "crosses_splits": bool(crosses[g]), "splits": []}
        if splits is not None:
            present = np.unique(splits.codes[members])
            group["splits"] = sorted(splits.categories[c] for c in present.tolist())
        groups.append(group)
    return {"threshold": report.threshold, "threshold_source": report.threshold_source, "metric": report.metric,
            "metric_choice": choice, "split_column": split_column, "n_pairs": int(report.pairs.shape[0]), "n_groups": len(report.groups),
            "n_points": int(sum(g.size for g in report.groups)), "leaks": int(np.count_nonzero(crosses)),
            "max_pairs": MAX_PAIRS, "groups": groups}
