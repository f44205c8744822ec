"""Every rule about a question's parameters, once (the Workspace questions run in: workspace.py)."""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.analysis import estimates, text_match
from tb_embedanalysis.analysis.engine import (  # noqa: F401  (Pending: re-exported for the routes)
    DEFAULT_HARDNESS_METHOD, HARDNESS_METHODS, AnalysisEngine, Pending, Space,
)
from tb_embedanalysis.analysis.labels import EncodedLabels, NoClustersError
from tb_embedanalysis.analysis.neighbors import METRICS
from tb_embedanalysis.budget import fmt_mb, mb
from tb_embedanalysis.errors import InvalidArgument, NotFound, QueryError, Unanalysable
from tb_embedanalysis.logs.model import Embedding

AUTO_METRIC = "auto"  # the metric parameter's default: chosen per embedding from its labels
METRIC_CHOICES = (AUTO_METRIC,) + tuple(METRICS)  # what metric= accepts
MAX_K = 1000
DEFAULT_K = 10
MAX_LIMIT = 1000
MAX_SEARCH_LIMIT = 100_000
MAX_OFFSET = 10 ** 9
HISTORY_METHOD = "history"  # /hard_examples ranked by the training-history score (queries/history.py)
#: What /hard_examples ranks by: one step's hardness scores, or the history over every step.
HARD_EXAMPLE_METHODS = tuple(HARDNESS_METHODS) + (HISTORY_METHOD,)


# -- rules ------------------------------------------------------------------------------
def valid_count(embedding: Embedding) -> int:
    return int(np.count_nonzero(embedding.finite))


def check_k(embedding: Embedding, k: Optional[int]) -> int:
    """k given: 1 ≤ k ≤ min(MAX_K, valid rows − 1), else an error naming both; k absent:
    DEFAULT_K, shrunk for tiny embeddings."""
    n_valid = valid_count(embedding)
    if n_valid < 2:
        raise Unanalysable("embedding %r has fewer than 2 finite rows" % embedding.ref.name)
    upper = min(MAX_K, n_valid - 1)
    if k is None:
        return min(DEFAULT_K, upper)
    if not 1 <= k <= upper:
        raise InvalidArgument("k must be between 1 and %d for embedding %r, got %d" % (upper, embedding.ref.name, k))
    return k


#: Where the working-memory budget is set, for messages (the routes' flag and the CLI's).
WORK_MEMORY_FLAGS = "TensorBoard: --embedanalysis_work_memory_mb; tb-embedanalysis: --work-memory-mb"


def check_work_memory(engine: AnalysisEngine, embedding: Embedding, question: str, *, k: int, n_labels: int = 1,
                      steps: int = 1, valid: Optional[int] = None, what: str = "") -> None:
    """Refuse (422) a computation whose working memory, estimated before it starts
    (analysis/estimates.py `question` with k neighbours over `valid` rows, default the
    embedding's finite ones), would pass the engine's budget (`--embedanalysis_work_memory_mb`,
    `--work-memory-mb`). The message says how much it needs, the largest k that fits (when
    k is the caller's to choose: `what` empty) and which flag raises the budget."""
    rows, d = embedding.shape
    n_valid = valid_count(embedding) if valid is None else int(valid)
    budget = engine.work_memory_bytes

    def needs(kk: int) -> estimates.Estimate:
        return estimates.estimate(question, estimates.Shape(rows=rows, valid=n_valid, d=d, k=kk,
                                                            n_labels=max(1, n_labels), steps=steps))

    need = needs(k)
    if need.bytes <= budget:
        return
    details: Dict[str, Optional[int]] = {"needed_mb": mb(need.bytes), "work_memory_mb": mb(budget)}
    size = "{:,} rows × {}".format(rows, d)
    if what:  # k is not the caller's (near-duplicates)
        asked, advice = "%s on %s" % (what, size), "raise the budget (%s)" % WORK_MEMORY_FLAGS
    else:
        asked = "k = %d on %s" % (k, size) + (" over %d steps" % steps if steps > 1 else "")
        low, high = 0, k - 1  # the largest k that fits: estimates grow with k
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if needs(mid).bytes <= budget else (low, mid - 1)
        details["largest_k"] = low or None
        advice = ("ask for k ≤ %d, or raise the budget (%s)" % (low, WORK_MEMORY_FLAGS) if low
                  else "even k = 1 does not fit: raise the budget (%s)" % WORK_MEMORY_FLAGS)
    raise Unanalysable(
        "%s needs about %s of working memory (its kNN graph, for k = %d, alone %s), more than the budget of %s: %s"
        % (asked, fmt_mb(need.bytes), need.graph_k, fmt_mb(need.graph_bytes), fmt_mb(budget), advice),
        details=details)


def check_metric(metric: Optional[str]) -> str:
    """An explicit metric (cosine when none is given); see resolve_metric for "auto"."""
    return check_choice("metric", metric, METRICS)


def resolve_metric(engine: AnalysisEngine, embedding: Embedding, metric: Optional[str],
                   label_column: Optional[str] = None) -> Tuple[str, Optional[dict]]:
    """(metric, how it was chosen): `metric` as given, or for None / "auto" the one under
    which the labels (label_column, else the guessed label column) are most predictable
    from the neighbours (analysis/metric_choice.py); cosine when there are no labels.
    The second item is None when the metric was given, else the choice as JSON."""
    metric = check_choice("metric", metric, METRIC_CHOICES)
    if metric != AUTO_METRIC:
        return metric, None
    default = METRICS[0]
    if embedding.metadata is None or not (label_column or embedding.label_column):
        return default, {"chosen": default, "by": "default: no label column to choose by"}
    where = space(embedding, default)
    try:
        _, encoded = labels_of(engine, embedding, label_column, where)
    except QueryError as error:  # the label question itself will say what is wrong
        return default, {"chosen": default, "by": "default: %s" % error}
    choice = engine.metric_choice(where, encoded)
    return choice.metric, choice.to_dict()


