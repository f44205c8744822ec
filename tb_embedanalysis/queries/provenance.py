"""Where the tab's results came from: the record `tb-embedanalysis precompute` left in the
cache (analysis/provenance.py), shown while the answer comes from an entry that pass wrote."""

from __future__ import annotations

from typing import Optional

from tb_embedanalysis.analysis import provenance as records, result_entries
from tb_embedanalysis.analysis.engine import AnalysisEngine, Space
from tb_embedanalysis.cache import CacheKey

#: What /clusters answers of a record (its fingerprint and graph list stay server-side).
SHOWN = ("finished_at", "seconds", "engine", "workers", "version")


def provenance(engine: AnalysisEngine, where: Space, answered: CacheKey) -> Optional[dict]:
    """{"finished_at", "seconds", "engine", "workers", "version"} of the precompute pass over
    `where`, or None: nothing precomputed, an entry not signed by this cache or for other
    vectors (ignored with a warning), or the answer (`answered`: the key of the result it
    came from) not read from an entry that pass wrote (evicted, then computed here, even
    from the pass's graphs: never claimed as precomputed)."""
    record = records.read(engine.disk, where)
    if record is None or result_entries.origin(engine.disk, answered) != record["pass"]:
        return None
    return {name: record[name] for name in SHOWN}
