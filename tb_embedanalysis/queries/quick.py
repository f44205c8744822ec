"""First answers while the exact pass runs: a sample's estimate (analysis/estimate_sample.py)
put into the 202 answers of /clusters and /hard_examples, and `quick_clusters`, the CLI's
`analyze --quick`.

Every estimate is marked as one: `sample_size` (rows whose exact neighbours were found),
`n` (all valid rows), `interval` (the kind: Wilson 95 %) and each figure's interval under
`intervals` (see http_api.md). The exact answer replaces it when the pass ends.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending
from tb_embedanalysis.analysis.estimate_sample import SampleEstimate
from tb_embedanalysis.analysis.labels import EncodedLabels
from tb_embedanalysis.analysis.space import Space
from tb_embedanalysis.errors import InvalidArgument
from tb_embedanalysis.logs.model import Embedding
from tb_embedanalysis.queries.rules import check_range, label_question, labels_of, metadata_row, resolve_metric, space

#: The most rows --quick samples on request (`--sample`): the products grow with it.
MAX_SAMPLE = 100_000


def clusters_pending(engine: AnalysisEngine, where: Space, encoded: EncodedLabels, k: int, pending: Pending, *,
                     column: str, choice: Optional[dict]) -> Pending:
    """`pending` (the exact /clusters still running) with the sample's estimate when there is one."""
    found = engine.estimates.early(where, encoded, k=k)
    if found is None:
        return pending
    estimate = _labelled(found.to_dict(), column, choice)
    return dataclasses.replace(pending, estimate=estimate)


def _labelled(estimate: dict, column: str, choice: Optional[dict]) -> dict:
    """A copy of SampleEstimate.to_dict() (made once, shared by every poll) with the label
    column and the metric choice in its overall figures."""
    return dict(estimate, overall=dict(estimate["overall"], label_column=column, metric_choice=choice))


def hard_pending(engine: AnalysisEngine, embedding: Embedding, where: Space, encoded: EncodedLabels, k: int,
                 pending: Pending, *, column: str, label: Optional[str], predicted: Optional[str], limit: int,
                 hide_rows: Optional[np.ndarray]) -> Pending:
    """`pending` (the exact /hard_examples still running) with the sample's hard examples, the
    same filters applied (label, predicted, tagged rows hidden), when there are some."""
    found = engine.estimates.early(where, encoded, k=k)
    if found is None:
        return pending
    page = found.hard_page(limit=limit, label=label, predicted=predicted, hide_rows=hide_rows)
    for example in page["examples"]:
        example["metadata"] = metadata_row(embedding, example["index"])
    page["label_column"] = column
    return dataclasses.replace(pending, estimate=page)


def quick_clusters(engine: AnalysisEngine, embedding: Embedding, *, label_column: Optional[str] = None,
                   k: Optional[int] = None, metric: Optional[str] = None, sample: Optional[int] = None,
                   limit: int = 20, on_progress=None) -> dict:
    """`analyze --quick`: the estimate of /clusters' kNN figures and the sample's hardest rows,
    without the exact pass. sample: rows to sample (None: estimate_sample.sample_size)."""
    asked = label_question(engine, embedding, k=k, metric=metric, label_column=label_column)
    if sample is not None:
        sample = check_range("sample", sample, default=0, minimum=1, maximum=MAX_SAMPLE)
    metric_name, choice = resolve_metric(engine, embedding, asked.metric, asked.label_column)
    where = space(embedding, metric_name)
    column, encoded = labels_of(engine, embedding, asked.label_column, where)
    if sample is not None and sample > where.n_valid:
        raise InvalidArgument("--sample %d is more than the %d valid rows" % (sample, where.n_valid))
    found = engine.estimates.run(where, encoded, k=asked.k, size=sample, wait=True, on_progress=on_progress)
    if not isinstance(found, SampleEstimate):  # wait=True blocks until done
        raise RuntimeError("the estimate answered 'pending' although asked to wait")
    estimate = _labelled(found.to_dict(), column, choice)
    hard = found.hard_page(limit=limit)
    for example in hard["examples"]:
        example["metadata"] = metadata_row(embedding, example["index"])
    return {"estimate": estimate, "hard_examples": hard}
