"""Downloads: the JSON of a route, or the same rows as CSV for spreadsheets."""

import csv
import io
import json
from typing import Tuple

from tb_embedanalysis.plugin.responses import to_jsonable

KINDS = ("hard_examples", "neighbors", "clusters")


def filename(embedding: str, what: str, fmt: str) -> str:
    raw = "%s-%s.%s" % (embedding, what, fmt)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw)


def render(what: str, fmt: str, payload: dict) -> Tuple[bytes, str]:
    if fmt == "json":
        body = json.dumps(to_jsonable(payload), ensure_ascii=False, indent=1)
        return body.encode("utf-8"), "application/json; charset=utf-8"
    return _csv(what, payload).encode("utf-8"), "text/csv; charset=utf-8"


def _csv(what: str, payload: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if what == "hard_examples":
        rows = payload["examples"]
        meta = sorted({key for row in rows for key in row["metadata"]})
        writer.writerow(["index", "label", "predicted_label", "score", "margin", "neighbor_labels"] + meta)
        for row in rows:
            writer.writerow([row["index"], row["label"], row["predicted_label"], row["score"], row["margin"],
                             json.dumps(row["neighbor_labels"], ensure_ascii=False)]
                            + [row["metadata"].get(column, "") for column in meta])
    elif what == "neighbors":
        rows = payload["neighbors"]
        meta = sorted({key for row in rows for key in row["metadata"]})
        writer.writerow(["rank", "index", "distance"] + meta)
        for rank, row in enumerate(rows, 1):
            writer.writerow([rank, row["index"], row["distance"]] + [row["metadata"].get(column, "") for column in meta])
    else:
        rows = payload["labels"]
        columns = list(rows[0]) if rows else ["label"]
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column) for column in columns])
    return out.getvalue()
