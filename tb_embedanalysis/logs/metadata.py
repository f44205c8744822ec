"""Read metadata.tsv the way TensorBoard's projector does, and guess which column is the label.

Format: one value per tensor row. With one column there is no header (the column is called
"label"); with several columns the first line is the header. Row counts must match the
tensor exactly: a shifted row silently mislabels every point after it, which is the worst
possible failure for an error-analysis tool, so we refuse rather than guess.
"""

from __future__ import annotations

import codecs
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.logs import paths
from tb_embedanalysis.logs.column_codes import Table
from tb_embedanalysis.logs.errors import MetadataError
from tb_embedanalysis.logs.model import Column, Metadata
from tb_embedanalysis.quoting import excerpt

SINGLE_COLUMN_NAME = "label"
LABEL_NAMES = ("label", "labels", "class", "category", "target", "y")


def read_metadata(path: str, *, num_rows: int, tensor_name: str) -> Tuple[Metadata, Tuple[str, ...]]:
    """Parse `path` and check it has `num_rows` rows; returns (metadata, warnings).

    Columns come out compact (codes + categories, see model.Column): the file is decoded and
    split a few MB at a time and each value is looked up in one dict per column, so no list
    of N str is ever built (a 200 MB file used to peak at ~2 GB as lists of lines, rows and
    tuples). A column of unique values (ids, words) still holds one str per row.

    Raises MetadataError naming the file when it is unreadable, not UTF-8, or its row count
    differs from the tensor's.
    """
    return parse_metadata(path).checked(num_rows=num_rows, tensor_name=tensor_name)


def parse_metadata(path: str) -> "ParsedMetadata":
    """read_metadata's first half, which needs no row count: the file read, decoded and split
    into codes (embedding_reader.py parses while another thread reads the vectors). Raises
    MetadataError naming the file when it is unreadable or not UTF-8."""
    data = paths.read_regular(path, what="metadata file", error=MetadataError)
    start = 3 if data.startswith(codecs.BOM_UTF8) else 0  # tolerate a BOM from spreadsheet exports
    stop = len(data) - 1 if data.endswith(b"\n") and len(data) > start else len(data)  # the last newline ends a row
    warnings: List[str] = []
    tab = data.find(b"\t", start)
    tab_line = None  # the line of the first tab, when line 1 has none (see _tab_in_label_message)
    if tab < 0:
        header = [SINGLE_COLUMN_NAME]
        first = start if stop > start else None  # an empty file has no rows, not one empty row
    else:
        newline = data.find(b"\n", start, stop)
        if 0 <= newline < tab:
            tab_line = data.count(b"\n", start, tab) + 1
        line = _decode(data, start, stop if newline < 0 else newline, path)
        header = _unique_header(line[:-1] if line.endswith("\r") else line, path, warnings)
        first = None if newline < 0 else newline + 1
    parser = _ColumnParser(len(header), path, rows=0 if first is None else data.count(b"\n", first, stop) + 1)
    if first is not None:
        for chunk_start, chunk_stop in _chunks(data, first, stop):
            parser.add(_decode(data, chunk_start, chunk_stop, path), data[chunk_start:chunk_stop])
    return ParsedMetadata(path, header, parser, warnings, tab_line)


class ParsedMetadata:
    """A metadata file parsed, its row count not yet checked against the tensor's."""

    def __init__(self, path: str, header: List[str], parser: "_ColumnParser", warnings: List[str],
                 tab_line: Optional[int]):
        self.path, self.header, self.parser, self.warnings, self.tab_line = path, header, parser, warnings, tab_line

    def checked(self, *, num_rows: int, tensor_name: str) -> Tuple[Metadata, Tuple[str, ...]]:
        """(metadata, warnings) when the file has `num_rows` rows (blank rows beyond them
        dropped), else MetadataError naming the file, both counts and the likely cause."""
        parser, path, header = self.parser, self.path, self.header
        rows = parser.trim_blank_rows(num_rows)
        if rows != num_rows:
            if self.tab_line is not None:
                raise MetadataError(_tab_in_label_message(path, self.tab_line))
            first_line = parser.value(0, 0) if rows else ""
            raise MetadataError(_count_message(path, rows, num_rows, tensor_name, header, first_line))
        parser.raise_long_row()
        values = {column: parser.column(index) for index, column in enumerate(header)}
        return Metadata(columns=tuple(header), values=values), tuple(self.warnings)


