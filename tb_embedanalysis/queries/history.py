"""Training-history questions (issue 16): /history and hard examples ranked over every step."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from tb_embedanalysis.analysis.engine import Pending, Space
from tb_embedanalysis.analysis.labels import EncodedLabels
from tb_embedanalysis.errors import InvalidArgument, NotFound, QueryError, Unanalysable
from tb_embedanalysis.logs.errors import LogError
from tb_embedanalysis.logs.model import Embedding
from tb_embedanalysis.queries.questions import _hard_page, hard_examples
from tb_embedanalysis.queries.rules import (
    HARD_EXAMPLE_METHODS, HISTORY_METHOD, MAX_LIMIT, MAX_OFFSET, check_hard_method, check_k, check_range,
    check_work_memory, labels_of, metadata_row, resolve_metric,
)
from tb_embedanalysis.queries.workspace import Workspace
from tb_embedanalysis.analysis import changes
from tb_embedanalysis.queries import label_errors
from tb_embedanalysis.queries.tags import check_hide, hidden_rows


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
    metric_choice: Optional[dict]  # how the metric was chosen (rules.resolve_metric), None if given


def _history_inputs(workspace: Workspace, run: str, name: str, *, label_column: Optional[str],
                    k: Optional[int], metric: Optional[str], step: Optional[int]) -> _HistoryInputs:
    """Load every step of (run, name) up to `step` (None: all) and keep those with the row
    count and metadata of the latest one; the others are listed in `left_out` with why."""
    refs = workspace.catalog.series(run, name).refs
    if step is not None:
        if step not in {ref.step for ref in refs}:
            raise NotFound("embedding %r has no step %d; steps: %s"
                           % (name, step, ", ".join(str(ref.step) for ref in refs)))
        refs = tuple(ref for ref in refs if ref.step is not None and ref.step <= step)
    loaded: List[Embedding] = []
    left_out: List[Dict[str, Any]] = []
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
    metric, choice = resolve_metric(workspace.engine, kept[-1], metric, label_column)
    spaces = tuple(Space(e.vectors, e.fingerprint, valid, metric) for e in kept)
    column, encoded = labels_of(workspace.engine, kept[-1], label_column, spaces[-1])
    check_work_memory(workspace.engine, kept[-1], "history", k=k, n_labels=len(encoded.names), steps=len(kept),
                      valid=n_valid)
    return _HistoryInputs(tuple(kept), spaces, tuple(e.ref.step for e in kept), tuple(left_out), column, encoded, k,
                          choice)


def history_spaces(workspace: Workspace, run: str, name: str, *, label_column: Optional[str] = None,
                   k: Optional[int] = None, metric: Optional[str] = None) -> Tuple[Tuple[Space, ...], int]:
    """(the Space of every step the history over all steps reads, oldest first; its k): what
    `tb-embedanalysis precompute` builds the graphs of before it asks for the history."""
    inputs = _history_inputs(workspace, run, name, label_column=label_column, k=k, metric=metric, step=None)
    return inputs.spaces, inputs.k


def _position(inputs: _HistoryInputs, index: int) -> int:
    """Where row `index` is among the history's rows (404 / 422 for a row it has not)."""
    valid = inputs.spaces[-1].valid
    if not 0 <= index < valid.shape[0]:
        raise NotFound("index %d is out of range: embedding %r has %d rows"
                       % (index, inputs.embeddings[-1].ref.name, valid.shape[0]))
    if not valid[index]:
        raise Unanalysable("row %d contains NaN or Inf at some step and is excluded from the history" % index)
    return int(np.count_nonzero(valid[:index]))


#: The confusion timeline lists the label pairs with the largest counts, at most this many.
TIMELINE_PAIRS = 200


def _timeline(result) -> dict:
    """Per (label, vote) pair: how many points labelled `label` the kNN vote gives to
    `predicted` at each step, and its trend (changes.trend: merging / separating / steady)
    from the step it starts at; the TIMELINE_PAIRS pairs with the largest counts."""
    pairs, counts = changes.confusion_timeline(result.codes, result.predicted, len(result.names))
    listed = []
    for (label, vote), row in zip(pairs[:TIMELINE_PAIRS].tolist(), counts[:TIMELINE_PAIRS]):
        kind, start = changes.trend(row)
        listed.append({"label": result.names[label], "predicted": result.names[vote], "counts": row,
                       "trend": kind, "onset_step": None if start is None else result.steps[start]})
    return {"pairs": listed, "total_pairs": int(pairs.shape[0])}


def _round(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float64), 4)  # 4 decimals: 100,000 points ≈ 5 MB of JSON


