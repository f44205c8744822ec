"""Child process for tests/test_numba_cache_processes.py: one call of pair_kernel.distances with
numba's cache in CACHE_DIR/numba, prints one JSON line.

    python tests/numba_race_child.py ROLE CACHE_DIR SYNC_DIR

ROLE A (float32 rows) and B (float64 rows) run at once and save their signature of
pair_kernel._kernel in the same, empty cache. So that they save at the same moment every run,
each waits at numba's own steps (caching.IndexDataCacheFile: its read of the index in save,
its writes of the index and of the data file) for the other, up to WAIT seconds, in the order
that loses an entry when nothing orders them: both read the empty index; B writes its index,
then A its index and its data file, then B its data file (the same file number: the index
names A's float32 signature and the file holds B's float64 code). Where something does
order them (numba_cache's lock), the waits time out and the saves follow one another.
ROLE C (float32 rows, 200,000 of them) compiles or loads its signature and checks its
distances against exact.py's numpy code; code compiled for float64 reads the rows at twice
their offsets, past the end of the matrix.
"""

import json
import os
import sys
import time

import numpy as np

WAIT = 2.0  # seconds a process waits for the other at each step


def wait_for(sync: str, name: str) -> None:
    end = time.monotonic() + WAIT
    while not os.path.exists(os.path.join(sync, name)) and time.monotonic() < end:
        time.sleep(0.001)


def mark(sync: str, name: str) -> None:
    open(os.path.join(sync, name), "w").close()


def interleave(role: str, sync: str) -> None:
    """Pause numba's save of pair_kernel._kernel at the steps above (the module docstring)."""
    from numba.core import caching

    other = "B" if role == "A" else "A"
    cls = caching.IndexDataCacheFile
    save, load_index, save_index, save_data = cls.save, cls._load_index, cls._save_index, cls._save_data

    def ours(self) -> bool:
        return os.path.basename(self._index_path).startswith("pair_kernel._kernel")

    def saving(self, key, data):
        self.saving = True
        try:
            return save(self, key, data)
        finally:
            self.saving = False

    def loading_index(self):
        overloads = load_index(self)
        if ours(self) and getattr(self, "saving", False):
            mark(sync, role + "-read")
            wait_for(sync, other + "-read")
        return overloads

    def saving_index(self, overloads):
        if ours(self) and role == "A":
            wait_for(sync, "B-index")
        save_index(self, overloads)
        if ours(self) and role == "B":
            mark(sync, "B-index")

    def saving_data(self, name, data):
        if ours(self) and role == "B":
            wait_for(sync, "A-data")
        save_data(self, name, data)
        if ours(self) and role == "A":
            mark(sync, "A-data")

    for name, step in (("save", saving), ("_load_index", loading_index), ("_save_index", saving_index),
                       ("_save_data", saving_data)):
        setattr(cls, name, step)


def main() -> None:
    role, cache_dir, sync = sys.argv[1:4]
    from tb_embedanalysis.analysis import exact, numba_cache, pair_kernel

    assert numba_cache.use_cache_dir(cache_dir) == os.path.join(cache_dir, numba_cache.SUBDIR)
    if role in ("A", "B"):
        interleave(role, sync)
    n = 200_000 if role == "C" else 100
    rng = np.random.default_rng(1)
    source = rng.standard_normal((n, 64)).astype(np.float64 if role == "B" else np.float32)
    queries = source[:8].copy()
    cand = rng.integers(n - 50, n, (8, 16))
    got = np.empty((8, 16))
    pair_kernel.distances(source, True, queries, cand, got)
    want = exact._pair_distances(source[cand].astype(np.float64), queries.astype(np.float64)[:, None, :], "euclidean")
    stats = pair_kernel._kernel.stats
    print(json.dumps({"role": role, "equal": got.tobytes() == want.tobytes(),
                      "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))


if __name__ == "__main__":
    main()
