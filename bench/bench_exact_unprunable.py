"""The exact pass where no bound prunes (issue 25, item 1): our exact kNN graph against this
machine's float32 GEMM rate, faiss IndexFlatIP (exact) and faiss HNSW (approximate), all in
the same run, with the machine's load average at each measurement.

    .venv/bin/python bench/bench_exact_unprunable.py --faiss-python /tmp/faissenv/bin/python
    .venv/bin/python bench/bench_exact_unprunable.py --n 200000 --cases unclustered
    .venv/bin/python bench/bench_exact_unprunable.py --smoke          # seconds: does it still run?

Data, N × D float32 (default 100,000 × 128), cosine, k = 10:
* unclustered: standard normal rows;
* wide: 50 clusters, centres N(0, 1), each row its centre + 0.8 · N(0, 1): clusters as wide
  as their distance apart (real features early in training), where no cell bound prunes;
* clustered: issue 25's first row, the prunable control: 100 classes, centres N(0, 1), each
  row its centre + a low-rank class covariance (8 directions N(0, 1/D) per class)
  + 0.05 · N(0, 1) isotropic noise: elongated, well-separated classes where the
  certified search prunes (checks the pruning path did not get slower).

"ours" is certified_graph.knn_graph_exact_fast, what the engine runs (partition, pilot, then
the certified or the plain blocked graph: symmetric_graph's, each pair's product once, where
it applies), checked against the float64 oracle (exact.scan) on --check-rows rows (the numba
kernels compiled before the clock starts, as the engine's on-disk numba cache has them).
--plain-peer also times neighbors.knn_graph (every pair's product twice) in the same case. The GEMM rate is numpy's float32 square product (--gemm-size², BLAS
on every core) measured just before each case and again right after ours; "of GEMM" is
2·N²·D flops / time / the higher of the two (this VM's rate moved by up to 25 % between runs). faiss runs in this interpreter when importable, else in --faiss-python's (a separate
venv), else it is skipped with a line; its threads = ours (neighbors.GRAPH_THREADS).
HNSW: IndexHNSWFlat M 32 (efConstruction 40, faiss's default), efSearch 64, inner product on
normalised rows; recall@k against ours, its own row left out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import _support

#: Directions of each class's covariance in the clustered case.
LOW_RANK = 8

FAISS_SNIPPET = """
import json, sys, time, numpy as np, faiss
path, k, threads, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
faiss.omp_set_num_threads(threads)
xn = np.load(path)
t = time.perf_counter()
if kind == "flat":
    index = faiss.IndexFlatIP(xn.shape[1])
