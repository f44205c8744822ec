"""Value objects of the logs layer: where an embedding lives, and what loading it gave.

Everything here is a frozen dataclass so that a loaded embedding can be shared between
TensorBoard's request threads without locks: nobody can change it after loading.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Tuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class TensorSource:
    """Where the vectors of one embedding at one step are stored.

    kind: "checkpoint" (a TF checkpoint prefix + variable key), "tsv" or "bytes"
      (raw little-endian float32, shape from the config's `tensor_shape`).
    path: checkpoint prefix (``.../model.ckpt-100``) or absolute file path.
    tensor_name: checkpoint variable key as stored (``embedding/.ATTRIBUTES/VARIABLE_VALUE``);
      None for files.
    shape: `tensor_shape` from the config, if any.
    """

    kind: str
    path: str
    tensor_name: Optional[str] = None
    shape: Optional[Tuple[int, ...]] = None


@dataclasses.dataclass(frozen=True)
class SpriteSpec:
    """A sprite image as the config describes it; single_image_dim is (width, height)."""

    path: str
    single_image_dim: Tuple[int, int]


@dataclasses.dataclass(frozen=True)
class EmbeddingRef:
    """One embedding at one step, as discovery found it (cheap: no tensor is read).

    run: the run's directory relative to the logdir, "." for the logdir itself.
    name: the name shown to users (``embedding``, not
      ``embedding/.ATTRIBUTES/VARIABLE_VALUE``; a tensorboardX tag, not ``tag:00010``).
    step: training step (checkpoint number, tensorboardX ``:NNNNN`` suffix, writer step), or
      None when the log does not say.
    """

    run: str
    name: str
    step: Optional[int]
    config_path: str
    tensor: TensorSource
    metadata_path: Optional[str] = None
    sprite: Optional[SpriteSpec] = None


@dataclasses.dataclass(frozen=True)
class EmbeddingSeries:
    """All steps of one embedding name in one run, ordered by step (None first)."""

    run: str
    name: str
    refs: Tuple[EmbeddingRef, ...]

    @property
    def steps(self) -> Tuple[Optional[int], ...]:
        return tuple(ref.step for ref in self.refs)


@dataclasses.dataclass(frozen=True)
class ConfigProblem:
    """A projector config that discovery found but could not turn into embeddings."""

    run: str
    config_path: str
    message: str


@dataclasses.dataclass(frozen=True)
class RunInfo:
    run: str
    series: Tuple[EmbeddingSeries, ...]
    problems: Tuple[ConfigProblem, ...] = ()


@dataclasses.dataclass(frozen=True)
class Metadata:
    """Metadata columns, column-major; every column has exactly one value per tensor row.

    A single-column metadata file has no header; its column is called "label" unless the
    writer said otherwise.
    """

    columns: Tuple[str, ...]
    values: Mapping[str, Tuple[str, ...]]

    def row(self, index: int) -> dict:
        return {column: self.values[column][index] for column in self.columns}

    def column(self, name: str) -> np.ndarray:
        """Values of one column as a numpy array of str (for vectorised label handling)."""
        return np.asarray(self.values[name], dtype=object)

    def __len__(self) -> int:
        return len(self.values[self.columns[0]]) if self.columns else 0


@dataclasses.dataclass(frozen=True)
class SpriteInfo:
    """A sprite that was checked against the tensor: N thumbnails fit in its grid."""

    path: str
    thumbnail_size: Tuple[int, int]  # (width, height)
    image_size: Tuple[int, int]  # (width, height) of the whole sprite
    columns: int  # thumbnails per row of the grid


@dataclasses.dataclass(frozen=True)
class Embedding:
    """A loaded embedding: vectors plus everything the analysis and the tab need.

    vectors: float32 (N, D), read-only (possibly a memory map of a .bytes file).
    finite: bool (N,), False for rows with NaN/Inf; those rows are excluded from analysis.
    fingerprint: content hash of the vectors; keys every cached analysis result, so a
      changed tensor is never served stale.
    warnings: problems that left the embedding usable ("sprite.png is missing: no
      thumbnails").
    """

    ref: EmbeddingRef
    vectors: np.ndarray
    metadata: Optional[Metadata]
    label_column: Optional[str]
    sprite: Optional[SpriteInfo]
    finite: np.ndarray
    fingerprint: str
    warnings: Tuple[str, ...] = ()

    @property
    def shape(self) -> Tuple[int, int]:
        return tuple(self.vectors.shape)  # type: ignore[return-value]

    @property
    def nonfinite_rows(self) -> int:
        return int(self.finite.size - np.count_nonzero(self.finite))
