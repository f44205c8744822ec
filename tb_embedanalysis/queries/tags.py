"""Tags and corrected labels (issue 18): read, write, hide from the gallery, export.

Every rule about a tag request lives here (what a tag is, which rows, how long a corrected
label may be); tb_embedanalysis/tags.py stores what passed. The route (POST/GET /tags,
/export?what=tags|metadata) and `tb-embedanalysis tags` call these functions.
"""

from __future__ import annotations

import datetime
import unicodedata
from typing import Iterable, List, Literal, Optional, Tuple, overload

import numpy as np

from tb_embedanalysis.errors import InvalidArgument, NotFound
from tb_embedanalysis.logs.model import Embedding, Metadata
from tb_embedanalysis.quoting import excerpt
from tb_embedanalysis.tags import KEEP, MAX_LABEL_CHARS, MAX_ROWS_PER_WRITE, TAGS, TagStore

_BODY_FIELDS = ("run", "embedding", "step", "indices", "tag", "corrected_label")


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="seconds")


def tags(store: TagStore, embedding: Embedding) -> dict:
    """/tags: every tagged row of `embedding` (by row) and the counts per tag."""
    listed = [{"index": row, "tag": tag, "corrected_label": corrected, "updated": _iso(updated)}
              for row, tag, corrected, updated in store.read(embedding.fingerprint)]
    return {"run": embedding.ref.run, "embedding": embedding.ref.name, "step": embedding.ref.step,
            "tags": listed, "counts": store.counts(embedding.fingerprint), "tag_names": list(TAGS),
            "persistent": store.persistent}


def check_write(body, n_rows: int) -> dict:
    """The validated fields of a POST /tags body (a decoded JSON object): {indices, tag,
    corrected_label}, each absent field as KEEP. InvalidArgument names the field."""
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object with fields %s" % ", ".join(_BODY_FIELDS))
    unknown = sorted(set(body) - set(_BODY_FIELDS))
    if unknown:
        raise InvalidArgument("unknown field %s; fields: %s" % (excerpt(unknown[0]), ", ".join(_BODY_FIELDS)))
    indices = body.get("indices")
    if not isinstance(indices, list) or not indices:
        raise InvalidArgument("field 'indices' must be a non-empty list of row numbers")
    if len(indices) > MAX_ROWS_PER_WRITE:
        raise InvalidArgument("field 'indices' lists %d rows; at most %d per request"
                              % (len(indices), MAX_ROWS_PER_WRITE))
    for value in indices:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument("field 'indices' must hold integers, got %s" % excerpt(value))
        if not 0 <= value < n_rows:
            raise InvalidArgument("field 'indices': row %d is out of range (the embedding has %d rows)"
                                  % (value, n_rows))
    if len(set(indices)) != len(indices):
        raise InvalidArgument("field 'indices' lists a row twice")
    if "tag" not in body and "corrected_label" not in body:
        raise InvalidArgument("give field 'tag' (%s, or null to clear) and/or 'corrected_label'"
                              % ", ".join(TAGS))
    tag = body.get("tag", KEEP)
    if tag is not KEEP and tag is not None and tag not in TAGS:
        raise InvalidArgument("field 'tag' must be one of %s or null, got %s" % (", ".join(TAGS), excerpt(tag)))
    corrected = body.get("corrected_label", KEEP)
    if corrected is not KEEP and corrected is not None:
        corrected = check_label(corrected)
    return {"indices": indices, "tag": tag, "corrected_label": corrected}


def check_label(value) -> Optional[str]:
    """A corrected label: text of at most MAX_LABEL_CHARS, no control characters (a tab or a
    line break would shift metadata.tsv's columns or rows); blank → None (cleared)."""
    if not isinstance(value, str):
        raise InvalidArgument("field 'corrected_label' must be text or null")
    value = value.strip()
    if len(value) > MAX_LABEL_CHARS:
        raise InvalidArgument("field 'corrected_label' is too long (%d characters, at most %d)"
                              % (len(value), MAX_LABEL_CHARS))
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in value):
        raise InvalidArgument("field 'corrected_label' must not hold control characters (tabs, line breaks, ...)")
    return value or None