else:
    index = faiss.IndexHNSWFlat(xn.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
index.add(xn)
built = time.perf_counter() - t
if kind == "hnsw":
    index.hnsw.efSearch = 64
_, found = index.search(xn, k + 1)
total = time.perf_counter() - t
np.save(path + ".found.npy", found)
print(json.dumps({"build": built, "total": total}))
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


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def make_data(kind: str, n: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "unclustered":
        return rng.normal(size=(n, d)).astype(np.float32)
    if kind == "clustered":
        centres = rng.normal(size=(100, d))
        axes = 1.0 * rng.normal(size=(100, LOW_RANK, d)) / np.sqrt(d)
        label = rng.integers(0, 100, n)
        out = np.empty((n, d), dtype=np.float32)
        for start in range(0, n, 65536):  # blocks: no (n, LOW_RANK, d) temporary
            lab = label[start:start + 65536]
            z = rng.normal(size=(lab.size, LOW_RANK))
            out[start:start + lab.size] = (centres[lab] + np.einsum("ir,ird->id", z, axes[lab])
                                           + 0.05 * rng.normal(size=(lab.size, d)))
        return out
    centres = rng.normal(size=(50, d))
    return (centres[rng.integers(0, 50, n)] + 0.8 * rng.normal(size=(n, d))).astype(np.float32)


def faiss_run(xn: np.ndarray, k: int, threads: int, python: str, kind: str):
    """(seconds, build seconds, (N, k + 1) rows found) of faiss `kind` ("flat" or "hnsw") over
    every row, or None when faiss is not available."""
    try:
        import faiss  # noqa: F401  (only whether it is importable here)
    except ImportError:
        if not python:
            print("  faiss %-6s skipped: faiss is not importable (pip install faiss-cpu, or --faiss-python)" % kind)
            return None
        python_to_use = python
    else:
        python_to_use = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "xn.npy")
        np.save(path, xn)
        done = subprocess.run([python_to_use, "-c", FAISS_SNIPPET, path, str(k), str(threads), kind],
                              capture_output=True, text=True, check=True)
        times = json.loads(done.stdout.strip().splitlines()[-1])
        found = np.load(path + ".found.npy")
    return times["total"], times["build"], found


def recall(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    """recall@k of `found` (N, k + 1), each row's own index left out, against `exact` (N, k)."""
    hits = 0
    for row, (got, want) in enumerate(zip(found, exact)):
        got = got[got != row][:k]
        hits += np.intersect1d(got, want).size
    return hits / exact.size


def check_exact(prep, graph, k: int, rows: int) -> str:
    """Our graph against the float64 oracle (exact.scan) on `rows` evenly spaced rows."""
    from tb_embedanalysis.analysis import exact

    sample = np.linspace(0, prep.matrix.shape[0] - 1, rows).astype(np.int64)
    idx, dist = exact.scan(prep, prep.matrix[sample], k, sample)
    same = np.array_equal(idx, graph.indices[sample]) and np.array_equal(dist, graph.distances[sample])
    if not same:
        raise SystemExit("the graph differs from the float64 oracle")
    return "= float64 oracle on %d rows" % rows


def add_case_args(parser: argparse.ArgumentParser) -> None:
    """--n, --d, --k and --cases (make_data's kinds): the cases, shared with bench_lowprec.py."""
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--cases", default="unclustered,wide")


def main():
    parser = argparse.ArgumentParser()
    add_case_args(parser)
    parser.add_argument("--gemm-size", type=int, default=4096)
    parser.add_argument("--faiss-python", default="", help="a python with faiss-cpu, when this one has none")
    parser.add_argument("--no-hnsw", action="store_true")
    parser.add_argument("--no-faiss", action="store_true", help="ours and the GEMM rate only")
    parser.add_argument("--check-rows", type=int, default=100)
    parser.add_argument("--plain-peer", action="store_true", help="time neighbors.knn_graph too (the graph before symmetric_graph)")
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.gemm_size, args.check_rows = min(args.n, 3000), 512, 20
        args.plain_peer = True  # its comparison runs in the test suite too
    _support.smoke_kernels(args.smoke)
    from tb_embedanalysis.analysis import neighbors

    for kind in args.cases.split(","):
        run_case(kind, args, neighbors.GRAPH_THREADS)


def run_case(kind: str, args, threads: int) -> None:
    from tb_embedanalysis.analysis import certified_graph, neighbors

    flops = 2.0 * args.n ** 2 * args.d
    x = make_data(kind, args.n, args.d)
    rate = gemm_rate(args.gemm_size)
    print("%s N=%d D=%d cosine k=%d, %d threads; float32 GEMM %d^2: %.1f GFLOPS (%s)"
          % (kind, args.n, args.d, args.k, threads, args.gemm_size, rate, load()), flush=True)

    def line(name, seconds, extra=""):
        print("  %-11s %7.2f s  %6.1f GFLOPS = %3.0f %% of GEMM  (%s)%s"
              % (name, seconds, flops / seconds / 1e9, 100 * flops / seconds / 1e9 / rate, load(), extra),
              flush=True)

    prep = neighbors.prepare(x, "cosine")
    from tb_embedanalysis.analysis import pair_fold, topk_fold
    topk_fold.warm()  # compiled once per cache dir in the engine (numba_cache), not per graph
    pair_fold.warm()
    graph, t_ours = _timed(lambda: certified_graph.knn_graph_exact_fast(prep, args.k))
    after = gemm_rate(args.gemm_size)  # this VM's rate moves between minutes: the higher one is the reference
    print("  float32 GEMM again after ours: %.1f GFLOPS; %% of GEMM below against %.1f (the higher)"
          % (after, max(rate, after)), flush=True)
    rate = max(rate, after)
    line("ours", t_ours, "   " + check_exact(prep, graph, args.k, args.check_rows))
    if args.plain_peer:
        plain, t_plain = _timed(lambda: neighbors.knn_graph(prep, args.k))
        same = np.array_equal(plain.indices, graph.indices) and np.array_equal(plain.distances, graph.distances)
        line("plain", t_plain, "   neighbors.knn_graph: ours %.2fx its time, graphs %s"
             % (t_ours / t_plain, "equal" if same else "DIFFER"))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    if args.no_faiss:
        return
    flat = faiss_run(xn, args.k, threads, args.faiss_python, "flat")
    if flat is not None:
        line("faiss flat", flat[0], "   ours / faiss flat: %.2fx the time, recall %.4f"
             % (t_ours / flat[0], recall(flat[2], graph.indices, args.k)))
    hnsw = None if args.no_hnsw else faiss_run(xn, args.k, threads, args.faiss_python, "hnsw")
    if hnsw is not None:
        print("  %-11s %7.2f s  (build %.2f s)  (%s)   recall@%d %.4f; ours / hnsw: %.2fx the time"
              % ("faiss hnsw", hnsw[0], hnsw[1], load(), args.k, recall(hnsw[2], graph.indices, args.k),
                 t_ours / hnsw[0]), flush=True)


if __name__ == "__main__":
    main()
