"""Metadata in any accepted form -> an optional header and rows of clean TSV cells.

A cell may hold no tab or line break (refused, or escaped with ``escape_metadata``), and a
blank one is written as `EMPTY_PLACEHOLDER`, so that every reader of metadata.tsv sees one
row per point.
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.quoting import excerpt
from tb_embedanalysis.writer.errors import MetadataValueError, ShapeError, fmt_int
from tb_embedanalysis.writer.validation import LINE_BREAKS, check_rows

_FORBIDDEN = {"\t": "a tab (\\t)", **LINE_BREAKS}
_FORBIDDEN_RE = re.compile("[" + re.escape("".join(_FORBIDDEN)) + "]")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

#: What an empty (or whitespace-only) metadata value is written as. The standard
#: Projector skips blank lines of metadata.tsv (``line.trim() === ''``), so an empty
#: single-column value - or a multi-column row whose values are all empty - would drop
#: a row there and shift every later label onto the wrong point. A visible placeholder
#: keeps rows aligned in the Projector and in our reader, which both read it verbatim.
EMPTY_PLACEHOLDER = "<empty>"


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
    where = f"row {fmt_int(row)} column {excerpt(column)}" if row is not None else f"column name {excerpt(column)}"
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
                f"metadata {where} contains {_FORBIDDEN[found.group()]}: {excerpt(text)}; "
                f"a TSV cell cannot hold it without shifting columns or rows{hint}"
            )
        text = _FORBIDDEN_RE.sub(lambda m: _ESCAPES.get(m.group(), " "), text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MetadataValueError(
            f"metadata {where} is not valid unicode: {excerpt(text)} ({exc.reason})"
        ) from None
    if is_blank(text):
        if row is None:
            raise MetadataValueError(f"metadata column names must not be blank, got {excerpt(text)}")
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


def metadata_tsv_bytes(header: Optional[List[str]], rows: List[List[str]]) -> bytes:
    """metadata.tsv's bytes: the header line (if any), then one line per row, UTF-8."""
    lines = (["\t".join(header)] if header is not None else []) + ["\t".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")
