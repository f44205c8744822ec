"""Downloads: the JSON of a route, or the same rows as CSV for spreadsheets (for the
/export route and `tb-embedanalysis tags` alike).

CSV cells hold text from the logs (metadata, labels, column names), and a spreadsheet runs
a cell starting with `=`, `+`, `-`, `@`, tab or CR as a formula (CSV injection). As OWASP
recommends, such text cells get a leading `'`, which spreadsheets show as text. Numbers stay
numbers: a float cell like -0.5 (score, margin) is written as is, and so is text that is
exactly a decimal number ("-1" as a label), which no spreadsheet reads as a formula. JSON
downloads are data for programs and stay unchanged.

A row's metadata columns are named ``metadata.<column>`` in CSV headers (the JSON's
``metadata`` object flattened the way `pandas.json_normalize` names it): a metadata column
may be called anything, including ``label`` (every single-column metadata file is read as
one), ``index``, ``score``, ``distance`` or ``rank``, and must never repeat or shadow one of
ours.
"""

import csv
import io
import json
import re
from typing import List, Tuple

from tb_embedanalysis.jsonable import to_jsonable

KINDS = ("hard_examples", "neighbors", "clusters", "tags")

METADATA_PREFIX = "metadata."
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list for CSV injection
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def filename(embedding: str, what: str, fmt: str) -> str:
    raw = "%s-%s.%s" % (embedding, what, fmt)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw)


def render(what: str, fmt: str, payload: dict) -> Tuple[bytes, str]:
    if fmt == "json":
        body = json.dumps(to_jsonable(payload), ensure_ascii=False, indent=1)
        return body.encode("utf-8"), "application/json; charset=utf-8"
    return _csv(what, payload).encode("utf-8"), "text/csv; charset=utf-8"


def neutralise(value):
    """A CSV cell that a spreadsheet shows as written: text that would start a formula gets a
    leading `'`; numbers, and text that is exactly a decimal number, are returned unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class _SafeWriter:
    """csv.writer whose rows go through `neutralise`, headers included (they are column
    names from metadata.tsv)."""

    def __init__(self, out):
        self._writer = csv.writer(out)

    def writerow(self, row):
        self._writer.writerow([neutralise(value) for value in row])


def _metadata_columns(rows) -> List[str]:
    """Every metadata column any of `rows` has, sorted (headers get METADATA_PREFIX)."""
    return sorted({column for row in rows for column in row["metadata"]})


def _csv(what: str, payload: dict) -> str:
    out = io.StringIO()
    writer = _SafeWriter(out)
    if what == "hard_examples":
        rows = payload["examples"]
        meta = _metadata_columns(rows)
        writer.writerow(["index", "label", "predicted_label", "score", "margin", "neighbor_labels"]
                        + [METADATA_PREFIX + column for column in meta])
        for row in rows:
            writer.writerow([row["index"], row["label"], row["predicted_label"], row["score"], row["margin"],
                             json.dumps(row["neighbor_labels"], ensure_ascii=False)]
                            + [row["metadata"].get(column, "") for column in meta])
    elif what == "neighbors":
        rows = payload["neighbors"]
        meta = _metadata_columns(rows)
        writer.writerow(["rank", "index", "distance"] + [METADATA_PREFIX + column for column in meta])
        for rank, row in enumerate(rows, 1):
            writer.writerow([rank, row["index"], row["distance"]] + [row["metadata"].get(column, "") for column in meta])
    elif what == "tags":  # queries.tags_table
        writer.writerow(payload["columns"])
        for row in payload["rows"]:
            writer.writerow([row[column] for column in payload["columns"]])
    else:
        rows = payload["labels"]
        columns = list(rows[0]) if rows else ["label"]
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column) for column in columns])
    return out.getvalue()
