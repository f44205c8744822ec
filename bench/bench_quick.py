"""Time to the first answer of a cold /clusters (issue 25.2): the sample's estimate in a 202,
against the exact pass in the same run.

In-process, as the route asks it: `AnalysisEngine.clusters(wait=False)` polled every 0.1 s
through `queries.quick.clusters_pending` (what the 202 carries), from a cold engine (no
prepared matrix, no graph, no disk cache), labels encoded inside the clock. Data: labelled
blobs as wide as their distance apart (centres N(0, 1), spread 0.8: no k-means cell prunes,
the slow case of issue 25). Prints per size the sample size, the time to the first estimate,
its kNN accuracy and interval, and (where --exact covers the size) the exact pass's time
and kNN accuracy: whether the interval covered it.

    .venv/bin/python bench/bench_quick.py                 # 100,000 × 64 and 1,000,000 × 128
    .venv/bin/python bench/bench_quick.py --exact 100000  # also the exact pass up to 100,000 rows
    .venv/bin/python bench/bench_quick.py --smoke         # seconds: does it still run?
    .venv/bin/python bench/bench_quick.py --warm-kernel   # the sweep's numba kernel compiled before the clock

Each size runs in its own child process: the exact pass a size leaves running (without
--exact the parent stops polling at the first estimate) must not share the cores with the
next size's clock (it did: 1,000,000 × 128 took 2.75, 3.98, 6.12 s in three runs in one
process). A fresh process compiles the sweep's numba kernel (topk_fold) inside the clock,
as a server's first large pass does without numba's on-disk cache; --warm-kernel compiles
it first, as a server does whose cache directory has it from an earlier start.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _support

from tb_embedanalysis.analysis import estimate_sample
from tb_embedanalysis.analysis.engine import AnalysisEngine
from tb_embedanalysis.analysis.reports import ClusterReport, Pending
from tb_embedanalysis.analysis.space import Space
from tb_embedanalysis.queries import quick


def blobs(n: int, d: int, n_labels: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_labels, d)).astype(np.float32)
    labels = rng.integers(0, n_labels, n)
    x = centres[labels]
    x += np.float32(0.8) * rng.standard_normal((n, d), dtype=np.float32)
    return x, [str(v) for v in labels]


def run(n: int, d: int, n_labels: int, *, exact: bool, timeout: float) -> None:
    x, labels = blobs(n, d, n_labels)
    engine = AnalysisEngine(cache_dir=None, sync_seconds=0.1)
    space = Space(x, "bench-quick-%d-%d" % (n, d), np.ones(n, dtype=bool), "cosine")
    start = time.perf_counter()
    encoded = engine.labels(space, labels)
    first: Optional[float] = None
    estimate: Optional[dict] = None
    result: object = None
    while True:
        result = engine.clusters(space, encoded, k=10, wait=False)
        if not isinstance(result, Pending):
            break
        result = quick.clusters_pending(engine, space, encoded, 10, result, column="label", choice=None)
        if isinstance(result, Pending) and result.estimate is not None and first is None:
            first, estimate = time.perf_counter() - start, result.estimate
            if not exact:
                break
        if time.perf_counter() - start > timeout:
            print("  gave up after %.0f s" % timeout, flush=True)
            break
        time.sleep(0.1)
    load = os.getloadavg()[0]
    if estimate is None or first is None:
        print("%9d × %-4d no estimate before the exact answer (%.2f s); load %.1f" % (
            n, d, time.perf_counter() - start, load), flush=True)
        return
    low, high = estimate["overall"]["intervals"]["knn_accuracy"]
    print("%9d × %-4d sample %5d  first answer %6.2f s  kNN accuracy ≈ %.4f [%.4f, %.4f]  load %.1f" % (
        n, d, estimate["sample_size"], first, estimate["overall"]["knn_accuracy"], low, high, load), flush=True)
    if exact and isinstance(result, ClusterReport):
        total = time.perf_counter() - start
        accuracy = result.overall["knn_accuracy"]
        print("%9d × %-4d exact pass %6.2f s (%.1f× the first answer)  kNN accuracy %.4f: %s" % (
            n, d, total, total / first, accuracy, "inside" if low <= accuracy <= high else "OUTSIDE"), flush=True)
    engine.jobs.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _support.add_smoke_flag(parser)
    parser.add_argument("--exact", type=int, default=0, help="also time the exact pass up to this many rows")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--warm-kernel", action="store_true", help="compile the sweep's numba kernel before the clock")
    parser.add_argument("--one", type=int, nargs=3, metavar=("N", "D", "LABELS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child: one size
        if args.warm_kernel:
            from tb_embedanalysis.analysis import topk_fold
            topk_fold.warm()
        n, d, n_labels = args.one
        run(n, d, n_labels, exact=n <= args.exact, timeout=args.timeout)
        sys.stdout.flush()
        os._exit(0)  # an exact pass left running dies with the child
    if args.smoke:  # just above the size that gets an estimate
        sizes = [(estimate_sample.QUICK_MIN_ROWS, 16, 20)]
        args.exact = estimate_sample.QUICK_MIN_ROWS
    else:
        sizes = [(100_000, 64, 100), (1_000_000, 128, 1000)]
    print("load average %.1f %.1f %.1f, %d cores" % (*os.getloadavg(), os.cpu_count() or 1), flush=True)
    for n, d, n_labels in sizes:
        child = [sys.executable, os.path.abspath(__file__), "--one", str(n), str(d), str(n_labels),
                 "--exact", str(args.exact), "--timeout", str(args.timeout)]
        subprocess.run(child + (["--warm-kernel"] if args.warm_kernel else []), check=True)


if __name__ == "__main__":
    main()
