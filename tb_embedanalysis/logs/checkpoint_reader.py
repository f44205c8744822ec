"""Read model checkpoints: TF V2, TF V1 and Keras 3 weights files.

A "checkpoint" source is any of the model checkpoints projector logs point at, told apart
by their files (`checkpoint_format`): TF V2 (``prefix.index`` + data shards: TF2
Checkpoint, TF1 Saver, tf_keras), TF V1 (``prefix`` itself, or shards
``prefix-00000-of-00001`` named by the pattern ``prefix-?????-of-00001``: TF1
``Saver(write_version=V1)``), and Keras 3 weights files (``*.weights.h5``, read with h5py in
logs/keras_weights.py, through an opened file object).

TensorFlow is optional: it is imported here, lazily, and only to read checkpoints. TF opens
checkpoint files itself, by name, so the rule that a file may not have become a symlink
since discovery is checked by name just before and just after TF reads them
(`_check_checkpoint`).
"""

from __future__ import annotations

import os
import re
from typing import List, Mapping, Optional, Tuple

import numpy as np

from tb_embedanalysis.logs import keras_weights, paths
from tb_embedanalysis.logs.errors import (
    NeedsTensorFlowError,
    TensorFormatError,
    TensorNotFoundError,
    UnsafePathError,
)
from tb_embedanalysis.logs.model import TensorSource
from tb_embedanalysis.quoting import clipped, excerpt

# How tf.train.Checkpoint (TF2, object-based) stores a variable's value under its path.
TF2_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_OUTPUT_INDEX = re.compile(r":\d+$")
_EXTENDED_FLOATS = ("bfloat16", "float8")  # ml_dtypes floats numpy does not know as "f"
_V1_SHARD_PATTERN = re.compile(r"-\?{5}-of-(\d{5})$")  # what a sharded V1 Saver writes as its prefix


def checkpoint_format(prefix: str) -> str:
    """"keras_h5", "v2" (``prefix.index`` exists, or nothing does yet) or "v1"."""
    if keras_weights.is_weights_file(prefix):
        return "keras_h5"
    if os.path.lexists(prefix + ".index"):
        return "v2"
    return "v1" if _v1_files(prefix) else "v2"


def checkpoint_files(prefix: str) -> List[str]:
    """The files making up a checkpoint (see the module doc): V2 ``prefix.index`` and its data
    shards; V1 the file ``prefix`` or its shards; a Keras weights file itself. A checkpoint not
    (yet) written gives ``[prefix.index]``, so a missing checkpoint reads as a missing V2 index."""
    form = checkpoint_format(prefix)
    if form == "keras_h5":
        return [prefix]
    if form == "v1":
        return _v1_files(prefix)
    directory, base = os.path.split(prefix)
    files = [prefix + ".index"]
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return files
    files.extend(
        os.path.join(directory, name) for name in sorted(names) if name.startswith(base + ".data-")
    )
    return files


def _v1_files(prefix: str) -> List[str]:
    """V1 checkpoint files of `prefix`: the file itself, or the shards its ``-?????-of-NNNNN`` names."""
    directory, base = os.path.split(prefix)
    match = _V1_SHARD_PATTERN.search(base)
    if match is None:
        return [prefix] if os.path.isfile(prefix) else []
    shard = re.compile(re.escape(base[:match.start()]) + r"-\d{5}-of-" + match.group(1) + "$")
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    return [os.path.join(directory, name) for name in sorted(names) if shard.match(name)]


def _import_tensorflow(what: str):
    try:
        import tensorflow as tf  # optional dependency, see module doc
    except ImportError:
        raise NeedsTensorFlowError(
            # `pip install tensorflow`, not our [tf] extra by name: the package is not on a
            # registry yet, and a user with tensorflow-cpu or a GPU build needs no second one.
            "reading checkpoint %s needs TensorFlow: pip install tensorflow "
            "(or any TensorFlow build already chosen for this environment)" % what
        ) from None
    return tf


def _check_checkpoint(prefix: str) -> None:
    """Refuse a checkpoint whose files no longer lie where discovery found them.

    Discovery hands out canonical prefixes (realpath of the directory) and checked that the
    ``.index`` lies in that directory. TF opens the index and data shards by name (no file
    descriptor can be passed), so this runs right before TF opens them and again right after
    it read the tensor; a symlink swapped in for that whole time is caught. What remains is
    a swap to a symlink *and back* within the milliseconds of the read itself: only an
    attacker who can write the logdir at will could time it, and such a writer can replace
    the vectors anyway; the bytes would still never be served as anything but vectors.
    """
    directory = os.path.dirname(prefix)
    if os.path.realpath(directory) != directory:
        raise UnsafePathError("checkpoint %s: its directory is a symbolic link now, or lies under one, that it was not "
                              "when the logdir was scanned; refusing to read it" % prefix)
    for path in checkpoint_files(prefix):
        if os.path.lexists(path) and not paths.is_inside(path, directory):
            raise UnsafePathError("checkpoint file %s is a symbolic link leading outside its directory; "
                                  "refusing to read it" % path)