def history(workspace: Workspace, run: str, name: str, *, label_column: Optional[str] = None,
            k: Optional[int] = None, metric: Optional[str] = None, index: Optional[int] = None,
            indices: Optional[Sequence[int]] = None, step: Optional[int] = None, wait: bool = False,
            on_progress=None) -> Union[dict, Pending]:
    """What each point's neighbourhood said about its label at every step (analysis/history.py):
    per point the summary columns and the confusion timeline; with `index` that point's
    per-step row instead; with `indices` (≤ MAX_LIMIT) only those points' per-step rows."""
    if index is not None and indices is not None:
        raise InvalidArgument("pass index= or indices=, not both")
    if indices is not None and len(indices) > MAX_LIMIT:
        raise InvalidArgument("parameter 'indices' takes at most %d rows, got %d" % (MAX_LIMIT, len(indices)))
    inputs = _history_inputs(workspace, run, name, label_column=label_column, k=k, metric=metric, step=step)
    reference = inputs.embeddings[-1]
    position = None if index is None else _position(inputs, index)
    positions = None if indices is None else [_position(inputs, i) for i in indices]
    result = workspace.engine.steps.history(inputs.spaces, inputs.steps, inputs.encoded, k=inputs.k, wait=wait,
                                      on_progress=on_progress)
    if isinstance(result, Pending):
        return result
    names, steps = result.names, list(result.steps)
    correct = result.predicted == result.codes[None, :]
    payload = {
        "run": run, "embedding": name, "label_column": inputs.column, "metric": inputs.spaces[0].metric,
        "metric_choice": inputs.metric_choice,
        "k": result.k, "steps": steps, "left_out": list(inputs.left_out), "n": int(result.rows.size),
        "score": label_errors.score_block(result),
        "per_step": [{"step": s, "knn_accuracy": float(correct[t].mean()),
                      "mean_margin": float(result.margin[t].mean())} for t, s in enumerate(steps)],
    }
    learned_at = [None if t < 0 else steps[t] for t in result.learned_at.tolist()]
    if positions is not None:  # a page of cards' sparklines: only their rows (not N points' columns)
        payload["rows"] = [{"index": int(result.rows[p]), "margin": _round(result.margin[:, p]),
                            "agreement": _round(result.agreement[:, p]),
                            "vote": [names[c] for c in result.predicted[:, p].tolist()]} for p in positions]
        return payload
    payload["errors"] = label_errors.count_block(result)
    payload["memorisation"] = label_errors.memorisation_block(result)
    if index is None or position is None:  # (both or neither)
        payload["points"] = {
            "index": result.rows, "label": [names[c] for c in result.codes.tolist()],
            "mean_margin": _round(result.mean_margin), "variability": _round(result.variability),
            "learned_at": learned_at, "forgetting": result.forgetting, "never_learned": result.never_learned,
            "score": _round(result.score),
        }
        payload["timeline"] = _timeline(result)
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
                          on_progress=None, hide_tagged: Optional[str] = None) -> Union[dict, Pending]:
    """/hard_examples with method=history: every finite point ranked by the history score over
    every step up to `step` (None: all), in hard_examples' JSON shape. The vote, neighbour
    labels and centroid margin of each example are those of the last step used."""
    offset = check_range("offset", offset, default=0, minimum=0, maximum=MAX_OFFSET)
    limit = check_range("limit", limit, default=50, minimum=1, maximum=MAX_LIMIT)
    hide = check_hide(hide_tagged)
    inputs = _history_inputs(workspace, run, name, label_column=label_column, k=k, metric=metric, step=step)
    for what, value in (("label", label), ("predicted", predicted)):
        if value is not None and value not in inputs.encoded.names:
            raise NotFound("unknown %s %r in column %r" % (what, value, inputs.column))
    engine = workspace.engine
    result = engine.steps.history(inputs.spaces, inputs.steps, inputs.encoded, k=inputs.k, wait=wait,
                            on_progress=on_progress)
    if isinstance(result, Pending):
        return result
    # The last step's report (its label context is cached by the history) gives each
    # example's vote and neighbours; only the scores and the order are the history's.
    last = engine.hard_examples(inputs.spaces[-1], inputs.encoded, method="knn_margin", k=inputs.k, wait=wait,
                                on_progress=on_progress)
    if isinstance(last, Pending):
        return last
    report = dataclasses.replace(last, method=HISTORY_METHOD, scores=result.score, order=result.order)
    payload = _hard_page(report, inputs.embeddings[-1], inputs.column, label=label, predicted=predicted,
                         offset=offset, limit=limit,
                         hide_rows=hidden_rows(workspace.tags, inputs.embeddings[-1], hide) if hide else None)
    payload.update(metric=inputs.spaces[0].metric, metric_choice=inputs.metric_choice,
                   methods=list(HARD_EXAMPLE_METHODS), steps=list(result.steps),
                   left_out=list(inputs.left_out), score=label_errors.score_block(result),
                   errors=label_errors.count_block(result),
                   memorisation=label_errors.memorisation_block(result))
    return payload


def ranked_examples(workspace: Workspace, run: str, name: str, *, step: Optional[int] = None,
                    method: Optional[str] = None, hide_tagged: Optional[str] = None,
                    **options) -> Union[dict, Pending]:
    """/hard_examples: one step's ranking, or with method=history every step's up to `step`.
    `methods` lists "history" whenever the embedding has two or more numbered steps, so the
    tab offers it exactly where it can answer; an unknown method is refused listing every
    one, "history" included. hide_tagged="ok": points tagged so are left out
    (queries/tags.py), and `hidden` counts them."""
    method = check_hard_method(method)
    if method == HISTORY_METHOD:
        return history_hard_examples(workspace, run, name, step=step, hide_tagged=hide_tagged, **options)
    hide = check_hide(hide_tagged)
    embedding = workspace.load(run, name, step)
    payload = hard_examples(workspace.engine, embedding, method=method,
                            hide_rows=hidden_rows(workspace.tags, embedding, hide) if hide else None, **options)
    if isinstance(payload, dict):
        steps = [s for s in workspace.catalog.series(run, name).steps if s is not None]
        if len(steps) >= 2:
            payload["methods"] = payload["methods"] + [HISTORY_METHOD]
    return payload
