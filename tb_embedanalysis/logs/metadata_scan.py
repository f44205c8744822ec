"""What a listing needs of a metadata file (columns, label guess, the row-count check),
read without parsing every row: the fast path of read_metadata (metadata.py) for /runs."""

from __future__ import annotations

import codecs
import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.logs import paths
from tb_embedanalysis.logs.errors import MetadataError
from tb_embedanalysis.logs.metadata import (
    SINGLE_COLUMN_NAME, _count_message, _decode, _guess, _tab_in_label_message, _unique_header,
)


@dataclasses.dataclass(frozen=True)
class MetadataFacts:
    """What a listing needs of a metadata file, read without parsing it (see scan_metadata)."""

    columns: Tuple[str, ...]
    label_column: Optional[str]
    warnings: Tuple[str, ...]


_SCAN_BYTES = 1024 * 1024  # read at a time when counting rows
_SAMPLE_WINDOWS, _SAMPLE_BYTES = 32, 16 * 1024  # the label guess reads at most 512 KB of rows


def scan_metadata(path: str, *, num_rows: int, tensor_name: str) -> MetadataFacts:
    """Columns, label guess and the row-count check of `path`, without parsing every row.

    For listings: one pass counts newlines 1 MB at a time (~0.1 s for 200 MB, memory
    constant), the header is the first line, and the label column is guessed by
    guess_label_column's rules on up to 512 KB of rows sampled across the file. So the
    columns and the row-count error are what read_metadata gives; the guess is exact when
    a column is named like a label (rule 1) or the file is under 512 KB, else it comes from
    the sample (rule 2 on distinct values among the sampled rows). Undecodable bytes and
    rows longer than the header are found when the embedding is loaded (read_metadata).
    """
    try:
        with paths.open_regular(path) as handle:
            return _scan(handle, path, num_rows, tensor_name)
    except FileNotFoundError:
        raise MetadataError("metadata file %s does not exist" % path) from None
    except OSError as problem:
        raise MetadataError("metadata file %s cannot be read: %s" % (path, problem.strerror)) from None


def _scan(handle, path: str, num_rows: int, tensor_name: str) -> MetadataFacts:
    start = 3 if handle.read(3) == codecs.BOM_UTF8 else 0
    handle.seek(start)
    newlines, has_tab, has_content, first_line, tab_line = 0, False, False, None, None
    offset, last, tail = start, b"", b""
    while True:
        chunk = handle.read(_SCAN_BYTES)
        if not chunk:
            break
        if offset == start and b"\n" in chunk:
            first_line = chunk[:chunk.index(b"\n")]
        if not has_tab and b"\t" in chunk:
            has_tab, tab_line = True, newlines + chunk.count(b"\n", 0, chunk.index(b"\t")) + 1
        newlines += int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == 10))  # 2x bytes.count
        stripped = chunk.rstrip(b"\t\r\n")
        has_content = has_content or bool(stripped)
        # Bytes after the last field content: only there can trailing blank rows be.
        tail = chunk[len(stripped):] if stripped else (tail + chunk)[-_SCAN_BYTES:]
        offset, last = offset + len(chunk), chunk[-1:]
    stop = offset - 1 if last == b"\n" else offset  # the last newline ends a row, it starts none
    lines = 0 if stop <= start else newlines - (last == b"\n") + 1
    if first_line is None and lines:  # a single line, or a first line over 1 MB
        handle.seek(start)
        first_line = handle.read(min(stop - start, 16 * _SCAN_BYTES)).split(b"\n", 1)[0]
    first = _decode(first_line, 0, len(first_line), path) if lines and first_line is not None else ""
    first = first[:-1] if first.endswith("\r") else first
    warnings: List[str] = []
    header = _unique_header(first, path, warnings) if has_tab else [SINGLE_COLUMN_NAME]
    rows = max(0, lines - 1) if has_tab else lines
    body = tail[:-1] if last == b"\n" else tail
    # After content, tail's first piece ends the last line with content; without any
    # content, every line is in it.
    candidates = body.split(b"\n")[1:] if has_content else (body.split(b"\n") if lines else [])
    blank = 0
    for line in reversed(candidates):
        if (line[:-1] if line.endswith(b"\r") else line).strip(b"\t"):
            break  # "\r\t" has a field "\r": not blank (as read_metadata sees it)
        blank += 1
    rows -= min(blank, rows, max(0, rows - num_rows))  # writers pad with blank lines
    if rows != num_rows:
        if tab_line is not None and tab_line > 1 and len(header) == 1:  # set with has_tab
            raise MetadataError(_tab_in_label_message(path, tab_line))
        raise MetadataError(_count_message(path, rows, num_rows, tensor_name, header, first))
    distinct, sampled = _sample_distinct(handle, header, start, stop, rows=rows, skip_header=has_tab)
    return MetadataFacts(columns=tuple(header), label_column=_guess(header, distinct, sampled),
                         warnings=tuple(warnings))


def _sample_distinct(handle, header: Sequence[str], start: int, stop: int, *, rows: int,
                     skip_header: bool) -> Tuple[Dict[str, int], int]:
    """({column: distinct values}, rows sampled) among whole rows read from windows spread over
    the file; a file under 512 KB is read whole, so its first `rows` rows (blank padding left out)
    give exact counts."""
    span = stop - start
    if span <= _SAMPLE_WINDOWS * _SAMPLE_BYTES:
        windows = [(start, span)]
    else:
        step = (span - _SAMPLE_BYTES) // (_SAMPLE_WINDOWS - 1)
        windows = [(start + i * step, _SAMPLE_BYTES) for i in range(_SAMPLE_WINDOWS)]
    seen: List[set] = [set() for _ in header]
    sampled = 0
    for position, length in windows:
        handle.seek(position)
        data = handle.read(length)
        lines = data.decode("utf-8", errors="replace").split("\n")
        if position > start or skip_header:
            lines = lines[1:]  # a partial line, or the header
        if position + length < stop:
            lines = lines[:-1]  # cut short by the window
        del lines[max(0, rows - sampled):]
        for line in lines:
            line = line[:-1] if line.endswith("\r") else line
            fields = line.split("\t") if skip_header else [line]
            for index, values in enumerate(seen):
                values.add(fields[index] if index < len(fields) else "")
            sampled += 1
    return {column: len(values) for column, values in zip(header, seen)}, sampled
