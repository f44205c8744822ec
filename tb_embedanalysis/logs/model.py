"""Value objects of the logs layer: where an embedding lives, and what loading it gave.

Everything here is a frozen dataclass so that a loaded embedding can be shared between
TensorBoard's request threads without locks: nobody can change it after loading.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import sys
import types
from typing import Iterable, Iterator, Mapping, Optional, Sequence, Tuple, Union

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
    """A sprite image as the config describes it; single_image_dim as the config gives it:
    (width, height), or one size for square thumbnails (anything else is refused, and quoted,
    by sprites.check_sprite)."""

    path: str
    single_image_dim: Tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class EmbeddingRef:
    """One embedding at one step, as discovery found it (cheap: no tensor is read).

    run: the run's directory relative to the logdir, "." for the logdir itself.
    name: the name shown to users (``embedding``, not
      ``embedding/.ATTRIBUTES/VARIABLE_VALUE``; a tensorboardX tag, not ``tag:00010``).
    step: training step (checkpoint number, tensorboardX ``:NNNNN`` suffix, writer step), or
      None when the log does not say.
    warnings: files of this embedding discovery refused (a metadata or sprite path leading
      outside the run): the embedding stays usable without them; loading shows these.
    """

    run: str
    name: str
    step: Optional[int]
    config_path: str
    tensor: TensorSource
    metadata_path: Optional[str] = None
    sprite: Optional[SpriteSpec] = None
    warnings: Tuple[str, ...] = ()


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


def _str_bytes(values: Tuple[str, ...]) -> int:
    """sum(map(sys.getsizeof, values)), from one joined copy when every value is ASCII: a
    compact ASCII str takes sys.getsizeof("") + len(value) bytes (1,000,000 ids: 0.11 → 0.02 s)."""
    joined = "".join(values)
    if joined.isascii():
        return len(values) * sys.getsizeof("") + len(joined)
    return sum(map(sys.getsizeof, values))


@dataclasses.dataclass(frozen=True, eq=False)
class Column(collections.abc.Sequence):
    """One metadata column held compactly: a code per row into a tuple of distinct values.

    codes: int32 (N,), read-only; row i's value is ``categories[codes[i]]``.
    categories: the distinct values in order of first appearance (row order), each once.

    A column of 5M rows with 10 labels costs 20 MB of codes instead of 40 MB of str
    pointers (plus a str object per row when parsed). A column of unique values (ids,
    words) still costs one str per row, in `categories`. It reads like a tuple of str
    (len, indexing, iteration, ``in``), so callers that want values need not know; those
    that can work on codes (label encoding, digests) use `codes` and `categories`.
    """

    codes: np.ndarray
    categories: Tuple[str, ...]
    nbytes: int = dataclasses.field(init=False)  # codes + category strings: what the store counts

    def __post_init__(self):
        codes = np.asarray(self.codes, dtype=np.int32).view()  # a read-only view: no copy of N codes
        codes.flags.writeable = False
        if codes.ndim != 1:
            raise ValueError("codes must be 1-D (one per row), got shape %s" % (codes.shape,))
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "categories", tuple(self.categories))
        strings = _str_bytes(self.categories)
        object.__setattr__(self, "nbytes", int(codes.nbytes + sys.getsizeof(self.categories) + strings))

    @classmethod
    def from_values(cls, values: Iterable[str]) -> "Column":
        """Encode values (str) in first-appearance order."""
        table: dict = {}
        codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int32)
        return cls(codes=codes, categories=tuple(table))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self.categories[c] for c in self.codes[index].tolist())
        return self.categories[self.codes[index]]  # numpy raises IndexError out of range

    def __iter__(self) -> Iterator[str]:
        return map(self.categories.__getitem__, self.codes.tolist())

    def __contains__(self, value) -> bool:
        return value in self.categories  # every category occurs in some row

    def __eq__(self, other) -> bool:
        if isinstance(other, Column):
            return self.categories == other.categories and np.array_equal(self.codes, other.codes)
        if isinstance(other, (tuple, list)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    # Unhashable (numpy inside; equal to tuples, which hash differently): the documented
    # spelling, which typeshed's `object.__hash__` cannot express.
    __hash__ = None  # type: ignore[assignment]

    def __array__(self, dtype=None, copy=None):
        """An object array of the values (np.asarray(column)), built from codes, not per row."""
        values = np.empty(len(self.categories), dtype=object)
        values[:] = self.categories
        array = values[self.codes]
        return array if dtype is None else array.astype(dtype)

    def __repr__(self) -> str:
        return "Column(%d rows, %d categories)" % (len(self), len(self.categories))


@dataclasses.dataclass(frozen=True)
class Metadata:
    """Metadata columns, column-major; every column has exactly one value per tensor row.

    values: column name -> Column (codes + categories, see Column); plain sequences of str
    given here are encoded into Columns. A single-column metadata file has no header; its
    column is called "label" unless the writer said otherwise.
    """

    columns: Tuple[str, ...]
    values: Mapping[str, Column]

    # Written out (dataclass keeps a class's own __init__) because it takes more than it
    # stores: plain sequences of str, encoded here, so `values` is always Columns.
    def __init__(self, columns: Tuple[str, ...], values: Mapping[str, Union[Column, Sequence[str]]]):
        encoded = {name: value if isinstance(value, Column) else Column.from_values(value)
                   for name, value in values.items()}
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "values", types.MappingProxyType(encoded))

    def row(self, index: int) -> dict:
        return {column: self.values[column][index] for column in self.columns}

    def column(self, name: str) -> np.ndarray:
        """Values of one column as a numpy array of str (for vectorised label handling)."""
        return np.asarray(self.values[name])

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns (codes and distinct strings); counted by EmbeddingStore."""
        return sum(column.nbytes for column in self.values.values())

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

    vectors: float32 (N, D), read-only (read into memory, never memory-mapped: see logs/tensors.py).
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
        rows, columns = self.vectors.shape
        return int(rows), int(columns)

    @property
    def nonfinite_rows(self) -> int:
        return int(self.finite.size - np.count_nonzero(self.finite))


@dataclasses.dataclass(frozen=True)
class EmbeddingSummary:
    """What a listing shows of one embedding (/runs), from a loaded Embedding or from cheap facts.

    loaded: True when taken from a loaded Embedding (every field exact). False when read
      without loading (logs/summary.py): shape, columns, sprite and the metadata row count
      are exact; nonfinite_rows is 0 (unknown until the vectors are read); label_column is
      exact when a column is named like a label, else guessed from a sample of the rows.
    """

    ref: EmbeddingRef
    shape: Tuple[int, int]
    columns: Tuple[str, ...]
    label_column: Optional[str]
    sprite: Optional[SpriteInfo]
    nonfinite_rows: int
    warnings: Tuple[str, ...]
    loaded: bool
