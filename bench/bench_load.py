"""Load: 32 concurrent clients against a real `tensorboard`, from a cold start.

A 100,000-point clustered embedding (D=64, 20 labels with 5 % flipped, 16x16 thumbnails in a
5072 px sprite) is written with `write_embedding`; a real `tensorboard` serves it with
`--embedanalysis_max_memory_mb` and an empty temporary cache dir. 32 keep-alive clients then
mix /neighbors, /thumbnail, /clusters, /hard_examples and /projection (weights 4/4/2/2/1,
fixed k=10 cosine) for `--seconds`. 202 answers (the kNN graph / PCA is computing) are
counted apart and polled like the tab does. Printed: requests/s, per route 200/202/error
counts and p50/p99 latency of 200 answers, error samples, and the peak RSS of the
tensorboard process (psutil, sampled every 0.2 s) against the memory flag.

    .venv/bin/python bench/bench_load.py [--n 100000] [--dim 64] [--clients 32] [--seconds 30]
                                         [--max-memory-mb 512] [--keep DIR] [--smoke]

Exit status 1 if any request failed.
"""

import argparse
import contextlib
import pathlib
import sys
import tempfile
import time

import _support

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))  # its helpers

import http_load
import load_logs
from tensorboard_process import running_tensorboard


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-memory-mb", type=float, default=512.0)
    parser.add_argument("--keep", help="write the logdir and cache here and keep them")
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:  # 2,000 x 16, 2 clients for 2 s
        args.n, args.dim, args.clients, args.seconds = 2000, 16, 2, 2.0
    psutil = _support.peer("psutil", required=not args.smoke, what="the RSS of tensorboard")

    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
        root = pathlib.Path(args.keep or scratch)
        logdir, cache = root / "logs", root / "cache"
        started = time.monotonic()
        load_logs.write_clustered(str(logdir / "run"), n=args.n, d=args.dim)
        print("wrote %d x %d in %.1f s" % (args.n, args.dim, time.monotonic() - started))
        target = http_load.Target(run="run", embedding="features", n=args.n)
        flags = ["--embedanalysis_cache_dir", str(cache), "--embedanalysis_max_memory_mb", str(args.max_memory_mb)]
        with running_tensorboard(logdir, extra_args=flags, with_process=True) as (base, process):
            sampler = http_load.RssSampler(process.pid) if psutil is not None else None
            with sampler if sampler is not None else contextlib.nullcontext():
                time.sleep(0.5)
                idle_rss = sampler.peak_bytes if sampler is not None else 0
                report = http_load.run_load(base, target, clients=args.clients, seconds=args.seconds, seed=0)
    print(report.table())
    if sampler is not None:
        print("peak RSS of tensorboard: %.0f MB (idle before load: %.0f MB); --embedanalysis_max_memory_mb %g "
              "(vectors alone: %.1f MB)" % (sampler.peak_bytes / 2**20, idle_rss / 2**20, args.max_memory_mb,
                                            args.n * args.dim * 4 / 2**20))
    for sample in report.error_samples:
        print("ERROR", sample)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
