"""Single-point neighbour latency and memory at N = 1,000,000 (clustered float32, D = 128).

    .venv/bin/python bench/bench_neighbors.py            # full size
    .venv/bin/python bench/bench_neighbors.py --n 100000 # quick
    .venv/bin/python bench/bench_neighbors.py --smoke    # seconds: does it still run?

Ours: `AnalysisEngine.neighbors` (one exact matrix-vector product over the prepared matrix,
what /neighbors calls), and `certified.CertifiedIndex.search` (k-means cells + certified
bound, the same exact answer; what the kNN graph is built with) for comparison.
Peers measured in the same run: one bare numpy matrix-vector product over the matrix,
faiss IndexFlatIP (exact, on a normalised copy), scikit-learn NearestNeighbors brute, and
faiss IndexHNSWFlat as the approximate peer (recall@10 against the exact answer).
hnswlib is no longer a peer: it ships no wheel (issue 14) and faiss-cpu's HNSW is the same
algorithm. Targets: exact p50 ≤ 1.3 × the bare product; peak RSS of our path ≤ 2 × tensor
bytes above the baseline with the tensor loaded (in a child process running only our code).
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import _support


def clustered(n, d=128, centers=1000, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, d)).astype(np.float32)
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 4096):  # small temporaries: they would count in the peak RSS
        m = min(4096, n - start)
        out[start:start + m] = c[rng.integers(0, centers, m)] + 0.6 * rng.normal(size=(m, d)).astype(np.float32)
    return out


def p50_ms(fn, queries):
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def status_mb(field):
    """VmRSS (now) or VmHWM (peak) of this process in MB. Not ru_maxrss: Linux carries that
    high-water mark over fork + exec, so a child would inherit the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no %s in /proc/self/status" % field)


def space_of(x):
    from tb_embedanalysis.analysis.engine import Space

    # The fingerprint only names the input in cache keys; the bench has one input.
    return Space(vectors=x, fingerprint="bench", valid=np.ones(len(x), dtype=bool), metric="cosine")


def ours_only(n, repeats):
    """Child process: baseline after the tensor, then our engine's exact single-point path."""
    from tb_embedanalysis.analysis.engine import AnalysisEngine

    x = clustered(n)
    space = space_of(x)
    base = status_mb("VmHWM")  # includes filling the tensor
    eng = AnalysisEngine()
    for i in range(repeats):
        eng.neighbors(space, index=i, k=10)
    peak = status_mb("VmHWM")
    print(json.dumps({"tensor_mb": x.nbytes / 2**20, "baseline_mb": base, "peak_mb": peak}))


def time_certified(prep, x, rows, truth):
    """(p50 ms of CertifiedIndex.search, seconds to build its cells, equal to the exact
    answer?). The index is freed on return: the peers after it must not share its memory."""
    from tb_embedanalysis.analysis import certified

    started = time.perf_counter()
    index = certified.CertifiedIndex(prep)
    cells_s = time.perf_counter() - started
    ms = p50_ms(lambda i: index.search(x[i:i + 1], 10, exclude=np.array([i])), rows)
    same = all(np.array_equal(index.search(x[i:i + 1], 10, exclude=np.array([i]))[0][0], truth[j])
               for j, i in enumerate(rows))
    return ms, cells_s, same


def time_faiss_flat(faiss, xn, rows):
    flat = faiss.IndexFlatIP(xn.shape[1])
    flat.add(xn)
    return p50_ms(lambda i: flat.search(xn[i:i + 1], 11), rows)


def time_sklearn(x, rows):
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=11, algorithm="brute", metric="cosine").fit(x)
    return p50_ms(lambda i: nn.kneighbors(x[i:i + 1]), rows[:10])


def time_faiss_hnsw(faiss, xn, rows, truth):
    """The approximate peer: what giving up exactness would buy (build time, then per efSearch)."""
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(xn.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 100
    hnsw.add(xn)
    print("faiss HNSW build %.1f s (M=16, efConstruction=100)" % (time.perf_counter() - started))
    for ef in (64, 128, 256):
        hnsw.hnsw.efSearch = ef
        found = [[j for j in hnsw.search(xn[i:i + 1], 11)[1][0] if j != i][:10] for i in rows]
        ms = p50_ms(lambda i: hnsw.search(xn[i:i + 1], 11), rows)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found)])
        print("faiss HNSW efSearch=%-4d     p50 %8.2f ms  recall@10 %.4f" % (ef, ms, recall))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--no-hnsw", action="store_true", help="skip the faiss HNSW peer (its build is minutes at 1M)")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.queries = min(args.n, 3000), min(args.queries, 5)
    if args.rss_child:
        return ours_only(args.n, args.queries)
    faiss = _support.peer("faiss", required=not args.smoke, what="the faiss peers")

    from tb_embedanalysis.analysis import neighbors
    from tb_embedanalysis.analysis.engine import AnalysisEngine

    n = args.n
    x = clustered(n)
    space = space_of(x)
    rng = np.random.default_rng(1)
    rows = rng.choice(n, args.queries, replace=False)
    print("N=%d D=128 clustered float32 (%.0f MB), %d queries, cosine, k=10, %d cores"
          % (n, x.nbytes / 2**20, args.queries, os.cpu_count() or 1))

    bare = p50_ms(lambda i: x @ x[i], rows)
    eng = AnalysisEngine()
    eng.neighbors(space, index=0, k=10)  # row norms, once per fingerprint
    exact = p50_ms(lambda i: eng.neighbors(space, index=int(i), k=10), rows)
    prep = neighbors.prepare(x, "cosine")
    truth, _ = neighbors.search(prep, x[rows], 10, exclude=rows)
    cert, cells_s, same = time_certified(prep, x, rows, truth)
    sk_ms = time_sklearn(x, rows)
    print("bare numpy x @ q             p50 %8.2f ms" % bare)
    print("ours exact (engine.neighbors) p50 %8.2f ms  = %.2f x bare (target <= 1.3)" % (exact, exact / bare))
    print("ours CertifiedIndex.search   p50 %8.2f ms  = %.2f x bare (cells built in %.1f s; equal to exact: %s)"
          % (cert, cert / bare, cells_s, same))
    print("sklearn brute kneighbors     p50 %8.2f ms  = %.2f x bare (10 queries)" % (sk_ms, sk_ms / bare))
    if faiss is not None:
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        faiss_ms = time_faiss_flat(faiss, xn, rows)
        print("faiss IndexFlatIP            p50 %8.2f ms  = %.2f x bare" % (faiss_ms, faiss_ms / bare))
        if not args.no_hnsw:
            time_faiss_hnsw(faiss, xn, rows, truth)
        del xn

    child = subprocess.run([sys.executable, __file__, "--n", str(n), "--queries", "10" if not args.smoke else "3",
                            "--rss-child"], capture_output=True, text=True, check=True)
    rss = json.loads(child.stdout.strip().splitlines()[-1])
    above = rss["peak_mb"] - rss["baseline_mb"]
    print("peak RSS above baseline (tensor loaded): %.0f MB = %.2f x tensor bytes (target <= 2)"
          % (above, above / rss["tensor_mb"]))


if __name__ == "__main__":
    main()
