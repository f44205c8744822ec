"""Checks that run before the writer touches the disk, and the errors they raise.

`write_embedding` validates everything (vectors, metadata, images, sprite size, the
existing config) before it writes a single byte, so a refused call leaves the log
directory exactly as it was. Each function here takes user input in any of the accepted
forms and returns one normalised form; the writer trusts that form afterwards.

Every message carries the actual values ("metadata has 9,999 rows but vectors has
10,000") so that the user can fix the call without a debugger.
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np


class WriterError(ValueError):
    """Base class: the input cannot be written as an embedding. Nothing was written."""


class ShapeError(WriterError):
    """An array has the wrong rank or a shape that does not fit the others."""


class LengthMismatchError(WriterError):
    """Vectors, metadata and images disagree on the number of points N."""


class NonFiniteError(WriterError):
    """The vectors contain NaN or Inf and `allow_nonfinite` is False."""


class MetadataValueError(WriterError):
    """A metadata value or column name cannot be written to a TSV file as it is."""


class ImageValueError(WriterError):
    """Images have an unusable dtype or value range."""


class SpriteTooLargeError(WriterError):
    """N thumbnails do not fit in the Projector's largest sprite (8192 x 8192 px)."""


class InvalidNameError(WriterError):
    """The embedding name or step cannot be used in a tensor name or directory."""


# Characters that end a line for some reader of metadata.tsv. The Projector splits on
# "\n"; Python's text mode also splits on "\r"; str.splitlines() on all of these. A
# value holding any of them would shift every later row in one reader or another.
_LINE_BREAKS = {
    "\n": "a newline (\\n)",
    "\r": "a carriage return (\\r)",
    "\x0b": "a vertical tab (\\x0b)",
    "\x0c": "a form feed (\\x0c)",
    "\x1c": "a file separator (\\x1c)",
    "\x1d": "a group separator (\\x1d)",
    "\x1e": "a record separator (\\x1e)",
    "\x85": "a next-line character (\\x85)",
    "\u2028": "a line separator (\\u2028)",
    "\u2029": "a paragraph separator (\\u2029)",
}
_FORBIDDEN = {"\t": "a tab (\\t)", **_LINE_BREAKS}
_FORBIDDEN_RE = re.compile("[" + re.escape("".join(_FORBIDDEN)) + "]")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

#: What an empty (or whitespace-only) metadata value is written as. The standard
#: Projector skips blank lines of metadata.tsv (``line.trim() === ''``), so an empty
#: single-column value - or a multi-column row whose values are all empty - would drop
#: a row there and shift every later label onto the wrong point. A visible placeholder
#: keeps rows aligned in the Projector and in our reader, which both read it verbatim.
EMPTY_PLACEHOLDER = "<empty>"


def fmt_int(n: int) -> str:
    """10000 -> '10,000' (numbers in messages are read by people)."""
    return f"{n:,}"


# ----------------------------------------------------------------------------- names


