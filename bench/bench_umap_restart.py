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
    .venv/bin/python bench/bench_umap_restart.py --smoke     # one start, no figure
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
from typing import List, Tuple

import _support

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))  # the child

from test_analysis_numba_cache import start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="warmed second starts to time")
    parser.add_argument("--n-epochs", type=int, help="also time warmed second starts with this n_epochs setting")
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    print("load average %.1f %.1f %.1f" % os.getloadavg(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cache = pathlib.Path(tmp) / "cache"
        runs: List[Tuple[str, Tuple[str, ...]]] = [("first start (compiles)", ()), ("second start", ())]
        if args.smoke:
            # Does the script still run: one start, numba's kernels from a NUMBA_CACHE_DIR
            # already set (the suite's, conftest.py) instead of compiling them all again
            # (~30 s). test_analysis_numba_cache.py times the first and second starts.
            runs = [("one start (smoke: no figure)", ())]
        else:
            runs += [("second start, after the warm-up", ("warm",))] * args.repeat
            if args.n_epochs:
                runs += [("same, n_epochs %d" % args.n_epochs, ("warm", str(args.n_epochs)))] * args.repeat
        for what, extra in runs:
            result = start(cache, *extra, keep_numba_cache_dir=args.smoke)
            assert result["finite"], result
            print("%-34s %6.2f s   load %.1f" % (what, result["seconds"], os.getloadavg()[0]), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
