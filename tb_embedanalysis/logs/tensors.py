"""Read the vectors of one embedding: TF checkpoints, TSV files, raw float32 ``.bytes``.

One reader per source kind, chosen from a registry: tensor files (TSV, ``.bytes``) in
tensor_files.py, model checkpoints (TF V2, V1, Keras 3 weights) in checkpoint_reader.py.
TensorFlow is optional: only reading a TF checkpoint imports it, lazily, so that
`import tb_embedanalysis` stays cheap inside TensorBoard and TSV/``.bytes`` logs work
without it. Every failure becomes an error of ours that names the file or the tensor.
"""

from __future__ import annotations

import os
from typing import Callable, Dict

import numpy as np

from tb_embedanalysis.logs.checkpoint_reader import read_checkpoint
from tb_embedanalysis.logs.errors import TensorFormatError
from tb_embedanalysis.logs.model import TensorSource
from tb_embedanalysis.logs.tensor_files import read_bytes, read_tsv


def read_vectors(source: TensorSource) -> np.ndarray:
    """The (N, D) matrix a TensorSource points at, as float32, read into memory.

    Raises TensorNotFoundError (missing file / checkpoint / variable), TensorFormatError
    (not a 2-D numeric matrix, wrong size, half-written) or NeedsTensorFlowError.
    """
    try:
        reader = _READERS[source.kind]
    except KeyError:
        raise TensorFormatError(
            "%s: unknown tensor kind %r; known kinds: %s" % (source.path, source.kind, ", ".join(_READERS))
        ) from None
    vectors = reader(source)
    if vectors.ndim != 2:
        raise TensorFormatError(
            "tensor %s in %s has shape %s; an embedding must be 2-D (N, D)"
            % (source.tensor_name or os.path.basename(source.path), source.path, tuple(vectors.shape))
        )
    if vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise TensorFormatError("tensor in %s is empty: shape %s" % (source.path, tuple(vectors.shape)))
    return vectors


_READERS: Dict[str, Callable[[TensorSource], np.ndarray]] = {
    "checkpoint": read_checkpoint,
    "tsv": read_tsv,
    "bytes": read_bytes,
}
