"""Read vectors from tensor files: TSV text, and raw float32 ``.bytes`` (read, never mapped).

Files are opened through `paths.open_regular`, which refuses a file that became a symlink
since discovery. Every failure is an error of ours that names the file.
"""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

import numpy as np

from tb_embedanalysis.logs import paths
from tb_embedanalysis.logs.errors import TensorFormatError, TensorNotFoundError
from tb_embedanalysis.logs.model import TensorSource
from tb_embedanalysis.quoting import excerpt


# Longer than any number a writer prints (float64's longest repr is 24 characters; padded
# or "%.60f" values fit too), so a longer cell is refused without parsing it.
MAX_NUMBER_CHARS = 100


def read_tsv(source: TensorSource) -> np.ndarray:
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
        if max(map(len, row)) > MAX_NUMBER_CHARS:
            # Before numpy or float() see it: both quote a bad value whole in their message,
            # 64 MB for a 16 MiB cell of NUL bytes (issue 23).
            column, value = next((i, v) for i, v in enumerate(row, start=1) if len(v) > MAX_NUMBER_CHARS)
            raise TensorFormatError("%s: line %d column %d is %s, not a number" % (
                source.path, number, column, excerpt(value)))
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
                # Quoted short: a cell can be the whole file (16 MiB of NUL bytes, issue 23).
                return "line %d column %d is %s, not a number" % (number, column, excerpt(value))
    return "a value is not a number"


def tsv_shape_warning(source: TensorSource, shape: Tuple[int, int]) -> Optional[str]:
    """The warning for a TSV tensor whose config `tensor_shape` disagrees with the file
    (rows, values per row), else None. The file wins, as in TensorBoard's projector: a TSV
    carries its own shape, and the config's is most likely left over from an older write."""
    if source.kind != "tsv" or not source.shape or tuple(source.shape) == tuple(shape):
        return None
    return ("%s has %s rows of %d values, but the config's tensor_shape says %s; the file's shape is used"
            % (source.path, format(shape[0], ","), shape[1], list(source.shape)))


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
def read_bytes(source: TensorSource) -> np.ndarray:
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

