"""The questions the tab and the CLI ask, answered as JSON-ready dicts: the one seam.

Every route is parse (plugin/params.py: syntax only) → one function here → respond, and
the CLI calls the same functions, so `tb-embedanalysis analyze --format json` prints
exactly what `/clusters` and `/hard_examples` serve. Every *rule* about a parameter
(k's range and default, known metrics, columns, labels, limits) lives here, once. Nothing
here knows about HTTP: failures raise `tb_embedanalysis.errors` types that callers map.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from tb_embedanalysis.analysis import text_match
from tb_embedanalysis.analysis.engine import DEFAULT_HARDNESS_METHOD, HARDNESS_METHODS, AnalysisEngine, Pending, Space
from tb_embedanalysis.analysis.labels import EncodedLabels, NoClustersError
from tb_embedanalysis.analysis.neighbors import METRICS
from tb_embedanalysis.analysis.projection import PROJECTIONS
from tb_embedanalysis.catalog import Catalog
from tb_embedanalysis.errors import InvalidArgument, NotFound, QueryError, Unanalysable
from tb_embedanalysis.logs import EmbeddingStore
from tb_embedanalysis.logs.errors import LogError
from tb_embedanalysis.logs.model import Embedding, EmbeddingSeries, EmbeddingSummary

MAX_K = 1000
DEFAULT_K = 10
MAX_LIMIT = 1000
MAX_SEARCH_LIMIT = 100_000
MAX_OFFSET = 10 ** 9


@dataclasses.dataclass(frozen=True)
class Workspace:
    """What answering needs: the logdir's catalog, the loaded embeddings, the engine."""

    catalog: Catalog
    store: EmbeddingStore
    engine: AnalysisEngine

    def load(self, run: str, name: str, step: Optional[int] = None) -> Embedding:
        """The embedding at `step` (None: latest) as the logdir holds it now."""
        return self._current(run, name, step, self.store.load)

    def summary(self, run: str, name: str) -> EmbeddingSummary:
        """Cheap facts about the latest step (EmbeddingStore.summary), for listing."""
        return self._current(run, name, None, self.store.summary)

    def _current(self, run: str, name: str, step: Optional[int], read):
        """read(ref) of the ref at `step`, looking at the logdir again if it fails.

        Training may delete or add files between discovery and loading (max_to_keep deletes
        old checkpoints; the first checkpoint read imports TensorFlow, which takes seconds):
        when reading fails, look at the logdir again. A step that is gone is a 404 saying
        so; a "latest" that moved is read instead; an unchanged ref keeps its error.
        """
        ref = self.catalog.ref(run, name, step)
        for _ in range(2):
            try:
                return read(ref)
            except LogError:
                current = self.catalog.ref(run, name, step, check_now=True)
                if current == ref:
                    raise
                ref = current
        return read(ref)


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


def check_metric(metric: Optional[str]) -> str:
    return check_choice("metric", metric, METRICS)


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
    if column not in embedding.metadata.columns:
        raise NotFound("unknown column %r; columns: %s" % (column, ", ".join(embedding.metadata.columns)))
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


def metadata_row(embedding: Embedding, index: int) -> dict:
    return embedding.metadata.row(index) if embedding.metadata is not None else {}


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
    column = _column(embedding, column or text_column(embedding))
    values = embedding.metadata.values[column]
    rows = [row for row in text_match.find_value(values, query) if embedding.finite[row]]
    if not rows:  # the tab offers the close spellings as links
        raise NotFound("no row has %s = %r" % (column, query),
                       details={"suggestions": text_match.suggestions(values, query)})
    return rows[0], len(rows)


# -- questions --------------------------------------------------------------------------
def runs(workspace: Workspace) -> dict:
    """Every run with its embeddings (latest step described), and the configs' problems."""
    listed, problems = [], []
    for info in workspace.catalog.runs():
        listed.append({"run": info.run, "embeddings": [_describe(workspace, series) for series in info.series]})
        problems.extend({"run": p.run, "config": p.config_path, "error": p.message} for p in info.problems)
    return {"runs": listed, "problems": problems}


