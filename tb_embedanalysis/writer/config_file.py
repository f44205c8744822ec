"""Read, merge and write ``projector_config.pbtxt`` through TensorBoard's own proto.

The config lists every embedding of a run; several writers (steps, names, other tools)
share it. A write replaces only the entry with the same ``tensor_name`` and keeps every
other entry and field (e.g. ``model_checkpoint_path``) as it was.
"""

from __future__ import annotations

import os
from typing import Optional

from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import (
    EmbeddingInfo,
    ProjectorConfig,
)

from tb_embedanalysis.writer.files import atomic_write_bytes
from tb_embedanalysis.writer.errors import WriterError

CONFIG_FILENAME = "projector_config.pbtxt"


class ExistingConfigError(WriterError):
    """The log directory already has a projector config that cannot be parsed."""


def read_config(path: str) -> ProjectorConfig:
    """The config at `path`, or an empty one if there is none yet."""
    config = ProjectorConfig()
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return config
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ExistingConfigError(
            f"{path} exists but is not a valid ProjectorConfig ({exc}); refusing to "
            "overwrite it - fix or remove it, or write to another logdir"
        ) from None
    return config


def merged(config: ProjectorConfig, entry: EmbeddingInfo) -> ProjectorConfig:
    """A copy of `config` with `entry` replacing the one of the same tensor_name (else appended)."""
    out = ProjectorConfig()
    out.CopyFrom(config)
    for index, existing in enumerate(out.embeddings):
        if existing.tensor_name == entry.tensor_name:
            out.embeddings[index].CopyFrom(entry)
            return out
    out.embeddings.add().CopyFrom(entry)
    return out


def write_config(path: str, config: ProjectorConfig) -> None:
    atomic_write_bytes(path, text_format.MessageToString(config).encode("utf-8"))


def find_entry(config: ProjectorConfig, tensor_name: str) -> Optional[EmbeddingInfo]:
    for entry in config.embeddings:
        if entry.tensor_name == tensor_name:
            return entry
    return None


def config_path(logdir: str) -> str:
    return os.path.join(logdir, CONFIG_FILENAME)
