"""What a listing (/runs) shows of an embedding, without loading it when loading is costly.

Loading parses the whole metadata and reads the whole tensor: seconds and gigabytes for a
200 MB metadata.tsv, and a listing must answer in well under a second. So an embedding the
store does not hold is described from cheap facts when its files are big:

* shape: a .bytes tensor's config `tensor_shape`, checked against the file size; a
  checkpoint's index (the variable's shape). A TSV tensor is still read (no cheap shape).
* metadata: header line, row count (newlines, counted 1 MB at a time) checked against the
  tensor, label guess (metadata_scan.scan_metadata: exact for a label-named column, else from
  a 512 KB sample of the rows).
* sprite: its header, as loading checks it.
* nonfinite_rows: 0 (unknown until the vectors are read).

Whenever a fact does not check out, the reader that loading uses is called and raises the
very error loading would (it fails before reading much), so /runs lists the same errors.
Small embeddings are loaded (exact in every field, and the tab asks for them next anyway).
"""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

from tb_embedanalysis.logs import metadata as metadata_io, metadata_scan
from tb_embedanalysis.logs import sprites, tensors
from tb_embedanalysis.logs.checkpoint_reader import checkpoint_files, checkpoint_key, checkpoint_variables
from tb_embedanalysis.logs.errors import MetadataError, UnsafePathError
from tb_embedanalysis.logs.model import Embedding, EmbeddingRef, EmbeddingSummary, TensorSource
from tb_embedanalysis.logs.tensor_files import tsv_shape_warning

# Files of an embedding up to this many bytes in all are loaded to describe it: ~0.1 s.
LOAD_BELOW_BYTES = 16 * 1024 * 1024


def cheap_to_load(ref: EmbeddingRef) -> bool:
    """True when the files of `ref` total at most LOAD_BELOW_BYTES (missing files count 0)."""
    files = checkpoint_files(ref.tensor.path) if ref.tensor.kind == "checkpoint" else [ref.tensor.path]
    if ref.metadata_path:
        files.append(ref.metadata_path)
    return sum(_size(path) for path in files) <= LOAD_BELOW_BYTES


def of_embedding(embedding: Embedding) -> EmbeddingSummary:
    """The summary of a loaded embedding: every field exact."""
    return EmbeddingSummary(
        ref=embedding.ref, shape=embedding.shape,
        columns=embedding.metadata.columns if embedding.metadata is not None else (),
        label_column=embedding.label_column, sprite=embedding.sprite, nonfinite_rows=embedding.nonfinite_rows,
        warnings=embedding.warnings, loaded=True)


def summarize(ref: EmbeddingRef) -> EmbeddingSummary:
    """Cheap facts of `ref` (module doc); raises the LogError that loading would raise."""
    shape = _shape(ref.tensor)
    warnings: List[str] = list(ref.warnings)
    shape_warning = tsv_shape_warning(ref.tensor, shape)  # as loading warns
    if shape_warning:
        warnings.append(shape_warning)
    columns: Tuple[str, ...] = ()
    label_column: Optional[str] = None
    if ref.metadata_path:
        if os.path.lexists(ref.metadata_path):  # as loading: a symlink to a missing file is refused, not "missing"
            try:
                facts = metadata_scan.scan_metadata(ref.metadata_path, num_rows=shape[0], tensor_name=ref.name)
            except (MetadataError, UnsafePathError) as error:  # as loading: costs the labels only
                warnings.append(metadata_io.refusal_warning(error))
            else:
                columns, label_column = facts.columns, facts.label_column
                warnings.extend(facts.warnings)
        else:
            warnings.append("metadata file %s is missing: no labels" % ref.metadata_path)
    sprite = None
    if ref.sprite is not None:
        sprite, sprite_warning = sprites.check_sprite(ref.sprite, shape[0])
        if sprite_warning:
            warnings.append(sprite_warning)
    return EmbeddingSummary(ref=ref, shape=shape, columns=columns, label_column=label_column, sprite=sprite,
                            nonfinite_rows=0, warnings=tuple(warnings), loaded=False)


def _shape(source: TensorSource) -> Tuple[int, int]:
    if source.kind == "bytes" and source.shape and len(source.shape) == 2:
        rows, columns = source.shape
        if rows > 0 and columns > 0 and _size(source.path) == rows * columns * 4:
            return rows, columns
    elif source.kind == "checkpoint":
        variables = checkpoint_variables(source.path)  # the index only
        key = checkpoint_key(source.tensor_name or "", variables)
        if key is not None:
            shape, dtype = variables[key]
            if len(shape) == 2 and min(shape) > 0 and dtype.startswith(("float", "int", "uint", "bfloat")):
                return shape[0], shape[1]
    # A TSV, or a fact that does not check out: the loader's reader says exactly what is wrong
    # (it fails on the size, the index or the dtype before reading the values).
    rows, columns = tensors.read_vectors(source).shape  # read_vectors checks it is 2-D
    return rows, columns


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
