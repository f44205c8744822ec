"""Where the tab's results came from: the record `tb-embedanalysis precompute` left in the
cache (analysis/provenance.py), shown while the graphs it wrote are still there."""

from __future__ import annotations

import os
from typing import Optional

from tb_embedanalysis.analysis import provenance as records
from tb_embedanalysis.analysis.engine import AnalysisEngine, Space

#: What /clusters answers of a record (its fingerprint and graph list stay server-side).
SHOWN = ("finished_at", "seconds", "engine", "workers", "version")


def provenance(engine: AnalysisEngine, where: Space) -> Optional[dict]:
    """{"finished_at", "seconds", "engine", "workers", "version"} of the precompute pass over
    `where`, or None: nothing precomputed, an entry not signed by this cache or for other
    vectors (ignored with a warning), or its graphs since evicted (the tab computed them)."""
    record = records.read(engine.disk, where)
    if record is None:
        return None
    for k in record["graph_ks"]:
        if not isinstance(k, int) or not os.path.exists(engine.disk.path(engine.graph_key(where, k).as_dict())):
            return None
    return {name: record[name] for name in SHOWN}
