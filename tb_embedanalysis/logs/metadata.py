"""Read metadata.tsv the way TensorBoard's projector does, and guess which column is the label.

Format: one value per tensor row. With one column there is no header (the column is called
"label"); with several columns the first line is the header. Row counts must match the
tensor exactly: a shifted row silently mislabels every point after it, which is the worst
possible failure for an error-analysis tool, so we refuse rather than guess.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from tb_embedanalysis.logs import paths
from tb_embedanalysis.logs.errors import MetadataError
from tb_embedanalysis.logs.model import Metadata

SINGLE_COLUMN_NAME = "label"
LABEL_NAMES = ("label", "labels", "class", "category", "target", "y")


def read_metadata(path: str, *, num_rows: int, tensor_name: str) -> Tuple[Metadata, Tuple[str, ...]]:
    """Parse `path` and check it has `num_rows` rows; returns (metadata, warnings).

    Raises MetadataError naming the file when it is unreadable, not UTF-8, or its row count
    differs from the tensor's.
    """
    lines = _read_lines(path)
    warnings: List[str] = []
    if any("\t" in line for line in lines):
        header, rows = _split_header(lines, path, warnings)
    else:
        header, rows = [SINGLE_COLUMN_NAME], [[line] for line in lines]
    # Blank lines after the last row are padding from writers, never data.
    while len(rows) > num_rows and not any(rows[-1]):
        rows.pop()
    if len(rows) != num_rows:
        raise MetadataError(_count_message(path, len(rows), num_rows, tensor_name, header, lines))
    width = len(header)
    for number, row in enumerate(rows, start=2 if width > 1 else 1):
        if len(row) > width:
            raise MetadataError(
                "%s line %d has %d fields but the header has %d" % (path, number, len(row), width)
            )
    values = {
        column: tuple(row[index] if index < len(row) else "" for row in rows)
        for index, column in enumerate(header)
    }
    return Metadata(columns=tuple(header), values=values), tuple(warnings)


def guess_label_column(metadata: Metadata) -> Optional[str]:
    """The column to colour and score by, or None when no column looks like a class label.

    1. A header column named label/labels/class/category/target/y (any case) with >= 2
       distinct values.
    2. Else the column with the fewest distinct values, if 2 <= distinct <= max(2, N // 2):
       a class label repeats; a column of unique tokens (words, ids) is not a label.
    Rule 1 needs a header, so a single column (no header) only goes through rule 2.
    """
    n = len(metadata)
    single_column = len(metadata.columns) == 1
    distinct = {column: len(set(metadata.values[column])) for column in metadata.columns}
    if not single_column:
        for column in metadata.columns:
            if column.strip().lower() in LABEL_NAMES and distinct[column] >= 2:
                return column
    candidates = [c for c in metadata.columns if 2 <= distinct[c] <= max(2, n // 2)]
    if not candidates:
        return None
    return min(candidates, key=lambda column: distinct[column])  # min is stable: first on ties


def _read_lines(path: str) -> List[str]:
    data = paths.read_regular(path, what="metadata file", error=MetadataError)
    try:
        text = data.decode("utf-8-sig")  # tolerate a BOM from spreadsheet exports
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise MetadataError("%s is not UTF-8 text (line %d, byte %d)" % (path, line, error.start)) from None
    if text.endswith("\n"):
        text = text[:-1]  # the last row's newline does not start another row
    if not text:
        return []
    # Split on \n only: \r\n files lose their \r, but a lone \r inside a field stays data.
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _split_header(lines: Sequence[str], path: str, warnings: List[str]):
    header = lines[0].split("\t")
    seen = set()
    for index, column in enumerate(header):
        name = column.strip() or "column %d" % (index + 1)
        if name in seen:
            k = 2
            while "%s (%d)" % (name, k) in seen:
                k += 1
            unique = "%s (%d)" % (name, k)
            warnings.append("%s: column %r appears twice; the second is called %r" % (path, name, unique))
            name = unique
        seen.add(name)
        header[index] = name
    return header, [line.split("\t") for line in lines[1:]]


def _count_message(path, rows, num_rows, tensor_name, header, lines) -> str:
    message = "%s has %s rows but tensor %s has %s" % (path, format(rows, ","), tensor_name, format(num_rows, ","))
    if len(header) > 1:
        message += " (the first line is the header: with several columns it is not a row)"
    elif rows == num_rows + 1:
        message += (
            "; if its first line %r is a header, remove it: single-column metadata has no "
            "header row" % lines[0]
        )
    return message