def check_name(name: Any) -> str:
    """The embedding name: a non-empty string without ':' or control characters.

    ':' is refused because ``name:NNNNN`` is how steps are spelled in the config (the
    tensorboardX convention); a name that contains one would be read back as a step.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"name must be a str, got {type(name).__name__} {name!r}")
    if not name.strip():
        raise InvalidNameError(f"name must not be empty, got {name!r}")
    if ":" in name:
        raise InvalidNameError(
            f"name {name!r} contains ':', which the config uses to separate the step "
            f"(tensor_name 'name:00100'); use another character, e.g. {name.replace(':', '_')!r}"
        )
    if any(ord(ch) < 32 or ch in _LINE_BREAKS for ch in name):
        raise InvalidNameError(f"name {name!r} contains a control character")
    return name


def check_step(step: Any) -> Optional[int]:
    """None, or a non-negative integer (numpy and TF integer scalars accepted)."""
    if step is None:
        return None
    message = f"step must be an integer >= 0 or None, got {step!r}"
    if isinstance(step, bool):
        raise InvalidNameError(message)
    try:
        array = np.asarray(step)
    except Exception:
        raise InvalidNameError(message) from None
    if array.ndim != 0 or array.dtype.kind not in "iu" or int(array) < 0:
        raise InvalidNameError(message)
    value = int(array)
    return value


# --------------------------------------------------------------------------- vectors


def as_vectors(vectors: Any, *, allow_nonfinite: bool = False) -> np.ndarray:
    """Any (N, D) array-like -> C-contiguous little-endian float32 (N, D), N >= 1, D >= 1.

    float64 input is rounded to float32 (the Projector and our reader both use float32).
    Rows with NaN/Inf are refused unless ``allow_nonfinite``; our reader then excludes
    them from the analysis, the Projector shows them as it can.
    """
    try:
        array = np.asarray(vectors)
    except Exception as exc:  # torch tensors on GPU, ragged lists, ...
        raise ShapeError(
            f"vectors could not be converted to a numpy array ({exc}); pass a numpy array, "
            "a tf.Tensor or a CPU torch tensor (tensor.detach().cpu())"
        ) from exc
    if array.dtype.kind not in "biuf":
        raise ShapeError(
            f"vectors must be numeric, got dtype {array.dtype} with shape {array.shape}"
        )
    if array.ndim != 2:
        hint = " (a single vector? use vectors[None, :])" if array.ndim == 1 else ""
        raise ShapeError(
            f"vectors must have rank 2 (N, D), got rank {array.ndim} with shape "
            f"{array.shape}{hint}"
        )
    n, d = array.shape
    if n == 0 or d == 0:
        raise ShapeError(f"vectors must have at least one row and one column, got shape {array.shape}")
    out = np.ascontiguousarray(array, dtype="<f4")
    if not allow_nonfinite:
        finite_rows = np.isfinite(out).all(axis=1)
        if not finite_rows.all():
            bad = np.flatnonzero(~finite_rows)
            shown = ", ".join(str(i) for i in bad[:5]) + (", ..." if bad.size > 5 else "")
            raise NonFiniteError(
                f"vectors has {fmt_int(bad.size)} of {fmt_int(n)} rows with NaN or Inf "
                f"(rows {shown}); fix them, or pass allow_nonfinite=True to write them "
                "anyway (the analysis then leaves those rows out)"
            )
    return out


def check_rows(what: str, count: int, n: int) -> None:
    if count != n:
        raise LengthMismatchError(
            f"{what} has {fmt_int(count)} rows but vectors has {fmt_int(n)}"
        )


# -------------------------------------------------------------------------- metadata


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def is_blank(text: str) -> bool:
    # JavaScript's trim() also removes U+FEFF, Python's strip() does not.
    return not text.replace("\ufeff", "").strip()


def _clean(text: str, *, row: Optional[int], column: str, escape: bool) -> str:
    """One cell: refuse or escape separators, replace blanks, check it encodes."""
    where = f"row {fmt_int(row)} column {column!r}" if row is not None else f"column name {column!r}"
    found = _FORBIDDEN_RE.search(text)
    if found:
        if not escape or row is None:
            hint = (
                "; pass escape_metadata=True to write tabs and newlines as the two "
                "characters \\t, \\n (other line breaks become a space)"
                if row is not None
                else ""
            )
            raise MetadataValueError(
                f"metadata {where} contains {_FORBIDDEN[found.group()]}: {text[:60]!r}; "
                f"a TSV cell cannot hold it without shifting columns or rows{hint}"
            )
        text = _FORBIDDEN_RE.sub(lambda m: _ESCAPES.get(m.group(), " "), text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MetadataValueError(
            f"metadata {where} is not valid unicode: {text[:60]!r} ({exc.reason})"
        ) from None
    if is_blank(text):
        if row is None:
            raise MetadataValueError(f"metadata column names must not be blank, got {text!r}")
        return EMPTY_PLACEHOLDER
    return text


def _column_values(column: str, values: Any, n: int) -> List[Any]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise MetadataValueError(
            f"metadata column {column!r} must be a sequence of N values, got {type(values).__name__}"
        )
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise ShapeError(
            f"metadata column {column!r} must be one value per point, got shape {array.shape}"
        )
    check_rows(f"metadata column {column!r}", len(array), n)
    return list(array)


def as_metadata(
    metadata: Any,
    header: Optional[Sequence[str]],
    n: int,
    *,
    escape: bool = False,
) -> Tuple[Optional[List[str]], List[List[str]]]:
    """Normalise metadata to (header or None, rows of str), one row per point.

    Accepted forms:
      * one sequence of N values -> one column, no header (the Projector's convention for
        a single column; a header row would be read as the first label);
      * a mapping column -> N values -> a header row with the mapping's keys (one column
        is written without header, as above; its name is not kept);
      * N rows (sequences) together with ``header`` (one name per column);
      * a 2-D array (N, C) together with ``header``.
    Values are written with ``str()``; None and blank values as `EMPTY_PLACEHOLDER`.
    """
    if isinstance(metadata, Mapping):
        if header is not None:
            raise MetadataValueError(
                "metadata_header is only for metadata given as rows; a mapping's keys "
                f"are the header already ({list(metadata)[:5]})"
            )
        if not metadata:
            raise MetadataValueError("metadata mapping has no columns")
        names = [to_text(key) for key in metadata]
        columns = [_column_values(name, values, n) for name, values in zip(names, metadata.values())]
    else:
        if isinstance(metadata, (str, bytes)) or not hasattr(metadata, "__len__"):
            raise MetadataValueError(
                "metadata must be a sequence of N values, a mapping column -> values, or "
                f"N rows with metadata_header; got {type(metadata).__name__}"
            )
        array = np.asarray(metadata, dtype=object) if len(metadata) else np.empty((0,), object)
        rows_given = array.ndim == 2 or (
            array.ndim == 1 and len(array) and all(_is_row(item) for item in array)
        )
        if not rows_given:
            if array.ndim != 1:
                raise ShapeError(f"metadata must be 1-D values or 2-D rows, got shape {array.shape}")
            check_rows("metadata", len(array), n)
            if header is not None:
                header = list(header)
                if len(header) != 1:
                    raise MetadataValueError(
                        f"metadata is a single column but metadata_header has "
                        f"{len(header)} names: {header}"
                    )
            names = [to_text(header[0])] if header is not None else ["label"]
            columns = [list(array)]
        else:
            rows = [list(row) for row in array]
            check_rows("metadata", len(rows), n)
            if header is None:
                raise MetadataValueError(
                    f"metadata is given as rows of {len(rows[0])} values; pass "
                    "metadata_header=[...] with one name per column (or a mapping "
                    "column -> values)"
                )
            names = [to_text(name) for name in header]
            for index, row in enumerate(rows):
                if len(row) != len(names):
                    raise ShapeError(
                        f"metadata row {fmt_int(index)} has {len(row)} values but "
                        f"metadata_header has {len(names)} names: {names}"
                    )
            columns = [list(column) for column in zip(*rows)]

    names = [_clean(name, row=None, column=name, escape=False) for name in names]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise MetadataValueError(f"metadata column names must be unique, got duplicates {duplicates}")
    cleaned = [
        [_clean(to_text(value), row=i, column=name, escape=escape) for i, value in enumerate(column)]
        for name, column in zip(names, columns)
    ]
    rows_out = [list(row) for row in zip(*cleaned)]
    return (names if len(names) > 1 else None), rows_out


def _is_row(item: Any) -> bool:
    return isinstance(item, (list, tuple, np.ndarray)) and not isinstance(item, (str, bytes))


# ---------------------------------------------------------------------------- images


def as_images(
    images: Any, n: Optional[int], *, image_shape: Optional[Sequence[int]] = None
) -> np.ndarray:
    """Images -> uint8 (N, H, W, C) with C in {1, 3, 4}.

    Accepted: (N, H, W), (N, H, W, 1|3|4), or flat (N, P) with ``image_shape`` (H, W) or
    (H, W, C). Values: uint8 as is; bool as 0/255; other integers in [0, 255]; floats in
    [0, 1] scaled as ``rint(x * 255)``. ``n`` (if given) is the number of vectors.
    """
    array = np.asarray(images)
    if array.dtype.kind not in "biuf":
        raise ImageValueError(f"images must be numeric, got dtype {array.dtype}")
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) not in (2, 3) or any(s <= 0 for s in shape):
            raise ShapeError(f"image_shape must be (H, W) or (H, W, C), got {tuple(image_shape)}")
        if array.ndim < 1:
            raise ShapeError(f"images must have one entry per point, got shape {array.shape}")
        size = int(np.prod(array.shape[1:]))
        if size != int(np.prod(shape)):
            raise ShapeError(
                f"images have {fmt_int(size)} values per image (shape {array.shape}) but "
                f"image_shape {shape} needs {fmt_int(int(np.prod(shape)))}"
            )
        array = array.reshape((array.shape[0],) + shape)
    elif array.ndim == 2:
        raise ShapeError(
            f"images are flat with shape {array.shape}; pass image_shape=(H, W) or "
            "(H, W, C), e.g. image_shape=(28, 28) for 784 values"
        )
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise ShapeError(
            f"images must be (N, H, W), (N, H, W, C) with C in 1, 3, 4, or flat (N, P) "
            f"with image_shape; got shape {array.shape}"
        )
    if n is not None:
        check_rows("images", array.shape[0], n)
    if array.shape[0] == 0 or array.shape[1] == 0 or array.shape[2] == 0:
        raise ShapeError(f"images must not be empty, got shape {array.shape}")
    return _to_uint8(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ImageValueError(
                f"integer images must be in [0, 255], got values from {low} to {high}"
            )
        return array.astype(np.uint8)
    if not np.isfinite(array).all():
        raise ImageValueError(
            f"images contain {fmt_int(int(np.count_nonzero(~np.isfinite(array))))} NaN/Inf values"
        )
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        hint = " (looks like 0-255: pass images.astype('uint8'))" if high <= 255 and low >= 0 else ""
        raise ImageValueError(
            f"float images must be in [0, 1], got values from {low:g} to {high:g}{hint}"
        )
    return np.rint(array * 255.0).astype(np.uint8)
