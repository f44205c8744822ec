"""Say when a new step of an embedding does not hold the same rows as the step before it.

A training history (Hard examples -> Score: history, ``/history``, ``analyze --history``)
compares each point with itself across steps, so every step must hold the same rows in
the same order with the same metadata; the history leaves out the steps that differ from
the latest one. Nothing else notices a changed row count - each step on its own is a
valid embedding - so `write_embedding` warns at the write that breaks the series.

The step compared with is the nearest earlier step of the same name (the nearest later one
when the new step comes first): when every write is checked, that neighbour stands for the
whole series. Its row count comes from the config's ``tensor_shape``; its metadata file
is read only when its size equals the new one's (different sizes differ).
"""

from __future__ import annotations

import os
from typing import Optional

from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig


class StepRowsWarning(UserWarning):
    """A step of an embedding holds other rows or other metadata than the step before it."""


def _step_of(tensor_name: str, name: str) -> Optional[int]:
    """The step of config entry `tensor_name` if it is a numbered step of `name` (``name:00100``)."""
    prefix = name + ":"
    if tensor_name.startswith(prefix) and tensor_name[len(prefix):].isdigit():
        return int(tensor_name[len(prefix):])
    return None


def _same_metadata(logdir: str, path: str, data: bytes) -> Optional[bool]:
    """Whether the earlier step's metadata file (`path`, relative to the logdir) holds
    exactly `data`; None when it cannot be read (nothing to compare then)."""
    full = os.path.join(logdir, path)
    try:
        if os.stat(full).st_size != len(data):
            return False
        with open(full, "rb") as handle:
            return handle.read(len(data) + 1) == data
    except OSError:
        return None


def mismatch(logdir: str, config: ProjectorConfig, *, name: str, step: Optional[int], rows: int,
             metadata_tsv: Optional[bytes]) -> Optional[str]:
    """Why step `step` of `name` (`rows` rows, `metadata_tsv` the metadata file's bytes or None)
    does not continue the series already in `config`, or None when it does (or has no step)."""
    if step is None:
        return None
    others = {}
    for entry in config.embeddings:
        other = _step_of(entry.tensor_name, name)
        if other is not None and other != step:
            others[other] = entry
    if not others:
        return None
    earlier = [s for s in others if s < step]
    neighbour = max(earlier) if earlier else min(others)
    entry = others[neighbour]
    needs = ("a training history (Hard examples -> Score: history) needs the same rows in the same order "
             "with the same metadata at every step, and leaves out the steps that differ from the latest")
    if len(entry.tensor_shape) == 2 and entry.tensor_shape[0] != rows:
        return ("embedding %r: step %d has %d rows but step %d has %d; %s"
                % (name, step, rows, neighbour, entry.tensor_shape[0], needs))
    had_metadata = bool(entry.metadata_path)
    if had_metadata != (metadata_tsv is not None):
        return ("embedding %r: step %d has %s but step %d %s; %s" % (
            name, step, "metadata" if metadata_tsv is not None else "no metadata", neighbour,
            "has none" if not had_metadata else "has", needs))
    if metadata_tsv is not None and _same_metadata(logdir, entry.metadata_path, metadata_tsv) is False:
        return ("embedding %r: the metadata of step %d differs from step %d's (%d rows each); %s"
                % (name, step, neighbour, rows, needs))
    return None
