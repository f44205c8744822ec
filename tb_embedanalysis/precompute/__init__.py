"""`tb-embedanalysis precompute`: the tab's first-open work done ahead, in this process or on a
Dask cluster, into the cache the tab reads. `passes.py` (what is computed, step by step),
`dask_runner.py` (the kNN graph's tasks on a cluster), `target.py` (a path or an fsspec URL).
Dask and fsspec are imported only here, and only when asked for (the `[dask]` extra)."""