def _describe(workspace: Workspace, series: EmbeddingSeries) -> dict:
    """/runs' entry for the latest step of `series`. An embedding that is neither held nor
    small is described from cheap facts (EmbeddingStore.summary) so that /runs answers in
    well under a second; its nonfinite_rows is then 0 until it is loaded, and errors only
    parsing finds (a non-UTF-8 byte, a row too long) surface as 422 from the data routes."""
    entry = {"name": series.name, "step": series.refs[-1].step, "steps": list(series.steps), "shape": None,
             "columns": [], "label_column": None, "has_sprite": False, "thumbnail_size": None,
             "nonfinite_rows": 0, "warnings": [], "error": None}
    try:
        summary = workspace.summary(series.run, series.name)
    except (QueryError, LogError, OSError, ValueError) as error:  # listed with its error, never dropped
        entry["error"] = str(error)
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
              metric: Optional[str] = None, exact: Optional[bool] = None) -> dict:
    where = space(embedding, metric)
    k = check_k(embedding, k)
    row, matches = resolve_query(embedding, index=index, query=query, column=column)
    result = engine.neighbors(where, index=row, k=k)  # always exact; `exact=` is accepted for old links
    return {
        "query": {"index": row, "metadata": metadata_row(embedding, row), "matches": matches},
        "metric": where.metric,
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
    column = _column(embedding, column or embedding.label_column or embedding.metadata.columns[0])
    return {"column": column, "values": list(embedding.metadata.values[column])}


def search(embedding: Embedding, pattern: str, *, column: Optional[str] = None, limit: Optional[int] = None,
           literal: bool = False) -> dict:
    """Rows whose metadata matches `pattern` (a regex; with literal=True, plain text)."""
    limit = check_range("limit", limit, default=100, minimum=1, maximum=MAX_SEARCH_LIMIT)
    if embedding.metadata is None:
        return {"total": 0, "matches": []}
    columns = [_column(embedding, column)] if column else list(embedding.metadata.columns)
    try:
        total, rows = text_match.search([embedding.metadata.values[c] for c in columns], pattern, limit=limit,
                                         literal=literal)
    except text_match.SearchTimeout as error:  # its message names the parameter q
        raise InvalidArgument(str(error)) from None
    return {"total": total, "matches": [{"index": row, "metadata": metadata_row(embedding, row)} for row in rows]}


def clusters(engine: AnalysisEngine, embedding: Embedding, *, label_column: Optional[str] = None,
             k: Optional[int] = None, metric: Optional[str] = None, wait: bool = False,
             on_progress=None) -> Union[dict, Pending]:
    where = space(embedding, metric)
    k = check_k(embedding, k)
    column, encoded = labels_of(engine, embedding, label_column, where)
    report = engine.clusters(where, encoded, k=k, wait=wait, on_progress=on_progress)
    if isinstance(report, Pending):
        return report
    payload = report.to_dict()
    payload["overall"]["label_column"] = column
    return payload


def hard_examples(engine: AnalysisEngine, embedding: Embedding, *, label_column: Optional[str] = None,
                  method: Optional[str] = None, k: Optional[int] = None, metric: Optional[str] = None,
                  label: Optional[str] = None, predicted: Optional[str] = None, offset: Optional[int] = None,
                  limit: Optional[int] = None, wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    where = space(embedding, metric)
    k = check_k(embedding, k)
    offset = check_range("offset", offset, default=0, minimum=0, maximum=MAX_OFFSET)
    limit = check_range("limit", limit, default=50, minimum=1, maximum=MAX_LIMIT)
    column, encoded = labels_of(engine, embedding, label_column, where)
    if method is not None and method not in HARDNESS_METHODS:
        raise InvalidArgument("unknown method %r; methods: %s" % (method[:50], ", ".join(HARDNESS_METHODS)))
    for name, value in (("label", label), ("predicted", predicted)):
        if value is not None and value not in encoded.names:
            raise NotFound("unknown %s %r in column %r" % (name, value, column))
    report = engine.hard_examples(where, encoded, method=method or DEFAULT_HARDNESS_METHOD, k=k, wait=wait,
                                  on_progress=on_progress)
    if isinstance(report, Pending):
        return report
    return _hard_page(report, embedding, column, label=label, predicted=predicted, offset=offset, limit=limit)


def _hard_page(report, embedding: Embedding, column: str, *, label: Optional[str], predicted: Optional[str],
               offset: int, limit: int) -> dict:
    """The /hard_examples body of one page of a HardnessReport."""
    total, examples = report.page(label=label, predicted=predicted, offset=offset, limit=limit)
    for example in examples:
        example["metadata"] = metadata_row(embedding, example["index"])
    # Every point is ranked (total); `hard_total` counts those whose kNN vote disagrees with
    # their label, the same definition as the per-label `hard_count` of /clusters.
    ranked = report.ranked(label=label, predicted=predicted)
    hard_total = int(np.count_nonzero(report.predicted[ranked] != report.codes[ranked]))
    return {"total": total, "hard_total": hard_total, "method": report.method,
            "methods": list(HARDNESS_METHODS), "label_column": column, "examples": examples}


def projection(engine: AnalysisEngine, embedding: Embedding, *, method: Optional[str] = None,
               wait: bool = False, on_progress=None):
    """The 2-D map (a ProjectionResult) or Pending."""
    method = check_choice("method", method, tuple(PROJECTIONS))
    return engine.projection(space(embedding), method=method, wait=wait, on_progress=on_progress)


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
    """Cluster statistics of every step of `name`, in `run` first, then in the other runs."""
    workspace.catalog.series(run, name)  # 404 for an unknown run or embedding
    entries, pending = [], []
    for series in workspace.catalog.same_name_elsewhere(name):
        for ref in series.refs:
            entry = {"run": ref.run, "step": ref.step}
            try:
                result = clusters(workspace.engine, workspace.store.load(ref), label_column=label_column,
                                  k=k, metric=metric)
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


# -- training history (issue 16) -----------------------------------------------------------
HISTORY_METHOD = "history"


@dataclasses.dataclass(frozen=True)
class _HistoryInputs:
    """The steps a history is computed on: the same rows and metadata at every step."""

    embeddings: Tuple[Embedding, ...]  # oldest first; the last one is the reference
    spaces: Tuple[Space, ...]
    steps: Tuple[Optional[int], ...]
    left_out: Tuple[dict, ...]  # {"step", "reason"} for every step not used
    column: str
    encoded: EncodedLabels
    k: int


def _history_inputs(workspace: Workspace, run: str, name: str, *, label_column: Optional[str],
                    k: Optional[int], metric: Optional[str], step: Optional[int]) -> _HistoryInputs:
    """Load every step of (run, name) up to `step` (None: all) and keep those with the row
    count and metadata of the latest one; the others are listed in `left_out` with why."""
    metric = check_metric(metric)
    refs = workspace.catalog.series(run, name).refs
    if step is not None:
        if step not in {ref.step for ref in refs}:
            raise NotFound("embedding %r has no step %d; steps: %s"
                           % (name, step, ", ".join(str(ref.step) for ref in refs)))
        refs = tuple(ref for ref in refs if ref.step is not None and ref.step <= step)
    loaded, left_out = [], []
    for ref in refs:
        if ref.step is None:  # cannot be ordered among the steps, nor loaded by step
            left_out.append({"step": None, "reason": "this entry has no step number"})
            continue
        try:
            loaded.append(workspace.load(run, name, ref.step))
        except (QueryError, LogError) as error:  # a broken step must not hide the others
            left_out.append({"step": ref.step, "reason": str(error)})
    kept = []
    if loaded:
        last = loaded[-1]
        for embedding in loaded:
            step_name = "step %s" % embedding.ref.step
            if embedding.shape[0] != last.shape[0]:
                left_out.append({"step": embedding.ref.step, "reason": "%s has %d rows, step %s has %d" % (
                    step_name, embedding.shape[0], last.ref.step, last.shape[0])})
            elif embedding.metadata != last.metadata:
                left_out.append({"step": embedding.ref.step, "reason": "the metadata of %s differs from step %s's"
                                 % (step_name, last.ref.step)})
            else:
                kept.append(embedding)
    left_out.sort(key=lambda entry: -1 if entry["step"] is None else entry["step"])
    if len(kept) < 2:
        why = "; ".join("step %s: %s" % (entry["step"], entry["reason"]) for entry in left_out)
        raise Unanalysable("a history needs at least two steps of the same rows; embedding %r has %d usable%s"
                           % (name, len(kept), " (%s)" % why if why else ""))
    valid = np.logical_and.reduce([embedding.finite for embedding in kept])
    n_valid = int(np.count_nonzero(valid))
    if n_valid < 2:
        raise Unanalysable("embedding %r has fewer than 2 rows that are finite at every step" % name)
    k = min(check_k(kept[-1], k), n_valid - 1)
    spaces = tuple(Space(e.vectors, e.fingerprint, valid, metric) for e in kept)
    column, encoded = labels_of(workspace.engine, kept[-1], label_column, spaces[-1])
    return _HistoryInputs(tuple(kept), spaces, tuple(e.ref.step for e in kept), tuple(left_out), column, encoded, k)


def _round(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float64), 4)  # 4 decimals: 100,000 points ≈ 5 MB of JSON


def history(workspace: Workspace, run: str, name: str, *, label_column: Optional[str] = None,
            k: Optional[int] = None, metric: Optional[str] = None, index: Optional[int] = None,
            step: Optional[int] = None, wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    """What each point's neighbourhood said about its label at every step (analysis/history.py):
    per point the summary columns, or with `index` that point's per-step row."""
    inputs = _history_inputs(workspace, run, name, label_column=label_column, k=k, metric=metric, step=step)
    reference = inputs.embeddings[-1]
    position = None
    if index is not None:
        n_rows = reference.shape[0]
        if not 0 <= index < n_rows:
            raise NotFound("index %d is out of range: embedding %r has %d rows" % (index, name, n_rows))
        if not inputs.spaces[-1].valid[index]:
            raise Unanalysable("row %d contains NaN or Inf at some step and is excluded from the history" % index)
        position = int(np.count_nonzero(inputs.spaces[-1].valid[:index]))
    result = workspace.engine.history(inputs.spaces, inputs.steps, inputs.encoded, k=inputs.k, wait=wait,
                                      on_progress=on_progress)
    if isinstance(result, Pending):
        return result
    names, steps = result.names, list(result.steps)
    correct = result.predicted == result.codes[None, :]
    payload = {
        "run": run, "embedding": name, "label_column": inputs.column, "metric": inputs.spaces[0].metric,
        "k": result.k, "steps": steps, "left_out": list(inputs.left_out), "n": int(result.rows.size),
        "score": {"name": HISTORY_METHOD, "range": [0.0, 1.0], "direction": "higher = more likely mislabelled"},
        "per_step": [{"step": s, "knn_accuracy": float(correct[t].mean()),
                      "mean_margin": float(result.margin[t].mean())} for t, s in enumerate(steps)],
    }
    learned_at = [None if t < 0 else steps[t] for t in result.learned_at.tolist()]
    if position is None:
        payload["points"] = {
            "index": result.rows, "label": [names[c] for c in result.codes.tolist()],
            "mean_margin": _round(result.mean_margin), "variability": _round(result.variability),
            "learned_at": learned_at, "forgetting": result.forgetting, "never_learned": result.never_learned,
            "score": _round(result.score),
        }
        return payload
    rank = int(np.count_nonzero(result.score > result.score[position]))
    payload["point"] = {
        "index": index, "label": names[result.codes[position]], "metadata": metadata_row(reference, index),
        "agreement": _round(result.agreement[:, position]), "margin": _round(result.margin[:, position]),
        "vote": [names[c] for c in result.predicted[:, position].tolist()],
        "mean_margin": float(result.mean_margin[position]), "variability": float(result.variability[position]),
        "learned_at": learned_at[position], "forgetting": int(result.forgetting[position]),
        "never_learned": bool(result.never_learned[position]), "score": float(result.score[position]),
        "rank": rank,  # points with a strictly higher score: 0 = the most suspicious
    }
    return payload


def history_hard_examples(workspace: Workspace, run: str, name: str, *, label_column: Optional[str] = None,
                          k: Optional[int] = None, metric: Optional[str] = None, step: Optional[int] = None,
                          label: Optional[str] = None, predicted: Optional[str] = None,
                          offset: Optional[int] = None, limit: Optional[int] = None, wait: bool = False,
                          on_progress=None) -> Union[dict, Pending]:
    """/hard_examples with method=history: every finite point ranked by the history score over
    every step up to `step` (None: all), in hard_examples' JSON shape. The vote, neighbour
    labels and centroid margin of each example are those of the last step used."""
    offset = check_range("offset", offset, default=0, minimum=0, maximum=MAX_OFFSET)
    limit = check_range("limit", limit, default=50, minimum=1, maximum=MAX_LIMIT)
    inputs = _history_inputs(workspace, run, name, label_column=label_column, k=k, metric=metric, step=step)
    for what, value in (("label", label), ("predicted", predicted)):
        if value is not None and value not in inputs.encoded.names:
            raise NotFound("unknown %s %r in column %r" % (what, value, inputs.column))
    engine = workspace.engine
    result = engine.history(inputs.spaces, inputs.steps, inputs.encoded, k=inputs.k, wait=wait,
                            on_progress=on_progress)
    if isinstance(result, Pending):
        return result
    # The last step's report (its label context is cached by the history) gives each
    # example's vote and neighbours; only the scores and the order are the history's.
    last = engine.hard_examples(inputs.spaces[-1], inputs.encoded, method="knn_margin", k=inputs.k, wait=wait,
                                on_progress=on_progress)
    if isinstance(last, Pending):
        return last
    report = dataclasses.replace(last, method=HISTORY_METHOD, scores=result.score,
                                 order=np.lexsort((result.rows, -result.score)))
    payload = _hard_page(report, inputs.embeddings[-1], inputs.column, label=label, predicted=predicted,
                         offset=offset, limit=limit)
    payload.update(methods=list(HARDNESS_METHODS) + [HISTORY_METHOD], steps=list(result.steps),
                   left_out=list(inputs.left_out))
    return payload


def ranked_examples(workspace: Workspace, run: str, name: str, *, step: Optional[int] = None,
                    method: Optional[str] = None, **options) -> Union[dict, Pending]:
    """/hard_examples: one step's ranking, or with method=history every step's up to `step`.
    `methods` lists "history" whenever the embedding has two or more numbered steps, so the
    tab offers it exactly where it can answer."""
    if method == HISTORY_METHOD:
        return history_hard_examples(workspace, run, name, step=step, **options)
    payload = hard_examples(workspace.engine, workspace.load(run, name, step), method=method, **options)
    if isinstance(payload, dict):
        steps = [s for s in workspace.catalog.series(run, name).steps if s is not None]
        if len(steps) >= 2:
            payload["methods"] = payload["methods"] + [HISTORY_METHOD]
    return payload

