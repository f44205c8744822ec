"""What changed between two embeddings of the same rows (issue 16): /churn and /aligned."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from tb_embedanalysis.analysis import changes
from tb_embedanalysis.analysis.engine import Pending, Space
from tb_embedanalysis.errors import Unanalysable
from tb_embedanalysis.logs.model import Embedding
from tb_embedanalysis.analysis.projection import PROJECTIONS
from tb_embedanalysis.queries.rules import (
    MAX_LIMIT, check_choice, check_k, check_range, check_work_memory, labels_of, metadata_row,
    resolve_metric,
)
from tb_embedanalysis.queries.workspace import Workspace


def _pair(workspace: Workspace, run: str, name: str, step_a: Optional[int], step_b: Optional[int],
          run_b: Optional[str], name_b: Optional[str]) -> Tuple[Embedding, Embedding, np.ndarray]:
    """The two embeddings compared and the rows finite in both. Without steps: A is the
    first numbered step, B the latest; the second embedding defaults to the first's name."""
    run_b, name_b = run_b or run, name_b or name
    if step_a is None and (run_b, name_b) == (run, name):
        steps = [s for s in workspace.catalog.series(run, name).steps if s is not None]
        step_a = steps[0] if steps else None
    first = workspace.load(run, name, step_a)
    second = workspace.load(run_b, name_b, step_b)
    if first.shape[0] != second.shape[0]:
        raise Unanalysable("the two embeddings hold different rows: %s has %d rows, %s has %d rows"
                           % (_where(first), first.shape[0], _where(second), second.shape[0]))
    valid = first.finite & second.finite
    if np.count_nonzero(valid) < 2:
        raise Unanalysable("fewer than 2 rows are finite in both %s and %s" % (_where(first), _where(second)))
    return first, second, valid


def _where(embedding: Embedding) -> str:
    ref = embedding.ref
    return "%s/%s%s" % (ref.run, ref.name, "" if ref.step is None else " step %d" % ref.step)


def _side(embedding: Embedding) -> dict:
    return {"run": embedding.ref.run, "embedding": embedding.ref.name, "step": embedding.ref.step}


def churn(workspace: Workspace, run: str, name: str, *, step_a: Optional[int] = None, step_b: Optional[int] = None,
          run_b: Optional[str] = None, embedding_b: Optional[str] = None, label_column: Optional[str] = None,
          k: Optional[int] = None, metric: Optional[str] = None, limit: Optional[int] = None,
          wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    """Per point, the Jaccard overlap of its k-NN sets in A and in B (the same rows): its mean,
    its histogram, per label the mean, and the points whose neighbourhoods changed most."""
    limit = check_range("limit", limit, default=50, minimum=1, maximum=MAX_LIMIT)
    first, second, valid = _pair(workspace, run, name, step_a, step_b, run_b, embedding_b)
    n_valid = int(np.count_nonzero(valid))
    k = min(check_k(second, k), n_valid - 1)
    metric, choice = resolve_metric(workspace.engine, second, metric, label_column)
    check_work_memory(workspace.engine, second, "churn", k=k, steps=2, valid=n_valid)
    spaces = [Space(e.vectors, e.fingerprint, valid, metric) for e in (first, second)]
    codes: Optional[np.ndarray] = None
    names: Sequence[str] = ()
    column: Optional[str] = None
    labelled = second.metadata is not None and (label_column or second.label_column)
    if labelled:
        column, encoded = labels_of(workspace.engine, second, label_column, spaces[1])
        codes, names = encoded.codes, encoded.names
    overlap = workspace.engine.steps.overlap(spaces[0], spaces[1], k=k, wait=wait, on_progress=on_progress)
    if isinstance(overlap, Pending):
        return overlap
    rows = np.flatnonzero(valid)
    summary = changes.overlap_summary(overlap, k, codes, len(names), limit=limit)
    moved = []
    for position in summary.moved.tolist():
        row = int(rows[position])
        moved.append({"index": row, "overlap": int(overlap[position]), "jaccard": float(summary.jaccard[position]),
                      "label": None if codes is None else names[codes[position]],
                      "metadata": metadata_row(second, row)})
    labels = [{"label": names[c], "count": int(summary.label_count[c]), "mean_jaccard": float(summary.label_mean[c])}
              for c in range(len(names)) if summary.label_count[c] > 0]
    return {"a": _side(first), "b": _side(second), "k": k, "metric": metric, "metric_choice": choice, "n": n_valid,
            "label_column": column, "mean_jaccard": summary.mean_jaccard, "histogram": summary.histogram,
            "labels": labels, "moved": moved}


def aligned(workspace: Workspace, run: str, name: str, *, step_a: Optional[int] = None,
            step_b: Optional[int] = None, method: Optional[str] = None, limit: Optional[int] = None,
            wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    """Step A's map aligned onto step B's (changes.procrustes over the rows finite in both)
    and the `limit` points that moved most: `to` is where the point is on B's map, `from`
    where it was on A's, in B's frame; largest distance first, ties by index."""
    method = check_choice("method", method, tuple(PROJECTIONS))
    limit = check_range("limit", limit, default=50, minimum=1, maximum=MAX_LIMIT)
    first, second, valid = _pair(workspace, run, name, step_a, step_b, None, None)
    maps = []
    for embedding in (first, second):
        space = Space(embedding.vectors, embedding.fingerprint, embedding.finite, "euclidean")
        maps.append(workspace.engine.maps.projection(space, method=method, wait=wait, on_progress=on_progress))
    pending = [m.progress for m in maps if isinstance(m, Pending)]
    if pending:
        done = len(maps) - len(pending)
        return Pending(progress=(done + sum(p or 0.0 for p in pending)) / len(maps), message="%s maps" % method)
    map_a, map_b = [m for m in maps if not isinstance(m, Pending)]
    rows = np.flatnonzero(valid & np.isfinite(map_a.coords).all(axis=1) & np.isfinite(map_b.coords).all(axis=1))
    if rows.size < 3:
        raise Unanalysable("fewer than 3 rows are on both maps")
    source, target = map_a.coords[rows].astype(np.float64), map_b.coords[rows].astype(np.float64)
    fit = changes.procrustes(source, target)
    moved_from = fit.apply(source)
    distance = np.sqrt(((moved_from - target) ** 2).sum(axis=1))
    order = np.lexsort((rows, -distance))[:limit]
    return {"method": method, "step_a": first.ref.step, "step_b": second.ref.step, "n": int(rows.size),
            "disparity": fit.disparity,
            "moved": [{"index": int(rows[i]), "from": moved_from[i].round(5), "to": target[i].round(5),
                       "distance": float(distance[i])} for i in order.tolist()]}
