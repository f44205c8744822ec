"""Where the tab's results came from: the record `tb-embedanalysis precompute` left in the
cache (analysis/provenance.py), shown while the answer's own entry or the graphs it wrote are
still there."""

from __future__ import annotations

import os
from typing import Optional

from tb_embedanalysis.analysis import provenance as records
from tb_embedanalysis.analysis.engine import AnalysisEngine, Space
from tb_embedanalysis.cache import CacheKey

#: What /clusters answers of a record (its fingerprint and graph list stay server-side).
SHOWN = ("finished_at", "seconds", "engine", "workers", "version")


def provenance(engine: AnalysisEngine, where: Space, answered: Optional[CacheKey] = None) -> Optional[dict]:
    """{"finished_at", "seconds", "engine", "workers", "version"} of the precompute pass over
    `where`, or None: nothing precomputed, an entry not signed by this cache or for other
    vectors (ignored with a warning), or neither the answer's own entry (`answered`, the key of
    the result it came from: analysis/result_entries.py) nor the graphs the pass wrote are
    still on disk (evicted: the tab computed this answer itself)."""
    record = records.read(engine.disk, where)
    if record is None:
        return None
    kept = [engine.graph_key(where, k) for k in record["graph_ks"] if isinstance(k, int)]
    if len(kept) != len(record["graph_ks"]):
        return None
    if not (answered is not None and _on_disk(engine, answered)) and not all(_on_disk(engine, key) for key in kept):
        return None
    return {name: record[name] for name in SHOWN}


def _on_disk(engine: AnalysisEngine, key: CacheKey) -> bool:
    return os.path.exists(engine.disk.path(key.as_dict()))