def refusal_warning(error: Exception) -> str:
    """The warning shown when a metadata file is refused but the vectors stay usable (as the
    Projector still plots the points): which file, and why."""
    return "metadata file refused, no labels: %s" % error


def guess_label_column(metadata: Metadata) -> Optional[str]:
    """The column to colour and score by, or None when no column looks like a class label.

    1. A header column named label/labels/class/category/target/y (any case) with >= 2
       distinct values.
    2. Else the column with the fewest distinct values, if 2 <= distinct <= max(2, N // 2):
       a class label repeats; a column of unique tokens (words, ids) is not a label.
    Rule 1 needs a header, so a single column (no header) only goes through rule 2.
    """
    distinct = {column: len(metadata.values[column].categories) for column in metadata.columns}
    return _guess(metadata.columns, distinct, len(metadata))


def _guess(columns: Sequence[str], distinct: Mapping[str, int], n: int) -> Optional[str]:
    """guess_label_column's rules on distinct-value counts of `n` rows."""
    if len(columns) > 1:  # rule 1 needs a header
        for column in columns:
            if column.strip().lower() in LABEL_NAMES and distinct[column] >= 2:
                return column
    candidates = [c for c in columns if 2 <= distinct[c] <= max(2, n // 2)]
    if not candidates:
        return None
    return min(candidates, key=lambda column: distinct[column])  # min is stable: first on ties


_CHUNK_BYTES = 4 * 1024 * 1024  # decoded and split at a time: bounds the temporary str objects


def _chunks(data: bytes, start: int, stop: int) -> Iterator[Tuple[int, int]]:
    """(start, stop) byte ranges of whole lines, about _CHUNK_BYTES each, covering data[start:stop]."""
    while True:
        end = data.find(b"\n", start + _CHUNK_BYTES, stop) if start + _CHUNK_BYTES < stop else -1
        yield start, stop if end < 0 else end
        if end < 0:
            return
        start = end + 1


def _decode(data: bytes, start: int, stop: int, path: str) -> str:
    try:
        return data[start:stop].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        line = data.count(b"\n", 0, offset) + 1
        raise MetadataError("%s is not UTF-8 text (line %d, byte %d)" % (path, line, offset)) from None


class _ColumnParser:
    """Codes of every column, filled a chunk of lines at a time (one dict per column)."""

    def __init__(self, width: int, path: str, *, rows: int):
        self.width, self.path, self.rows = width, path, rows
        self.codes = [np.empty(rows, dtype=np.int32) for _ in range(width)]
        self.tables = [Table() for _ in range(width)]
        self.filled = 0
        self.long_row: Optional[Tuple[int, int]] = None  # (line number, fields) of the first row too long

    def add(self, text: str, raw: bytes) -> None:
        """Rows of one chunk: `text` decoded from `raw`, whole lines joined by \\n."""
        lines = text.count("\n") + 1
        if self._regular(raw, lines):
            # Every line has exactly `width` fields: one split gives them all, row-major.
            flat = text.replace("\t", "\n").split("\n") if self.width > 1 else text.split("\n")
            columns = [flat[index::self.width] for index in range(self.width)] if self.width > 1 else [flat]
            if "\r" in text:  # \r\n files: \r ends each line's last field; a lone \r inside stays data
                columns[-1] = [value[:-1] if value.endswith("\r") else value for value in columns[-1]]
        else:
            columns = self._split_rows(text)  # short or long rows: line by line
        end = self.filled + lines
        for codes, table, values in zip(self.codes, self.tables, columns):
            codes[self.filled:end] = table.encode(values)
        self.filled = end

    def _regular(self, raw: bytes, lines: int) -> bool:
        """True when every line of the chunk has exactly `width` fields (the common case)."""
        if raw.count(b"\t") != lines * (self.width - 1):
            return False
        if self.width == 1:
            return True
        octets = np.frombuffer(raw, dtype=np.uint8)
        separators = octets[np.flatnonzero((octets == 9) | (octets == 10))]
        grid = np.append(separators, 10).reshape(lines, self.width)
        return bool((grid[:, :-1] == 9).all() and (grid[:, -1] == 10).all())

    def _split_rows(self, text: str) -> List[List[str]]:
        """Short rows padded with empty fields; the first too-long row remembered for the error."""
        columns: List[List[str]] = [[] for _ in range(self.width)]
        for number, line in enumerate(text.split("\n"), start=self.filled + 2):  # line 1 is the header
            fields = (line[:-1] if line.endswith("\r") else line).split("\t")
            if len(fields) > self.width:
                if self.long_row is None:
                    self.long_row = (number, len(fields))
                # Kept only to tell a blank row (trimmed if trailing) from one that is an error.
                rest = fields[self.width - 1:]
                fields[self.width - 1:] = ["\t".join(rest) if any(rest) else ""]
            fields.extend([""] * (self.width - len(fields)))
            for column, value in zip(columns, fields):
                column.append(value)
        return columns

    def value(self, column: int, row: int) -> str:
        return self.tables[column].categories()[int(self.codes[column][row])]

    def trim_blank_rows(self, num_rows: int) -> int:
        """Rows left after dropping blank rows beyond `num_rows` (writers pad with blank lines)."""
        empty = [table.code("") for table in self.tables]
        while self.rows > num_rows and None not in empty and all(
                codes[self.rows - 1] == code for codes, code in zip(self.codes, empty)):
            self.rows -= 1
        return self.rows

    def raise_long_row(self) -> None:
        if self.long_row is not None and self.long_row[0] - 2 < self.rows:
            raise MetadataError("%s line %d has %d fields but the header has %d"
                                % (self.path, self.long_row[0], self.long_row[1], self.width))

    def column(self, index: int) -> Column:
        codes, categories = self.codes[index][:self.rows], self.tables[index].categories()
        if self.rows < len(self.codes[index]):  # trimmed blank rows may have held the only ""
            used = np.bincount(codes, minlength=len(categories)) > 0
            if not used.all():
                codes = (np.cumsum(used, dtype=np.int32) - 1)[codes]
                categories = tuple(value for value, keep in zip(categories, used) if keep)
        self.tables[index] = Table()  # the dict or set costs as much as the categories: free it now
        return Column(codes=codes, categories=categories)


def _unique_header(line: str, path: str, warnings: List[str]) -> List[str]:
    header = line.split("\t")
    seen = set()
    for index, column in enumerate(header):
        name = column.strip() or "column %d" % (index + 1)
        if name in seen:
            k = 2
            while "%s (%d)" % (name, k) in seen:
                k += 1
            unique = "%s (%d)" % (name, k)
            warnings.append("%s: column %s appears twice; the second is called %s" % (path, excerpt(name),
                                                                                     excerpt(unique)))
            name = unique
        seen.add(name)
        header[index] = name
    return header


def _tab_in_label_message(path: str, line: int) -> str:
    # A tab makes the first line a header; when line 1 has no tab, that is a one-column
    # header over rows one short of the tensor: say where the tab is, not "9 rows vs 10".
    return ("%s line %d has a tab but line 1 has none: single-column metadata cannot hold a tab inside a label "
            "(replace it), and metadata with several columns names them all on line 1" % (path, line))


def _count_message(path, rows, num_rows, tensor_name, header, first_line) -> str:
    message = "%s has %s rows but tensor %s has %s" % (path, format(rows, ","), tensor_name, format(num_rows, ","))
    if len(header) > 1:
        message += " (the first line is the header: with several columns it is not a row)"
    elif rows == num_rows + 1:
        message += (
            "; if its first line %s is a header, remove it: single-column metadata has no "
            "header row" % excerpt(first_line)
        )
    return message
