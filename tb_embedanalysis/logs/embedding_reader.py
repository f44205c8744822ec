"""Read one embedding (vectors, metadata, sprite) from its files, without caching: the
store (store.py) caches, reloads on change and bounds memory.

Errors and warnings name files relative to the logdir: they are shown to users, and an
answer must not reveal the server's paths.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
from typing import List, Optional, Tuple

import numpy as np

from tb_embedanalysis.logs import metadata as metadata_io
from tb_embedanalysis.logs import paths, sprites, tensors
from tb_embedanalysis.logs.errors import LogError, MetadataError, UnsafePathError
from tb_embedanalysis.logs.model import Embedding, EmbeddingRef, Metadata
from tb_embedanalysis.logs.tensor_files import tsv_shape_warning

_FINITE_BLOCK_ROWS = 65536


def load_embedding(ref: EmbeddingRef) -> Embedding:
    """Read vectors, metadata and sprite of one ref, without caching (the store caches).

    Errors and warnings name files relative to the logdir: they are shown to users, and an
    answer must not reveal the server's paths (the readers name files as they open them).
    """
    try:
        embedding = _read_embedding(ref)
    except LogError as error:
        raise relative_error(error, ref) from None
    logdir = paths.logdir_of(ref.config_path, ref.run)
    return dataclasses.replace(embedding, warnings=tuple(paths.relative_message(w, logdir) for w in embedding.warnings))


def relative_error(error: LogError, ref: EmbeddingRef) -> LogError:
    """The same error, with paths relative to the logdir of `ref`."""
    return type(error)(paths.relative_message(str(error), paths.logdir_of(ref.config_path, ref.run)))


def _read_embedding(ref: EmbeddingRef) -> Embedding:
    # The vectors are read, checked and hashed in a second thread while this one parses the
    # metadata: numpy's file read and ufuncs and hashlib release the GIL, the parser (Python
    # dicts) holds it, so the two overlap: 1,000,000 × 64 with two metadata columns loads in
    # ~1.1 s instead of ~1.6 s (bench/README.md, "A useful first answer").
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedanalysis-read") as pool:
        reading = pool.submit(_vectors, ref)
        parsed, refused = _parse_metadata(ref)
        vectors, finite, digest = reading.result()  # its error (the vectors unreadable) first
    num_rows = vectors.shape[0]
    warnings: List[str] = list(ref.warnings)
    shape_warning = tsv_shape_warning(ref.tensor, vectors.shape)
    if shape_warning:
        warnings.append(shape_warning)
    metadata: Optional[Metadata] = None
    label_column = None
    if parsed is not None:
        try:
            metadata, metadata_warnings = parsed.checked(num_rows=num_rows, tensor_name=ref.name)
        except MetadataError as error:  # costs the labels, not the vectors
            refused = metadata_io.refusal_warning(error)
        else:
            warnings.extend(metadata_warnings)
            label_column = metadata_io.guess_label_column(metadata)
    if refused is not None:
        warnings.append(refused)
    sprite = None
    if ref.sprite is not None:
        sprite, sprite_warning = sprites.check_sprite(ref.sprite, num_rows)
        if sprite_warning:
            warnings.append(sprite_warning)
    bad = int(num_rows - np.count_nonzero(finite))
    if bad:
        warnings.append("%s %s NaN or Inf and %s excluded from analysis"
                        % (format(bad, ","), "row contains" if bad == 1 else "rows contain",
                           "is" if bad == 1 else "are"))
    return Embedding(ref=ref, vectors=vectors, metadata=metadata, label_column=label_column, sprite=sprite,
                     finite=finite, fingerprint=digest, warnings=tuple(warnings))


def _vectors(ref: EmbeddingRef) -> Tuple[np.ndarray, np.ndarray, str]:
    """The vectors (read-only float32), their finite rows and their fingerprint."""
    vectors = _as_readonly_float32(tensors.read_vectors(ref.tensor))
    return vectors, _finite_rows(vectors), fingerprint(vectors)


def _parse_metadata(ref: EmbeddingRef) -> Tuple[Optional[metadata_io.ParsedMetadata], Optional[str]]:
    """(the parsed metadata file, None), or (None, why there are no labels) when the ref has a
    metadata path that is missing or refused; (None, None) without one."""
    if not ref.metadata_path:
        return None, None
    if not os.path.lexists(ref.metadata_path):  # not exists(): a symlink to a missing file is refused, not "missing"
        return None, "metadata file %s is missing: no labels" % ref.metadata_path
    try:
        return metadata_io.parse_metadata(ref.metadata_path), None
    except (MetadataError, UnsafePathError) as error:  # costs the labels, not the vectors
        return None, metadata_io.refusal_warning(error)


def fingerprint(vectors: np.ndarray) -> str:
    """blake2b-128 of shape + float32 bytes: equal content ⇔ equal key for cached analyses."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.asarray(vectors.shape, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(vectors, dtype="<f4").data.cast("B"))
    return digest.hexdigest()


def _as_readonly_float32(vectors: np.ndarray) -> np.ndarray:
    # Already float32 and contiguous for .bytes: no copy, only marked read-only.
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    array.flags.writeable = False
    return array


def _finite_rows(vectors: np.ndarray) -> np.ndarray:
    """bool (N,): rows without NaN/Inf. A row whose sum is finite has no NaN or Inf (either
    would make the sum NaN or ±Inf), so only rows whose sum is not (a NaN, an Inf, or finite
    values whose sum overflows) are checked value by value: one read of the matrix instead
    of an (N, D) mask (1,000,000 × 64: 0.4 → 0.05 s). In blocks, to bound the temporaries."""
    finite = np.empty(vectors.shape[0], dtype=bool)
    for start in range(0, vectors.shape[0], _FINITE_BLOCK_ROWS):
        block = vectors[start:start + _FINITE_BLOCK_ROWS]
        with np.errstate(over="ignore", invalid="ignore"):
            rows = np.isfinite(block.sum(axis=1))
        suspect = np.flatnonzero(~rows)
        if len(suspect):
            rows[suspect] = np.isfinite(block[suspect]).all(axis=1)
        finite[start:start + len(block)] = rows
    finite.flags.writeable = False
    return finite
