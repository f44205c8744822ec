"""The engine's results as disk-cache entries: what the tab answers first (cluster statistics,
hard examples, outliers, near-duplicates, the training history) kept on disk under the very
`CacheKey` the engine keeps them under in memory, so a TensorBoard started later, or after
`tb-embedanalysis precompute`, answers them without computing.

An entry is plain arrays plus one JSON document, never a pickle (unpickling a file from a cache
directory would run whatever it says). The document, stored as the uint8 array `doc`, says::

    {"format": FORMAT, "version": the package's, "key": the CacheKey as a dict,
     "origin": the precompute pass that wrote it (its id), or null, "value": the result}

A result is a frozen dataclass of an allowed type (TYPES, by name: no other class is ever made),
its init fields encoded recursively: numbers, strings, None and booleans as JSON; a numpy
scalar as {"$s": dtype, "v": value}; an array as {"$a": name} (the entry's array of that name,
disk_cache's dtype allow-list); a tuple or list of 1-D arrays of one dtype as one ragged pair
{"$r": values, "o": offsets} (a DuplicateReport's groups: one array each would overflow the
entry's header); other tuples {"$t": [...]}, lists {"$l": [...]}, dicts {"$m": {...}}.
Fields computed from the others (init=False, e.g. PointHistory.order) are made again by
the class. Reading checks everything: the HMAC (disk_cache), then the format, the package
version, the key (an entry for other vectors is not these), the class's field names and
that every array is used; any mismatch is a warning and a recomputation, never an answer.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any, Dict, Optional, Tuple

import numpy as np

from tb_embedanalysis import __version__
from tb_embedanalysis.analysis.disk_cache import DiskCache
from tb_embedanalysis.analysis.duplicates import DuplicateReport
from tb_embedanalysis.analysis.history import PointHistory
from tb_embedanalysis.analysis.label_counts import ErrorCount
from tb_embedanalysis.analysis.label_errors import LabelErrors
from tb_embedanalysis.analysis.labels import Votes
from tb_embedanalysis.analysis.outliers import OutlierReport
from tb_embedanalysis.analysis.reports import ClusterReport, HardnessReport, LabelStats
from tb_embedanalysis.cache import CacheKey

logger = logging.getLogger(__name__)
#: Bump when the encoding changes (a reader refuses other formats).
FORMAT = 1
DOC = "doc"
#: The classes an entry may make, by name: the results the engine persists and their parts.
TYPES = {cls.__name__: cls for cls in (ClusterReport, LabelStats, HardnessReport, OutlierReport, DuplicateReport,
                                       PointHistory, LabelErrors, ErrorCount, Votes)}
_SCALARS = ("<f8", "<f4", "<i8", "<i4", "|b1", "|u1")


class Unstorable(TypeError):
    """A value with a part this encoding has no form for: kept in memory only."""


def write(disk: DiskCache, key: CacheKey, value: Any, *, origin: Optional[str] = None) -> bool:
    """Store `value` under `key` (signed, within the disk cache's bounds), computed by `origin`
    (a precompute pass's id, or None); False when the cache is off, full or failing, or the
    value has a part with no stored form."""
    if not disk.enabled:
        return False
    arrays: Dict[str, np.ndarray] = {}
    try:
        encoded = _encode(value, arrays)
    except Unstorable as why:
        logger.debug("embedanalysis: %s result kept in memory only (%s)", key.kind, why)
        return False
    doc = {"format": FORMAT, "version": __version__, "key": key.as_dict(), "origin": origin, "value": encoded}
    arrays[DOC] = np.frombuffer(json.dumps(doc, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    return disk.put(key.as_dict(), arrays)


def read(disk: DiskCache, key: CacheKey) -> Optional[Any]:
    """The result stored under `key`, or None: none, not authentic (disk_cache warns and removes
    it), or written by another format or version, or for another key (a warning here)."""
    found = _entry(disk, key)
    if found is None:
        return None
    doc, stored = found
    try:
        used: set = set()
        value = _decode(doc["value"], stored, used)
        if used != set(stored):
            raise ValueError("arrays %s are not part of the result" % sorted(set(stored) - used))
    except (ValueError, KeyError, TypeError) as why:
        _ignored(disk, key, why)
        return None
    return value


def origin(disk: DiskCache, key: CacheKey) -> Optional[str]:
    """The id of the precompute pass that wrote the entry of `key` (None: none there, not
    valid, or computed by TensorBoard itself)."""
    found = _entry(disk, key)
    return None if found is None or not isinstance(found[0].get("origin"), str) else found[0]["origin"]


def _entry(disk: DiskCache, key: CacheKey) -> Optional[Tuple[dict, Dict[str, np.ndarray]]]:
    """(the document, the other arrays) of the entry of `key`, checked; else None (with
    disk_cache's warning, or one here)."""
    stored = disk.get(key.as_dict())
    if stored is None:
        return None
    try:
        doc = json.loads(stored.pop(DOC).tobytes().decode("utf-8")) if DOC in stored else None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("not a result entry of format %d" % FORMAT)
        if doc.get("version") != __version__:
            raise ValueError("written by version %s, this is %s" % (doc.get("version"), __version__))
        if doc.get("key") != json.loads(json.dumps(key.as_dict())):
            raise ValueError("written for another key (other vectors or parameters)")
    except (ValueError, UnicodeDecodeError) as why:
        _ignored(disk, key, why)
        return None
    return doc, stored


def _ignored(disk: DiskCache, key: CacheKey, why: Exception) -> None:
    logger.warning("embedanalysis: ignoring the cached %s result %s (%s); recomputing",
                   key.kind, os.path.basename(disk.path(key.as_dict())), why)


def _encode(value: Any, arrays: Dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.ndarray):
        return {"$a": _array(value, arrays), "ro": not value.flags.writeable}
    if isinstance(value, np.generic):
        if value.dtype.str not in _SCALARS:
            raise Unstorable("a numpy %s scalar" % value.dtype)
        return {"$s": value.dtype.str, "v": value.item()}
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (tuple, list)):
        tag = "$t" if isinstance(value, tuple) else "$l"
        if value and all(isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype == value[0].dtype for v in value):
            offsets = np.cumsum([0] + [v.size for v in value], dtype=np.int64)
            return {"$r": _array(np.concatenate(value), arrays), "o": _array(offsets, arrays), "as": tag}
        return {tag: [_encode(v, arrays) for v in value]}
    if isinstance(value, dict) and all(isinstance(name, str) for name in value):
        return {"$m": {name: _encode(v, arrays) for name, v in value.items()}}
    if dataclasses.is_dataclass(value) and TYPES.get(type(value).__name__) is type(value):
        return {"$d": type(value).__name__,
                "f": {f.name: _encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value) if f.init}}
    raise Unstorable("a %s" % type(value).__name__)


def _array(array: np.ndarray, arrays: Dict[str, np.ndarray]) -> str:
    if array.dtype.newbyteorder("<").str not in _SCALARS:
        raise Unstorable("a %s array" % array.dtype)
    name = "a%d" % len(arrays)
    arrays[name] = array
    return name


def _decode(node: Any, arrays: Dict[str, np.ndarray], used: set) -> Any:
    if not isinstance(node, (dict, list)):
        return node  # a number, string, boolean or None
    if isinstance(node, list) or len(node) not in (1, 2, 3):
        raise ValueError("malformed node")
    if "$a" in node:
        array = _take(node["$a"], arrays, used)
        array.flags.writeable = not node.get("ro", False)
        return array
    if "$s" in node:
        if node["$s"] not in _SCALARS:
            raise ValueError("scalar dtype %r" % node["$s"])
        return np.dtype(node["$s"]).type(node["v"])
    if "$r" in node:
        values, offsets = _take(node["$r"], arrays, used), _take(node["o"], arrays, used)
        if offsets.ndim != 1 or offsets.size < 2 or offsets[0] != 0 or offsets[-1] != values.size \
                or np.any(np.diff(offsets) < 0):
            raise ValueError("ragged offsets")
        parts = [values[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
        return tuple(parts) if node["as"] == "$t" else parts
    if "$t" in node or "$l" in node:
        items = [_decode(v, arrays, used) for v in node["$t" if "$t" in node else "$l"]]
        return tuple(items) if "$t" in node else items
    if "$m" in node:
        return {name: _decode(v, arrays, used) for name, v in node["$m"].items()}
    cls = TYPES.get(str(node.get("$d")))
    if cls is None or not isinstance(node.get("f"), dict):
        raise ValueError("unknown result type %r" % node.get("$d"))
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    if set(node["f"]) != fields:
        raise ValueError("%s fields differ" % cls.__name__)
    return cls(**{name: _decode(v, arrays, used) for name, v in node["f"].items()})


def _take(name: Any, arrays: Dict[str, np.ndarray], used: set) -> np.ndarray:
    if not isinstance(name, str) or name not in arrays or name in used:
        raise ValueError("array %r missing or used twice" % (name,))
    used.add(name)
    return arrays[name]