def check_hard_method(method: Optional[str]) -> str:
    """A /hard_examples method (HARD_EXAMPLE_METHODS; None: the default score), else an
    error listing every one: whether "history" can answer depends on the steps, not the name."""
    if method is None:
        return DEFAULT_HARDNESS_METHOD
    if method not in HARD_EXAMPLE_METHODS:
        raise InvalidArgument("unknown method %r; methods: %s" % (method[:50], ", ".join(HARD_EXAMPLE_METHODS)))
    return method


def check_range(name: str, value: Optional[int], *, default: int, minimum: int, maximum: int) -> int:
    if value is None:
        return default
    if not minimum <= value <= maximum:
        raise InvalidArgument("parameter %r must be between %d and %d, got %d" % (name, minimum, maximum, value))
    return value


def check_choice(name: str, value: Optional[str], choices: Sequence[str]) -> str:
    if value is None:
        return choices[0]
    if value not in choices:
        raise InvalidArgument("parameter %r must be one of %s, got %r" % (name, ", ".join(choices), value[:50]))
    return value


def space(embedding: Embedding, metric: Optional[str] = None) -> Space:
    return Space(embedding.vectors, embedding.fingerprint, embedding.finite, check_metric(metric))


def _column(embedding: Embedding, column: str) -> str:
    columns = embedding.metadata.columns if embedding.metadata is not None else ()
    if column not in columns:
        raise NotFound("unknown column %r; columns: %s" % (column, ", ".join(columns)))
    return column


def labels_of(engine: AnalysisEngine, embedding: Embedding, column: Optional[str],
              where: Space) -> Tuple[str, EncodedLabels]:
    """(column, its labels encoded for the valid rows): the guessed label column when None."""
    name = embedding.ref.name
    if embedding.metadata is None:
        refused = [w for w in embedding.warnings if w.startswith("metadata")]
        if refused:  # there is a metadata file, but it was refused: say why, not "write one"
            raise Unanalysable("embedding %r has no labels to analyse: %s" % (name, refused[0]))
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
    _column(embedding, column)
    try:
        return column, engine.labels(where, embedding.metadata.values[column], column=column)
    except NoClustersError as error:  # the column chosen (or guessed) is not a label column
        raise InvalidArgument(str(error)) from None


@dataclasses.dataclass(frozen=True)
class LabelQuestion:
    """k, metric and label column of a question about one embedding's labels (/clusters,
    /hard_examples, /compare), each checked by its rule against that embedding."""

    k: int
    metric: str  # AUTO_METRIC or a METRICS name, as asked (resolve_metric chooses for "auto")
    label_column: str  # the column asked for, else the guessed label column


def label_question(engine: AnalysisEngine, embedding: Embedding, *, k: Optional[int], metric: Optional[str],
                   label_column: Optional[str]) -> LabelQuestion:
    """The parameters of a label question checked in the order the routes report them: k
    (check_k), the metric's name, the labels (labels_of: metadata, column, a column of
    labels), then whether the analysis fits the working-memory budget (check_work_memory)."""
    k = check_k(embedding, k)
    metric = check_choice("metric", metric, METRIC_CHOICES)
    column, encoded = labels_of(engine, embedding, label_column, space(embedding))
    check_work_memory(engine, embedding, "labels", k=k, n_labels=len(encoded.names))
    return LabelQuestion(k, metric, column)


def metadata_row(embedding: Embedding, index: int) -> dict:
    return embedding.metadata.row(index) if embedding.metadata is not None else {}


def text_column(embedding: Embedding) -> str:
    """The column a typed word is looked up in: the first that is not the label column."""
    if embedding.metadata is None:
        raise InvalidArgument("embedding %r has no metadata to look words up in" % embedding.ref.name)
    columns = embedding.metadata.columns
    for column in columns:
        if column != embedding.label_column:
            return column
    return columns[0]


def resolve_query(embedding: Embedding, *, index: Optional[int], query: Optional[str],
                  column: Optional[str]) -> Tuple[int, int]:
    """(row index, number of rows that matched) for a neighbour query."""
    n_rows = embedding.shape[0]
    if index is not None:
        if not 0 <= index < n_rows:
            raise NotFound("index %d is out of range: embedding %r has %d rows" % (index, embedding.ref.name, n_rows))
        if not embedding.finite[index]:
            raise Unanalysable("row %d contains NaN or Inf and is excluded from analysis" % index)
        return index, 1
    if query is None:
        raise InvalidArgument("pass index= (a row number) or query= (a metadata value)")
    if embedding.metadata is None:
        raise InvalidArgument("embedding %r has no metadata to look up %r in" % (embedding.ref.name, query))
    column = _column(embedding, column or text_column(embedding))
    values = embedding.metadata.values[column]
    rows = [row for row in text_match.find_value(values, query) if embedding.finite[row]]
    if not rows:  # the tab offers the close spellings as links
        raise NotFound("no row has %s = %r" % (column, query),
                       details={"suggestions": text_match.suggestions(values, query)})
    return rows[0], len(rows)
