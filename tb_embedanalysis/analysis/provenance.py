"""Where an embedding's cached results came from: the record `tb-embedanalysis precompute`
leaves in the disk cache next to the graphs it wrote, and the tab reads to say so.

One entry per Space (fingerprint, metric, valid rows) under the key {"kind": "provenance",
"data": Space.ident}, signed like every entry (disk_cache.py): a record copied from another
cache, or written for other vectors, is a miss (with disk_cache's warning), never shown. Its
one array is the record's UTF-8 JSON as uint8, at most MAX_BYTES:

    {"tool": "tb-embedanalysis precompute", "version": "0.x", "finished_at": ISO 8601 UTC,
     "seconds": wall time of this embedding's pass, "engine": "dask" | "local",
     "workers": int, "fingerprint": the vectors' content hash, "graph_ks": [10, 20],
     "pass": the pass's id, also in every result entry it wrote (result_entries.py)}
"""

from __future__ import annotations

import json
import logging
from typing import Optional

import numpy as np

from tb_embedanalysis.analysis.disk_cache import DiskCache
from tb_embedanalysis.analysis.space import Space

logger = logging.getLogger(__name__)
MAX_BYTES = 4096
TOOL = "tb-embedanalysis precompute"
FIELDS = ("tool", "version", "finished_at", "seconds", "engine", "workers", "fingerprint", "graph_ks", "pass")


def key(space: Space) -> dict:
    return {"kind": "provenance", "data": space.ident}


def _expect(array: np.ndarray) -> bool:
    return array.dtype == np.uint8 and array.ndim == 1 and array.size <= MAX_BYTES


def write(disk: DiskCache, space: Space, record: dict) -> bool:
    """Sign and store `record` (FIELDS) for `space`; False if the cache could not take it."""
    missing = [name for name in FIELDS if name not in record]
    if missing or record["fingerprint"] != space.fingerprint:
        raise ValueError("a provenance record needs %s for fingerprint %s" % (", ".join(FIELDS), space.fingerprint))
    blob = json.dumps({name: record[name] for name in FIELDS}, sort_keys=True).encode("utf-8")
    if len(blob) > MAX_BYTES:
        raise ValueError("provenance record of %d bytes (at most %d)" % (len(blob), MAX_BYTES))
    return disk.put(key(space), {"record": np.frombuffer(blob, dtype=np.uint8)})


def read(disk: DiskCache, space: Space) -> Optional[dict]:
    """The record of `space`, or None: none stored, or not authentic (disk_cache warns and
    removes it), or not one of ours, or for other vectors (a warning here)."""
    stored = disk.get(key(space), expect={"record": _expect})
    if stored is None:
        return None
    try:
        record = json.loads(stored["record"].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        record = None
    if (not isinstance(record, dict) or record.get("tool") != TOOL or set(record) != set(FIELDS)
            or record["fingerprint"] != space.fingerprint):
        logger.warning("embedanalysis: ignoring a precompute record that is not for these vectors (%s)",
                       space.fingerprint[:12])
        return None
    return record
