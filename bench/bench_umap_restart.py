"""UMAP of 2,500 points after a restart (issue 25, item 5): three fresh processes on one cache
directory, one after the other, as TensorBoard starts three times.

Each is tests/test_analysis_numba_cache.py's child (tensorflow imported before the clock, as in
a TensorBoard that has it; then `projection.umap_2d` of 2,500 × 32 points in 10 blobs with the
default settings): a first start (empty cache directory: every kernel compiles), a second
(kernels from `<cache dir>/numba`), and a second after the plugin's warm-up thread
(umap_warmup.start) has finished, which is what a user who opens the map after TensorBoard has
started waits for; --n-epochs N adds warmed second starts with the map setting n_epochs = N. The
code timed is whatever PYTHONPATH imports (run it from outside a checkout: the child's `-c`
imports a package in the cwd first), so two commits are compared by running this twice.

    PYTHONPATH=. .venv/bin/python bench/bench_umap_restart.py [--repeat 2] [--n-epochs 200]
    .venv/bin/python bench/bench_umap_restart.py --smoke     # one start through the route, no figure
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap
from typing import List, Tuple

import _support

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))  # the child

from test_analysis_numba_cache import start

ROUTE_CHILD = textwrap.dedent("""
    import argparse, json, sys, time
    try:
        import tensorflow  # noqa: F401  (already loaded in a TensorBoard with tensorflow)
    except ImportError:
        pass
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test
    from tb_embedanalysis.analysis import umap_warmup
    from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader
    logdir, cache, warm = sys.argv[1], sys.argv[2], sys.argv[3] == "warm"
    flags = argparse.Namespace(embedanalysis_cache_dir=cache)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=logdir, flags=flags))
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    if warm:  # TensorBoard started a while ago: its warm-up thread has finished
        assert umap_warmup.warmed.wait(300), "nothing warmed"
    query = {"run": "blobs", "embedding": "points", "method": "umap", "format": "bin"}
    start = time.perf_counter()
    first = epoch = None
    previews, delay = 0, 0.1
    while True:
        response = client.get("/data/plugin/embedanalysis/projection", query_string=query)
        now = time.perf_counter() - start
        if response.status_code != 202:
            break
        body = json.loads(response.get_data(as_text=True))
        if "preview" in body:
            previews += 1
            if first is None:
                first, epoch = now, body["preview"]["epoch"]
        time.sleep(delay)
        delay = min(0.4, delay * 1.5)
    assert response.status_code == 200, response.get_data()[:300]
    print(json.dumps({"first_picture": now if first is None else first, "map": now, "previews": previews,
                      "first_epoch": epoch}))
""")


def route_start(logdir: pathlib.Path, cache: pathlib.Path, warm: bool, *, keep_numba_cache_dir: bool) -> dict:
    """One fresh process timing the tab's UMAP map through the route (ROUTE_CHILD); the disk
    cache's entries removed first, its numba folder kept."""
    if cache.is_dir():
        for entry in cache.iterdir():
            if entry.is_dir() and entry.name != "numba":
                shutil.rmtree(entry)
            elif entry.is_file():
                entry.unlink()
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR" or keep_numba_cache_dir}
    done = subprocess.run([sys.executable, "-c", ROUTE_CHILD, str(logdir), str(cache), "warm" if warm else "cold"],
                          env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def route_runs(tmp: pathlib.Path, repeat: int, smoke: bool) -> None:
    import numpy as np

    from tb_embedanalysis import write_embedding

    rng = np.random.default_rng(0)  # the test child's 2,500 × 32 points in 10 blobs
    centres = np.repeat(rng.normal(size=(10, 32)) * 4, 250, axis=0)
    vectors = (rng.normal(size=(2500, 32)) + centres).astype(np.float32)
    write_embedding(str(tmp / "logs" / "blobs"), vectors, name="points")
    runs = [("one start (smoke: no figure)", False)] if smoke else (
        [("first start (compiles)", False)] + [("second start, after the warm-up", True)] * repeat)
    for what, warm in runs:
        result = route_start(tmp / "logs", tmp / "cache", warm, keep_numba_cache_dir=smoke)
        print("%-34s first picture %5.2f s (epoch %s, %d previews)   map %5.2f s   load %.1f"
              % (what, result["first_picture"], result["first_epoch"], result["previews"], result["map"],
                 os.getloadavg()[0]), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="warmed second starts to time")
    parser.add_argument("--n-epochs", type=int, help="also time warmed second starts with this n_epochs setting")
    parser.add_argument("--route", action="store_true",
                        help="time the tab's wait through /projection: first picture and map (ROUTE_CHILD)")
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    print("load average %.1f %.1f %.1f" % os.getloadavg(), flush=True)
    if args.route or args.smoke:  # the smoke run: one start through the route (the direct child is a test's)
        with tempfile.TemporaryDirectory() as tmp:
            route_runs(pathlib.Path(tmp), args.repeat, args.smoke)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cache = pathlib.Path(tmp) / "cache"
        runs: List[Tuple[str, Tuple[str, ...]]] = [("first start (compiles)", ()), ("second start", ())]
        runs += [("second start, after the warm-up", ("warm",))] * args.repeat
        if args.n_epochs:
            runs += [("same, n_epochs %d" % args.n_epochs, ("warm", str(args.n_epochs)))] * args.repeat
        for what, extra in runs:
            result = start(cache, *extra)
            assert result["finite"], result
            print("%-34s %6.2f s   load %.1f" % (what, result["seconds"], os.getloadavg()[0]), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