def _open_checkpoint(prefix: str):
    _check_checkpoint(prefix)
    if not any(os.path.exists(path) for path in checkpoint_files(prefix)):
        raise TensorNotFoundError(
            "checkpoint %s does not exist (no %s.index); is it still being written?"
            % (prefix, os.path.basename(prefix))
        )
    tf = _import_tensorflow(prefix)
    try:
        # tf.train.load_checkpoint reads a checkpoint's index and data directly: no graph,
        # no Keras model; TF1 Saver and TF2 Checkpoint files alike, V2 and V1 (for V1 it
        # takes the file, or the shards' ?????-pattern, as the prefix).
        reader = tf.train.load_checkpoint(prefix)
    except Exception as error:  # noqa: BLE001 - TF raises OpError, ValueError...; all mean "unreadable"
        _check_checkpoint(prefix)  # a refusal, not TF's words about a file it should not have opened
        raise TensorFormatError("checkpoint %s cannot be read: %s" % (prefix, _short(error))) from None
    _check_checkpoint(prefix)  # TF has read the index now: was it still the one discovery checked?
    return reader


def checkpoint_variables(prefix: str) -> Mapping[str, Tuple[Tuple[int, ...], str]]:
    """{variable key: (shape, dtype name)} of a checkpoint, read from its index only
    (a Keras weights file: its dataset headers)."""
    if checkpoint_format(prefix) == "keras_h5":
        return keras_weights.variables(prefix)
    reader = _open_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    return {key: (tuple(shapes[key]), dtypes[key].name) for key in shapes}


def checkpoint_key(requested: str, available) -> Optional[str]:
    """The stored key for a config's tensor_name, accepting either TF1 or TF2 spelling.

    ``FINAL_LOGITS:0`` (a TF1 tensor name) → ``FINAL_LOGITS``; ``embedding`` ↔
    ``embedding/.ATTRIBUTES/VARIABLE_VALUE``.
    """
    name = _OUTPUT_INDEX.sub("", requested)
    for candidate in (requested, name, name + TF2_VALUE_SUFFIX, display_name(name)):
        if candidate in available:
            return candidate
    return None


def display_name(key: str) -> str:
    """The name users see: no TF1 ``:0`` output index, no TF2 value suffix."""
    key = _OUTPUT_INDEX.sub("", key)
    return key[: -len(TF2_VALUE_SUFFIX)] if key.endswith(TF2_VALUE_SUFFIX) else key


def read_checkpoint(source: TensorSource) -> np.ndarray:
    if checkpoint_format(source.path) == "keras_h5":
        return keras_weights.read(source.path, source.tensor_name or "")
    reader = _open_checkpoint(source.path)
    shapes = reader.get_variable_to_shape_map()
    key = checkpoint_key(source.tensor_name or "", shapes)
    if key is None:
        sample = sorted(name for name, shape in shapes.items() if len(shape) == 2)
        sample = sample or sorted(shapes)
        listed = ", ".join(display_name(name) for name in sample[:8])
        more = " (and %d more)" % (len(sample) - 8) if len(sample) > 8 else ""
        raise TensorNotFoundError(
            "checkpoint %s has no tensor %s; 2-D tensors it has: %s%s"
            % (source.path, excerpt(source.tensor_name or ""), listed or "none", more)
        )
    if len(shapes[key]) != 2:
        raise TensorFormatError(
            "tensor %s in checkpoint %s has shape %s; an embedding must be 2-D (N, D)"
            % (display_name(key), source.path, tuple(shapes[key]))
        )
    try:
        value = reader.get_tensor(key)
    except Exception as error:  # noqa: BLE001 - a truncated shard raises IndexError, others OpError
        _check_checkpoint(source.path)
        raise TensorFormatError(
            "tensor %s in checkpoint %s cannot be read (half-written or corrupt?): %s"
            % (display_name(key), source.path, _short(error))
        ) from None
    _check_checkpoint(source.path)  # after TF read the shards: see _check_checkpoint
    value = np.asarray(value)
    # bfloat16 (and float8) arrive as ml_dtypes types, kind "V": cast them like the
    # Projector does; every bfloat16 value is exactly a float32 value.
    if value.dtype.kind not in "fiu" and not value.dtype.name.startswith(_EXTENDED_FLOATS):
        raise TensorFormatError(
            "tensor %s in checkpoint %s has dtype %s; an embedding must be numeric"
            % (display_name(key), source.path, value.dtype)
        )
    return value.astype(np.float32, copy=False)


def _short(error: Exception) -> str:
    """The first line of TensorFlow's message (it may quote the file: bounded, escaped)."""
    return clipped(str(error).strip().splitlines()[0]) if str(error).strip() else type(error).__name__

