"""Exact kNN graph at large N (issue 14): certified search vs plain blocked vs exact peers.

    .venv/bin/python bench/bench_exact_large.py                      # 100,000 x 128, all data
    .venv/bin/python bench/bench_exact_large.py --n 30000 --data tight
    .venv/bin/python bench/bench_exact_large.py --smoke            # seconds: does it still run?

Data (float32, D = 128, cosine, k = 10): `tight` 100 Gaussian clusters, spread 0.3 (clusters
far apart relative to their width); `wide` the same with spread 0.6 (bench_hardness.py's
data: a point's 10th neighbour is about as far as the next cluster's edge); `uniform` noise.
Peers in the same run, all exact: neighbors.knn_graph (plain blocked numpy), faiss-cpu
IndexFlatIP on a normalised copy, usearch exact search. Ours must equal plain bit for bit
(checked); peers are compared by recall of the index sets (float32 rounding may swap ties).
"""

import argparse
import time

import numpy as np

import _support


def make(kind, n, d=128, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.random((n, d), dtype=np.float32)
    spread = {"tight": 0.3, "wide": 0.6}[kind]
    c = rng.normal(size=(100, d)).astype(np.float32)
    return (c[rng.integers(0, 100, n)] + spread * rng.normal(size=(n, d))).astype(np.float32)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--data", nargs="+", default=["tight", "wide", "uniform"])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-plain", action="store_true", help="skip the plain graph (slow)")
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.n = min(args.n, 2000)
    for kind in args.data:
        bench_data(kind, args.n, args.k, plain=not args.no_plain)


def bench_data(kind, n, k, *, plain):
    """Ours, the plain graph and the exact peers on one kind of data; prints one block."""
    from tb_embedanalysis.analysis import certified, certified_graph, neighbors

    x = make(kind, n)
    prep = neighbors.prepare(x, "cosine")
    print("%s N=%d D=%d cosine k=%d" % (kind, n, x.shape[1], k))
    index, t_build = timed(lambda: certified.CertifiedIndex(prep))
    pilot, t_pilot = timed(lambda: certified_graph.pilot(index, k))
    ours, t_ours = timed(lambda: certified_graph.graph_with(index, k))
    chose = "plain" if pilot.searched_fraction(n) > certified_graph.PILOT_MAX_SEARCHED else "certified"
    print("  ours         %7.1f s (partition %.1f s, pilot %.1f s: %.1f %% of pairs -> %s)"
          % (t_build + t_ours, t_build, t_pilot, 100 * pilot.searched_fraction(n), chose))
    if plain:
        graph, t_plain = timed(lambda: neighbors.knn_graph(prep, k))
        same = np.array_equal(graph.indices, ours.indices) and np.array_equal(graph.distances, ours.distances)
        print("  plain        %7.1f s   ours == plain bit for bit: %s" % (t_plain, same))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    faiss = _support.peer("faiss", required=False, what="the faiss flat peer")
    if faiss is not None:
        def run_faiss():
            flat = faiss.IndexFlatIP(x.shape[1])
            flat.add(xn)
            return flat.search(xn, k + 1)[1]
        found, t = timed(run_faiss)
        print("  faiss flat   %7.1f s   recall vs ours %.5f" % (t, _recall(found, ours.indices)))
    usearch = _support.peer("usearch.index", required=False, what="the usearch exact peer")
    if usearch is not None:
        # In query chunks: one call over all 100k queries died with std::bad_alloc here.
        found, t = timed(lambda: np.concatenate([np.asarray(usearch.search(xn, xn[s:s + 4096], k + 1, "ip",
                                                                            exact=True).keys)
                                                 for s in range(0, len(xn), 4096)]))
        print("  usearch exact%7.1f s   recall vs ours %.5f" % (t, _recall(found, ours.indices)))


def _recall(found, truth):
    """Mean overlap of found (self dropped) with the exact rows."""
    hits = [len(set(f[f != i][: truth.shape[1]]) & set(t)) for i, (f, t) in enumerate(zip(found, truth))]
    return float(np.mean(hits)) / truth.shape[1]


if __name__ == "__main__":
    main()
