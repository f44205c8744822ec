"""Neighbours that carry no signal (issue 27.7): rows whose vector barely moved between the
first and the last logged step of their embedding (analysis/movement.py), marked `still`
in the /neighbors answer so the tab can say so."""

from __future__ import annotations

from typing import Optional

import numpy as np

from tb_embedanalysis.analysis import movement as row_moves
from tb_embedanalysis.cache import CacheKey
from tb_embedanalysis.errors import QueryError
from tb_embedanalysis.logs.errors import LogError
from tb_embedanalysis.logs.model import Embedding
from tb_embedanalysis.queries.workspace import Workspace

#: Above this many values (N × D) per step no movement is computed: a click's /neighbors
#: would first read a second step of that size (256 MB of float32), where the word
#: embeddings this is for (vocabularies of ≤ 100,000 × 300) stay well below.
MAX_ELEMENTS = 64 * 1024 * 1024


def movement_of(workspace: Workspace, embedding: Embedding) -> Optional[tuple]:
    """(Movement, first step, last step) of `embedding`'s series, or None when it has fewer
    than two numbered steps, or its first and last steps do not hold the same rows (their
    own answers say why). Cached in the engine's result cache per pair of contents; while
    neither step's files changed, a cached one is found without loading the two steps (a
    click's /neighbors then reads nothing more, and holds no two more steps in the store)."""
    try:
        steps = sorted(s for s in workspace.catalog.series(embedding.ref.run, embedding.ref.name).steps
                       if s is not None)
    except QueryError:
        return None
    if len(steps) < 2 or embedding.shape[0] * embedding.shape[1] > MAX_ELEMENTS:
        return None
    moved = _cached(workspace, embedding, steps[0], steps[-1])
    if moved is None:
        try:
            first = workspace.load(embedding.ref.run, embedding.ref.name, steps[0])
            last = workspace.load(embedding.ref.run, embedding.ref.name, steps[-1])
        except (QueryError, LogError):
            return None
        if first.shape != last.shape or first.shape[0] != embedding.shape[0]:
            return None
        moved = workspace.engine.memory.once(
            _key(first.fingerprint, last.fingerprint),
            lambda: row_moves.row_movement(first.vectors, last.vectors, first.finite & last.finite))
    if moved.distances.shape[0] != embedding.shape[0]:
        return None
    return moved, steps[0], steps[-1]


def _key(first: str, last: str) -> CacheKey:
    return CacheKey.of("movement", first, last=last)


def _cached(workspace: Workspace, embedding: Embedding, first_step: int, last_step: int):
    """The cached Movement between the two steps' contents as the store last loaded them, if
    neither step's files changed since, else None."""
    try:
        refs = [workspace.catalog.ref(embedding.ref.run, embedding.ref.name, step) for step in (first_step, last_step)]
    except QueryError:
        return None
    first, last = (workspace.store.fingerprint(ref) for ref in refs)
    if first is None or last is None:
        return None
    return workspace.engine.memory.get(_key(first, last))


def mark_still(workspace: Workspace, embedding: Embedding, answer: dict) -> dict:
    """`answer` (a /neighbors body) with `still` on its query and each neighbour, and
    `movement`: the steps compared and the threshold (null when there is nothing to compare)."""
    found = movement_of(workspace, embedding)
    if found is None:
        answer["movement"] = None
        return answer
    moved, first_step, last_step = found
    for entry in [answer["query"], *answer["neighbors"]]:
        entry["still"] = bool(moved.still[entry["index"]])
    answer["movement"] = {"first_step": first_step, "last_step": last_step, "threshold": moved.threshold,
                          "reference": moved.reference, "still_rows": int(np.count_nonzero(moved.still)),
                          "fraction": row_moves.STILL_FRACTION}
    return answer
