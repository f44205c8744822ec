"""The exact pass on unprunable data (issue 25 item 1): our plain graph before and after the
column sweep, against this machine's float32 GEMM rate and faiss IndexFlatIP, same run.

    .venv/bin/python bench/bench_exact_unprunable.py                  # 100,000 x 128, k = 10
    .venv/bin/python bench/bench_exact_unprunable.py --n 50000 --faiss-python /tmp/faissenv/bin/python
    .venv/bin/python bench/bench_exact_unprunable.py --smoke          # seconds: does it still run?

Data: N × 128 float32 standard normal rows (no clusters: nothing prunes), cosine, k = 10.
"before" is neighbors.knn_graph with the sweep switched off (smallest_k over whole key rows,
the code before the sweep), "after" the same call as shipped, run before and after "before";
both must be equal bit for bit (checked). "certified" is certified_graph.graph_with: its
partition and pilot, then (unclustered) the plain graph. The graph's arithmetic is the product of all N² pairs, 2·N²·D flops; the GEMM
rate is numpy's float32 square product (4,096², all threads) measured here, so "fraction"
is that product's share of the machine's rate. faiss runs in this interpreter when it is
importable, else in --faiss-python's (a separate venv), else it is skipped with a line.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import _support

FAISS_SNIPPET = """
import sys, time, numpy as np, faiss
faiss.omp_set_num_threads(int(sys.argv[3]))
xn = np.load(sys.argv[1])
t = time.perf_counter()
index = faiss.IndexFlatIP(xn.shape[1]); index.add(xn); index.search(xn, int(sys.argv[2]) + 1)
print(time.perf_counter() - t)
"""


def gemm_rate(size: int, repeats: int = 3) -> float:
    """float32 GFLOPS of numpy's size × size product, best of `repeats` (BLAS threads as set)."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm: threads started, pages touched
    best = min(_timed(lambda: np.matmul(a, b, out=out))[1] for _ in range(repeats))
    return 2.0 * size ** 3 / best / 1e9


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def faiss_seconds(xn: np.ndarray, k: int, threads: int, python: str):
    """faiss IndexFlatIP's search of all rows (k + 1: the row itself), or None when absent."""
    try:
        import faiss  # noqa: F401  (only whether it is importable here)
    except ImportError:
        if not python:
            print("  faiss flat   skipped: faiss is not importable (pip install faiss-cpu, or --faiss-python)")
            return None
        python_to_use = python
    else:
        python_to_use = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "xn.npy")
        np.save(path, xn)
        done = subprocess.run([python_to_use, "-c", FAISS_SNIPPET, path, str(k), str(threads)],
                              capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--gemm-size", type=int, default=4096)
    parser.add_argument("--faiss-python", default="", help="a python with faiss-cpu, when this one has none")
    parser.add_argument("--no-before", action="store_true", help="skip the graph without the sweep (slow)")
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.gemm_size = min(args.n, 6000), 512
    from tb_embedanalysis.analysis import certified, certified_graph, neighbors, propose

    threads = neighbors.GRAPH_THREADS
    rate = gemm_rate(args.gemm_size)
    x = np.random.default_rng(0).normal(size=(args.n, args.d)).astype(np.float32)
    flops = 2.0 * args.n ** 2 * args.d
    print("unclustered N=%d D=%d cosine k=%d, %d threads; float32 GEMM %d^2: %.1f GFLOPS"
          % (args.n, args.d, args.k, threads, args.gemm_size, rate))

    def line(name, seconds, extra=""):
        print("  %-13s %7.2f s  %6.1f GFLOPS = %3.0f %% of GEMM%s"
              % (name, seconds, flops / seconds / 1e9, 100 * flops / seconds / 1e9 / rate, extra), flush=True)

    prep = neighbors.prepare(x, "cosine")
    after, t_after = _timed(lambda: neighbors.knn_graph(prep, args.k))
    line("after", t_after)
    if not args.no_before:
        kept = propose.SWEEP_MAX_CANDIDATES
        propose.SWEEP_MAX_CANDIDATES = 0  # every proposal by smallest_k over whole key rows
        try:
            before, t_before = _timed(lambda: neighbors.knn_graph(prep, args.k))
        finally:
            propose.SWEEP_MAX_CANDIDATES = kept
        same = np.array_equal(before.indices, after.indices) and np.array_equal(before.distances, after.distances)
        line("before", t_before, "   after == before bit for bit: %s, %.2fx" % (same, t_before / t_after))
        if not same:
            raise SystemExit("the sweep changed the graph")
        # Again after "before": the first run of a process pays for page faults and thread
        # start, and a shared machine's load drifts; the two "after" lines show by how much.
        _, t_again = _timed(lambda: neighbors.knn_graph(prep, args.k))
        line("after again", t_again, "   before / after again: %.2fx" % (t_before / t_again))
    index, t_build = _timed(lambda: certified.CertifiedIndex(prep))
    pilot, t_pilot = _timed(lambda: certified_graph.pilot(index, args.k))
    ours, t_ours = _timed(lambda: certified_graph.graph_with(index, args.k))
    line("certified", t_build + t_ours, "   (partition %.2f s, pilot %.2f s: %.1f %% of pairs; == plain: %s)"
         % (t_build, t_pilot, 100 * pilot.searched_fraction(args.n),
            np.array_equal(ours.indices, after.indices) and np.array_equal(ours.distances, after.distances)))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    t_faiss = faiss_seconds(xn, args.k, threads, args.faiss_python)
    if t_faiss is not None:
        line("faiss flat", t_faiss, "   ours after / faiss: %.2fx" % (t_after / t_faiss))


if __name__ == "__main__":
    main()
