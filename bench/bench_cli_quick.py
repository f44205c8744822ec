"""`tb-embedanalysis analyze --quick` run twice on one machine: its first estimate on the first
and on the second run (issue 25, item 2 in the CLI).

A logdir of labelled blobs as wide as their distance apart (centres N(0, 1), spread 0.8:
bench_quick.py's data; the CLI's default metric=auto chooses) is written once; then the CLI runs in fresh processes, one
after the other, with a fresh per-user cache directory (XDG_CACHE_HOME in a temporary
folder; NUMBA_CACHE_DIR unset, as on a user's machine) and no --cache-dir, as a user types it.
Each child times `queries.quick_clusters` (the estimate the CLI prints: from the loaded
embedding to the answer, numba's kernel compiled or loaded inside it) and its whole run
(interpreter start to exit: imports, loading the tensor and metadata, the estimate).

    .venv/bin/python bench/bench_cli_quick.py [--n 1000000 --d 128 --labels 1000] [--runs 2]
    .venv/bin/python bench/bench_cli_quick.py --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

import _support

CHILD = textwrap.dedent("""
    import json, sys, time
    from tb_embedanalysis import cli, queries
    original = queries.quick_clusters
    timing = {}
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timing["estimate_s"] = time.perf_counter() - start
    queries.quick_clusters = timed  # the CLI calls it through the module: timed, not changed
    status = cli.main(sys.argv[1:])
    print(json.dumps(dict(timing, status=status)), file=sys.stderr)
""")


def write_logdir(root: pathlib.Path, n: int, d: int, n_labels: int) -> None:
    from tb_embedanalysis import write_embedding

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((n_labels, d)).astype(np.float32)
    labels = rng.integers(0, n_labels, n)
    x = centres[labels]
    x += np.float32(0.8) * rng.standard_normal((n, d), dtype=np.float32)
    write_embedding(root / "blobs", x, name="points", metadata={"Label": ["c%d" % v for v in labels]})


def run_cli(logdir: pathlib.Path, xdg: pathlib.Path, *, keep_numba_cache_dir: bool = False) -> dict:
    """One CLI run in a fresh process; its cwd is the cache's parent, so `-c` imports the
    package PYTHONPATH names, not a checkout in the caller's cwd. NUMBA_CACHE_DIR is taken
    out (a user has none) unless `keep_numba_cache_dir` (--smoke: the suite's)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR" or keep_numba_cache_dir}
    env.update(XDG_CACHE_HOME=str(xdg), TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "analyze", str(logdir), "--quick", "--format", "json"],
                          env=env, capture_output=True, text=True, timeout=1800, cwd=xdg.parent)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit("the CLI failed (%d): %s" % (done.returncode, done.stderr[-2000:]))
    timing = json.loads(done.stderr.strip().splitlines()[-1])
    estimate = json.loads(done.stdout)["estimate"]
    return dict(timing, wall_s=wall, sample=estimate["sample_size"], load=os.getloadavg()[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2, help="runs on the same cache directory")
    parser.add_argument("--keep", help="write (or reuse) the logdir here instead of a temporary directory")
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        from tb_embedanalysis.analysis.estimate_sample import QUICK_MIN_ROWS

        args.n, args.d, args.labels = QUICK_MIN_ROWS, 16, 20
        # Does the script still run: the kernels from a NUMBA_CACHE_DIR already set (the
        # suite's, conftest.py) instead of compiling them all in the first run (~15 s);
        # test_cli_kernel_cache.py checks the CLI's own cache directory.
    with tempfile.TemporaryDirectory() as tmp:
        logdir = pathlib.Path(args.keep or tmp) / ("cli_quick_%d_%d" % (args.n, args.d))
        if not (logdir / "blobs").exists():
            write_logdir(logdir, args.n, args.d, args.labels)
        xdg = pathlib.Path(tmp) / "xdg"  # always fresh: the first run has no cache
        print("%s × %d, %d labels; load average %.1f %.1f %.1f" % (format(args.n, ","), args.d, args.labels,
                                                                  *os.getloadavg()), flush=True)
        for i in range(args.runs):
            r = run_cli(logdir, xdg, keep_numba_cache_dir=args.smoke)
            print("run %d  first estimate %5.2f s (sample %d)   whole CLI run %6.2f s   load %.1f"
                  % (i + 1, r["estimate_s"], r["sample"], r["wall_s"], r["load"]), flush=True)
        kernels = sorted(p.name for p in (xdg / "tb-embedanalysis" / "numba").rglob("*.nbi"))
        print("numba's cache in the per-user cache directory: %s" % (", ".join(kernels) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
