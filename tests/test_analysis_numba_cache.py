"""UMAP's compiled kernels survive a restart (issue 25 item 5): numba's on-disk cache lives
in our cache directory, so a second start draws a 2,500-point UMAP without recompiling.

Each start is a fresh Python process (numba's in-memory dispatchers die with it). The child
imports tensorflow before its clock starts, as a TensorBoard with tensorflow installed has
(umap-learn imports it for ParametricUMAP: ~3 s that are not compiling), then times one
projection.umap_2d behind an AnalysisEngine with the given cache dir.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tb_embedanalysis.analysis import numba_cache

pytestmark = pytest.mark.slow  # two fresh processes, the first compiles every kernel: ~40 s

CHILD = textwrap.dedent("""
    import json, os, sys, time
    try:
        import tensorflow  # noqa: F401  (already loaded in a TensorBoard with tensorflow)
    except ImportError:
        pass
    import numpy as np
    from tb_embedanalysis.analysis import projection
    from tb_embedanalysis.analysis.engine import AnalysisEngine
    AnalysisEngine(cache_dir=None if sys.argv[1] == "none" else sys.argv[1], workers=1)
    if len(sys.argv) > 2 and sys.argv[2] == "warm":  # as the plugin starts: UMAP warmed meanwhile
        from tb_embedanalysis.analysis import umap_warmup
        thread = umap_warmup.start(sys.argv[1])
        assert thread is not None, "nothing to warm"
        thread.join()
        assert "umap" in sys.modules
    rng = np.random.default_rng(0)
    centres = np.repeat(rng.normal(size=(10, 32)) * 4, 250, axis=0)
    vectors = (rng.normal(size=(2500, 32)) + centres).astype(np.float32)
    settings = {}
    if len(sys.argv) > 3:  # the bench's n_epochs (bench/bench_umap_restart.py)
        from tb_embedanalysis.analysis.map_settings import MapSettings
        settings = {"settings": MapSettings(epochs=int(sys.argv[3]))}
    start = time.perf_counter()
    result = projection.umap_2d(vectors, np.ones(2500, bool), **settings)
    from tb_embedanalysis.analysis import numba_cache
    stats = [getattr(sys.modules[module], name).stats for module, name in numba_cache.UMAP_KERNELS]
    print(json.dumps({"seconds": time.perf_counter() - start, "finite": bool(np.isfinite(result.coords).all()),
                      "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
                      "cache_hits": sum(sum(s.cache_hits.values()) for s in stats),
                      "cache_misses": sum(sum(s.cache_misses.values()) for s in stats)}))
""")


def start(cache_dir, *extra, keep_numba_cache_dir=False):
    """One fresh process's UMAP: {"seconds", "finite", "numba_cache_dir"}; extra "warm":
    after the plugin's background warm-up (analysis/umap_warmup.py) has finished. The
    suite's NUMBA_CACHE_DIR (conftest.py) is taken out, as a user has none, unless
    `keep_numba_cache_dir` (bench_umap_restart.py --smoke: kernels the suite compiled)."""
    env = {name: value for name, value in os.environ.items()
           if name != "NUMBA_CACHE_DIR" or keep_numba_cache_dir}
    done = subprocess.run([sys.executable, "-c", CHILD, str(cache_dir), *extra], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_second_start_loads_umap_kernels_from_our_cache_dir(tmp_path):
    cache_dir = tmp_path / "cache"
    first = start(cache_dir)
    # Issue 25.5: the second start is one whose warm-up has run (the plugin starts it), then
    # lays out the map; the child asserts umap was imported by the warm-up. How much time
    # that saves is a figure for bench/README.md, not a bound here (it failed at 0.75x on a
    # loaded machine). One start, not a plain one and a warmed one: the warm-up's tiny map
    # and the map after it call the same dispatchers, so its counts cover both.
    second = start(cache_dir, "warm")
    assert first["finite"] and second["finite"]
    folder = cache_dir / numba_cache.SUBDIR
    assert first["numba_cache_dir"] == second["numba_cache_dir"] == str(folder)
    saved = {path.parent.name.split("_")[0] for path in folder.rglob("*.nbi")}
    assert {"umap", "pynndescent"} <= saved, saved
    # The first start compiles UMAP's kernels and saves them; the second loads every one from
    # the cache and compiles none, in its warm-up or in the map after it (numba's own counts;
    # no time ratio: it failed at 0.46 on a loaded machine where the second start took 10 s;
    # 25-31 s, then 4-5 s when quiet).
    assert first["cache_misses"] > 0 and first["cache_hits"] == 0, first
    assert second["cache_misses"] == 0 and second["cache_hits"] > 0, second


def test_nothing_to_warm_without_umap_kernels_on_disk(tmp_path):
    from tb_embedanalysis.analysis import umap_warmup

    assert not umap_warmup.umap_kernels_on_disk(str(tmp_path))
    assert not umap_warmup.umap_kernels_on_disk(None)
    (tmp_path / "pynndescent_0a1b").mkdir()
    (tmp_path / "pynndescent_0a1b" / "x.nbi").write_bytes(b"")
    (tmp_path / "umap_0a1b").mkdir()
    assert not umap_warmup.umap_kernels_on_disk(str(tmp_path))  # a UMAP never drawn
    (tmp_path / "umap_0a1b" / "layouts.clip-9.py311.nbi").write_bytes(b"")
    assert umap_warmup.umap_kernels_on_disk(str(tmp_path))
    # numba caching elsewhere (conftest sets the suite's NUMBA_CACHE_DIR): no warm-up, even
    # though that folder holds UMAP's kernels
    own = tmp_path / "cache" / numba_cache.SUBDIR / "umap_0a1b"
    own.mkdir(parents=True)
    (own / "layouts.clip-9.py311.nbi").write_bytes(b"")
    assert os.environ.get("NUMBA_CACHE_DIR") and umap_warmup.start(str(tmp_path / "cache")) is None


NONE_CHILD = textwrap.dedent("""
    import os
    from numba.core.caching import NullCache
    from tb_embedanalysis.analysis import numba_cache
    from tb_embedanalysis.analysis.engine import AnalysisEngine
    AnalysisEngine(cache_dir=None, workers=1)
    import umap  # noqa: F401
    numba_cache.cache_umap_kernels()
    from umap import layouts
    assert "NUMBA_CACHE_DIR" not in os.environ, os.environ["NUMBA_CACHE_DIR"]
    assert isinstance(layouts._nb_optimize_layout_euclidean_single_epoch._cache, NullCache)
""")


def test_memory_only_points_numba_nowhere():
    """Cache dir None ('none'): NUMBA_CACHE_DIR stays unset and umap-learn's kernels stay
    uncached (nothing written anywhere), in a fresh process as TensorBoard would start."""
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR"}
    done = subprocess.run([sys.executable, "-c", NONE_CHILD], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
