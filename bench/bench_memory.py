"""Peak memory of the cold pass (issue 14, item 3: peak RSS above idle ≤ 1.3 × the tensor).

    .venv/bin/python bench/bench_memory.py                      # 200,000 x 128, cosine, k = 10
    .venv/bin/python bench/bench_memory.py --n 1000000 --profile
    .venv/bin/python bench/bench_memory.py --metric euclidean --k 20 --repeat 2
    .venv/bin/python bench/bench_memory.py --smoke     # seconds: does it still run?

Each run is a fresh child process (`--child`), so it starts clean: it reads an N x D float32
tensor from a raw file (written once by the parent into --data-dir, like a `.bytes` tensor
the store reads) and the labels as a compact metadata column, computes the valid rows as the
store does, and records VmRSS: *idle* (what TensorBoard holds with the embedding loaded).
It then resets the kernel's high-water mark (/proc/self/clear_refs) and runs what /clusters
and /hard_examples run, cold: AnalysisEngine with an empty disk cache, labels encoded, then
engine.clusters and engine.hard_examples (kNN graph, label statistics, hard examples), no
tracemalloc. Reported: peak above idle = VmHWM − idle VmRSS, divided by the tensor's bytes,
and the wall time of the pass. The results stay referenced (cached) to the end, as in the
server. --profile samples VmRSS at 20 Hz from a thread and prints the peak per progress
message (which phase peaks).

Data: bench_million.py's clusters (isotropic Gaussian around N(0, 1) centres, σ 0.5 =
"typical", 1 in 1,000 labels flipped) at any N and D, with 1,000 points per label by default
(bench_million's 1,000 labels at 1M; the certified graph). --labels 1000 at 200,000 gives
200 points per label, where the certified search does not pay and the plain N² D graph runs
(≈ 30 min on the shared 2 cores at 200k).

--source DIR imports tb_embedanalysis from DIR instead (e.g. `git archive HEAD
tb_embedanalysis | tar -x -C /tmp/before`), for a before/after in one session.
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import _support

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

FLIP_RATE = 0.001


def make_data(n, d, sigma, labels, *, seed=0):
    """(vectors (n, d) float32, given label codes (n,) int32), bench_million's clusters."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(labels, d)).astype(np.float32)
    true = rng.integers(0, labels, n)
    x = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 65536):
        rows = true[start:start + 65536]
        x[start:start + rows.size] = centres[rows] + sigma * rng.normal(size=(rows.size, d)).astype(np.float32)
    flipped = rng.choice(n, max(1, int(round(FLIP_RATE * n))), replace=False)
    given = true.copy()
    given[flipped] = (true[flipped] + rng.integers(1, labels, flipped.size)) % labels
    return x, given.astype(np.int32)