def write_tags(store: TagStore, embedding: Embedding, body) -> dict:
    """POST /tags: validate `body`, write, answer the counts afterwards."""
    fields = check_write(body, embedding.shape[0])
    written = store.write(embedding.fingerprint, fields["indices"], tag=fields["tag"],
                          corrected_label=fields["corrected_label"])
    return {"written": written, "counts": store.counts(embedding.fingerprint)}


def check_hide(value: Optional[str]) -> List[str]:
    """`hide_tagged=ok` (or several, comma-separated) → the tag names; None → []."""
    if value is None:
        return []
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if name not in TAGS:
            raise InvalidArgument("parameter 'hide_tagged' must name tags among %s, got %s"
                                  % (", ".join(TAGS), excerpt(name)))
    return names


def hidden_rows(store: Optional[TagStore], embedding: Embedding, hide: Iterable[str]) -> Optional[np.ndarray]:
    """Row indices (int64, ascending) of `embedding` tagged with one of `hide`; None when
    nothing is to be hidden."""
    hide = list(hide)
    if not hide or store is None:
        return None
    return np.asarray(store.rows_tagged(embedding.fingerprint, hide), dtype=np.int64)


def tags_table(store: TagStore, embedding: Embedding, label_column: Optional[str] = None) -> dict:
    """The tags as rows for the CSV download: index, given label, tag, corrected label, when."""
    found = _label_column(embedding, label_column, required=False)
    labels = found[0].values[found[1]] if found is not None else None
    rows = []
    for row, tag, corrected, updated in store.read(embedding.fingerprint):
        given = labels[row] if labels is not None else ""
        rows.append({"index": row, "label": given, "tag": tag or "", "corrected_label": corrected or "",
                     "updated": _iso(updated)})
    return {"columns": ["index", "label", "tag", "corrected_label", "updated"], "rows": rows}


def corrected_metadata(store: TagStore, embedding: Embedding, label_column: Optional[str] = None) -> str:
    """The embedding's metadata.tsv with a column `<label>_corrected` appended: the corrected
    label where one was given, else the original (the Projector's "metadata-edited.tsv").

    Always with a header row (two or more columns). Cells are written as read: the reader
    keeps each cell as the file held it (no tabs or line breaks inside) and corrected labels
    have no control characters, so no escaping is needed; no CSV-formula neutralisation
    either, since this file is data for the Projector and write_embedding, where a leading
    quote would change the label."""
    metadata, column = _label_column(embedding, label_column, required=True)
    corrected = list(metadata.values[column])
    for row, _, label, _ in store.read(embedding.fingerprint):
        if label is not None and row < len(corrected):
            corrected[row] = label
    name = column + "_corrected"
    while name in metadata.columns:
        name += "_"
    columns = [list(metadata.values[c]) for c in metadata.columns]
    lines = ["\t".join(list(metadata.columns) + [name])]
    for row in range(len(corrected)):
        lines.append("\t".join([c[row] for c in columns] + [corrected[row]]))
    return "\n".join(lines) + "\n"


@overload
def _label_column(embedding: Embedding, label_column: Optional[str], *,
                  required: Literal[True]) -> Tuple[Metadata, str]: ...
@overload
def _label_column(embedding: Embedding, label_column: Optional[str], *,
                  required: bool) -> Optional[Tuple[Metadata, str]]: ...
def _label_column(embedding: Embedding, label_column: Optional[str], *,
                  required: bool) -> Optional[Tuple[Metadata, str]]:
    """(metadata, the label column's name); None when there is none and it is not required."""
    if embedding.metadata is None:
        if required:
            raise InvalidArgument("embedding %r has no metadata to add corrected labels to" % embedding.ref.name)
        return None
    column = label_column or embedding.label_column
    if column is None:
        if required:
            raise InvalidArgument("embedding %r has no label column (its columns: %s); choose one with label_column="
                                  % (embedding.ref.name, ", ".join(embedding.metadata.columns)))
        return None
    if column not in embedding.metadata.columns:
        raise NotFound("unknown column %s; columns: %s" % (excerpt(column), ", ".join(embedding.metadata.columns)))
    return embedding.metadata, column
