"""Read the vectors of one embedding: TF checkpoints, TSV files, raw float32 ``.bytes``.

TensorFlow is optional: it is imported here, lazily, and only to read checkpoints, so that
`import tb_embedanalysis` stays cheap inside TensorBoard and TSV/``.bytes`` logs work
without it. Every failure becomes an error of ours that names the file or the tensor.

Files are opened through `paths.open_regular`, which refuses a file that became a symlink
since discovery. TensorFlow opens checkpoint files itself, by name, so for checkpoints the
same rule is checked by name just before and just after TF reads them (`_check_checkpoint`).

A "checkpoint" source is any of the model checkpoints projector logs point at, told apart
by their files (`checkpoint_format`): TF V2 (``prefix.index`` + data shards: TF2
Checkpoint, TF1 Saver, tf_keras), TF V1 (``prefix`` itself, or shards
``prefix-00000-of-00001`` named by the pattern ``prefix-?????-of-00001``: TF1
``Saver(write_version=V1)``), and Keras 3 weights files (``*.weights.h5``, read with h5py in
logs/keras_weights.py, through an opened file object).
"""

from __future__ import annotations

import os
import re
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from tb_embedanalysis.logs import keras_weights, paths
from tb_embedanalysis.logs.errors import (
    NeedsTensorFlowError,
    TensorFormatError,
    TensorNotFoundError,
    UnsafePathError,
)
from tb_embedanalysis.logs.model import TensorSource

# How tf.train.Checkpoint (TF2, object-based) stores a variable's value under its path.
TF2_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_OUTPUT_INDEX = re.compile(r":\d+$")
_EXTENDED_FLOATS = ("bfloat16", "float8")  # ml_dtypes floats numpy does not know as "f"


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


# -- TSV -------------------------------------------------------------------------------
def _read_tsv(source: TensorSource) -> np.ndarray:
    text = _read_text(source.path)
    rows: List[List[str]] = []
    line_numbers: List[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():  # blank lines carry no row (TensorBoard skips them too)
            rows.append(line.rstrip("\r").split("\t"))
            line_numbers.append(number)
    if not rows:
        raise TensorFormatError("%s has no rows" % source.path)
    width = len(rows[0])
    for row, number in zip(rows, line_numbers):
        if len(row) != width:
            raise TensorFormatError(
                "%s line %d has %d values but line %d has %d"
                % (source.path, number, len(row), line_numbers[0], width)
            )
    try:
        # Parse as float64, then round once to float32: writers print float32 values with
        # float64's shortest repr (tensorboardX does), so this round-trips exactly.
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        raise TensorFormatError("%s: %s" % (source.path, _first_bad_value(rows, line_numbers))) from None
    return values.astype(np.float32)


def _first_bad_value(rows, line_numbers) -> str:
    for row, number in zip(rows, line_numbers):
        for column, value in enumerate(row, start=1):
            try:
                float(value)
            except ValueError:
                return "line %d column %d is %r, not a number" % (number, column, value)
    return "a value is not a number"


def _read_text(path: str) -> str:
    data = paths.read_regular(path, what="tensor file", error=TensorNotFoundError)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TensorFormatError(
            "%s is not a text TSV file; a binary float32 tensor needs a .bytes name and tensor_shape"
            % path
        ) from None


# -- raw float32 -----------------------------------------------------------------------
def _read_bytes(source: TensorSource) -> np.ndarray:
    shape = source.shape
    if not shape or len(shape) != 2:
        raise TensorFormatError(
            "%s is a raw float32 file, so the config must give a 2-D tensor_shape [N, D]; got %s"
            % (source.path, list(shape) if shape else "none")
        )
    try:
        handle = paths.open_regular(source.path)
    except FileNotFoundError:
        raise TensorNotFoundError("tensor file %s does not exist" % source.path) from None
    except OSError as error:
        raise TensorNotFoundError("tensor file %s cannot be read: %s" % (source.path, error.strerror)) from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        rows, columns = shape
        expected = rows * columns * 4
        if size != expected:
            raise TensorFormatError(
                "%s is %s bytes but tensor_shape [%d, %d] needs %s (%d x %d float32); "
                "truncated, or a wrong shape?"
                % (source.path, format(size, ","), rows, columns, format(expected, ","), rows, columns)
            )
        if expected == 0:
            raise TensorFormatError("tensor in %s is empty: shape %s" % (source.path, shape))
        # Read into memory, never np.memmap: a mapped file that another process truncates in
        # place (`array.tofile(path)` starts by truncating) kills the whole TensorBoard with
        # SIGBUS on the next access, and one rewritten in place would change the vectors under
        # a loaded Embedding whose fingerprint keys the caches. Reading costs ~6 ms per 50 MB.
        try:
            values = np.fromfile(handle, dtype="<f4", count=rows * columns)
        except OSError as error:
            raise TensorFormatError("tensor file %s cannot be read: %s" % (source.path, error.strerror)) from None
    if values.size != rows * columns:
        raise TensorFormatError("%s shrank to %s bytes while it was read (being rewritten?); tensor_shape "
                                "[%d, %d] needs %s" % (source.path, format(values.size * 4, ","), rows, columns,
                                                       format(expected, ",")))
    return values.reshape(rows, columns)


# -- TF checkpoints --------------------------------------------------------------------
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
        import tensorflow as tf  # noqa: PLC0415 - optional dependency, see module doc
    except ImportError:
        raise NeedsTensorFlowError(
            "reading checkpoint %s needs TensorFlow: pip install tb-embedanalysis[tf]" % what
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


def _read_checkpoint(source: TensorSource) -> np.ndarray:
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
            "checkpoint %s has no tensor %r; 2-D tensors it has: %s%s"
            % (source.path, source.tensor_name, listed or "none", more)
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
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


_READERS: Dict[str, Callable[[TensorSource], np.ndarray]] = {
    "checkpoint": _read_checkpoint,
    "tsv": _read_tsv,
    "bytes": _read_bytes,
}