def data_files(args):
    """Paths of the tensor and label files for args (written once, reused by later runs)."""
    directory = pathlib.Path(args.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    stem = "n%d-d%d-s%g-l%d" % (args.n, args.d, args.sigma, args.labels)
    tensor, codes = directory / (stem + ".bytes"), directory / (stem + ".labels.npy")
    if not (tensor.exists() and codes.exists()):
        x, given = make_data(args.n, args.d, args.sigma, args.labels)
        x.tofile(str(tensor) + ".tmp")
        np.save(str(codes) + ".tmp.npy", given)
        os.replace(str(codes) + ".tmp.npy", codes)
        os.replace(str(tensor) + ".tmp", tensor)
    return tensor, codes


def _status(*fields):
    """Bytes of each /proc/self/status field (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        text = f.read()
    values = []
    for field in fields:
        found = re.search(r"^%s:\s+(\d+) kB" % field, text, re.M)
        if found is None:
            raise RuntimeError("no %s in /proc/self/status" % field)
        values.append(int(found.group(1)) * 1024)
    return values


class Sampler(threading.Thread):
    """VmRSS every 1/20 s with the latest progress (message and the job's fraction, to 0.1):
    the peak per progress step."""

    def __init__(self):
        super().__init__(daemon=True)
        self.message = "start 0.0"
        self.peaks = {}
        self.order = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.05):
            self.sample()

    def sample(self):
        rss = _status("VmRSS")[0]
        message = self.message
        if message not in self.peaks:
            self.order.append(message)
        self.peaks[message] = max(self.peaks.get(message, 0), rss)

    def progress(self, fraction, message=None):
        self.message = "%s %.1f" % (message or self.message.rsplit(" ", 1)[0], float(fraction))


def child(args):
    """One cold pass in this (fresh) process; prints a JSON line."""
    if args.source:
        sys.path.insert(0, args.source)
    from tb_embedanalysis.analysis.engine import AnalysisEngine, Space
    from tb_embedanalysis.logs.model import Column

    tensor, codes_path = pathlib.Path(args.tensor), pathlib.Path(args.codes)
    vectors = np.fromfile(tensor, dtype=np.float32).reshape(-1, args.d)
    vectors.flags.writeable = False
    column = Column(np.load(codes_path), tuple("class%04d" % c for c in range(args.labels)))
    valid = np.empty(vectors.shape[0], dtype=bool)
    for start in range(0, vectors.shape[0], 65536):  # as the store: blocks, no (N, D) temporary
        valid[start:start + 65536] = np.isfinite(vectors[start:start + 65536]).all(axis=1)
    space = Space(vectors, "bench-memory-%s" % tensor.name, valid, args.metric)
    idle = _status("VmRSS")[0]
    open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS: the peak from here on
    sampler = Sampler() if args.profile else None
    progress = sampler.progress if sampler else None
    if sampler:
        sampler.start()
    with tempfile.TemporaryDirectory(prefix="bench-memory-cache-") as cache_dir:
        engine = AnalysisEngine(cache_dir=cache_dir)
        started = time.perf_counter()
        encoded = engine.labels(space, column, column="Label")
        report = _support.finished(engine.clusters(space, encoded, k=args.k, on_progress=progress))
        if sampler:
            sampler.message = "hard examples 0.0"
        hard = _support.finished(engine.hard_examples(space, encoded, k=args.k, on_progress=progress))
        seconds = time.perf_counter() - started
        peak = _status("VmHWM")[0]
        if sampler:
            sampler.stop.set()
            sampler.join()
    out = {
        "n": int(vectors.shape[0]), "d": int(vectors.shape[1]), "metric": args.metric, "k": args.k,
        "tensor_bytes": int(vectors.nbytes), "idle_rss": idle, "peak_rss": peak,
        "ratio": (peak - idle) / vectors.nbytes, "seconds": seconds,
        "knn_accuracy": report.overall["knn_accuracy"], "hard_total": int(np.count_nonzero(
            hard.predicted != hard.codes)),
        "phases": [] if sampler is None else [[m, sampler.peaks[m] - idle] for m in sampler.order],
    }
    print(json.dumps(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--metric", default="cosine", choices=("cosine", "euclidean"))
    parser.add_argument("--sigma", type=float, default=0.5, help="cluster spread (bench_million: typical 0.5)")
    parser.add_argument("--labels", type=int, default=0, help="default: one per 1,000 points (at least 2)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="peak RSS per progress message")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "bench-memory-data"))
    parser.add_argument("--source", default="", help="directory holding the tb_embedanalysis package to bench")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tensor", help=argparse.SUPPRESS)
    parser.add_argument("--codes", help=argparse.SUPPRESS)
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if args.smoke:  # 3,000 x 16 in 3 labels, profiled, its data in a directory of its own
        with tempfile.TemporaryDirectory(prefix="bench-memory-smoke-") as scratch:
            args.n, args.d, args.labels, args.profile, args.data_dir = 3000, 16, 3, True, scratch
            return passes(args)
    return passes(args)


def passes(args):
    """args.repeat cold passes, each in a fresh child process; prints one line each."""
    args.labels = args.labels or max(2, args.n // 1000)
    tensor, codes = data_files(args)
    mb = 1024 * 1024
    for _ in range(args.repeat):
        command = [sys.executable, __file__, "--child", "--tensor", str(tensor), "--codes", str(codes)]
        for name in ("n", "d", "k", "metric", "sigma", "labels", "source"):
            command += ["--" + name, str(getattr(args, name))]
        if args.profile:
            command.append("--profile")
        done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print("[%s] N = %d x %d float32 (%.0f MB), %s, k = %d: idle %.0f MB, peak %.0f MB, peak above idle "
              "%.0f MB = %.2f x the tensor; cold pass %.1f s (knn_accuracy %.4f, hard %d)"
              % (args.source or "working tree", r["n"], r["d"], r["tensor_bytes"] / mb, r["metric"], r["k"], r["idle_rss"] / mb,
                 r["peak_rss"] / mb, (r["peak_rss"] - r["idle_rss"]) / mb, r["ratio"], r["seconds"],
                 r["knn_accuracy"], r["hard_total"]), flush=True)
        for message, above in r["phases"]:
            print("    %-24s peak above idle %6.0f MB = %.2f x" % (message, above / mb, above / r["tensor_bytes"]))


if __name__ == "__main__":
    main()
