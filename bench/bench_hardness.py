"""Full hardness pass at N = 100,000 (clustered float32, D = 128, 100 labels, 5 % flipped):
kNN graph k = 10 + cluster statistics + hard-example ranking, through AnalysisEngine with a
cold cache, against scikit-learn's NearestNeighbors(algorithm="brute") kNN graph alone.

    .venv/bin/python bench/bench_hardness.py             # full size
    .venv/bin/python bench/bench_hardness.py --n 20000   # quick
    .venv/bin/python bench/bench_hardness.py --smoke     # seconds: does it still run?

Targets: ≤ 15 s wall, ≥ 10× faster than the scikit-learn graph. scikit-learn is timed on
--sk-queries query rows against all N and extrapolated linearly in the number of queries
(the whole graph is N queries × N rows, i.e. quadratic in N); the output says so.
"""

import argparse
import time

import numpy as np

import _support


def clustered(n, d=128, centers=100, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, d)).astype(np.float32)
    y = rng.integers(0, centers, n)
    x = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 4096):
        m = min(4096, n - start)
        x[start:start + m] = c[y[start:start + m]] + 0.6 * rng.normal(size=(m, d)).astype(np.float32)
    noisy = y.copy()
    flip = rng.choice(n, n // 20, replace=False)
    noisy[flip] = rng.integers(0, centers, flip.size)
    return x, [str(v) for v in noisy], np.isin(np.arange(n), flip) & (noisy != y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--metric", default="cosine")
    parser.add_argument("--sk-queries", type=int, default=5000)
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.sk_queries = min(args.n, 2000), min(args.sk_queries, 200)
    from sklearn.metrics import roc_auc_score
    from sklearn.neighbors import NearestNeighbors

    from tb_embedanalysis.analysis.engine import AnalysisEngine, Space

    x, labels, errors = clustered(args.n)
    eng = AnalysisEngine()  # no cache dir: everything computed
    space = Space(x, "bench", np.ones(len(x), dtype=bool), args.metric)
    stages = []
    t0 = time.perf_counter()
    encoded = eng.labels(space, labels)
    report = _support.finished(eng.clusters(space, encoded, k=10,
                                            on_progress=lambda f, m: stages.append((time.perf_counter() - t0, m))))
    t_clusters = time.perf_counter() - t0
    hard = _support.finished(eng.hard_examples(space, encoded, k=10))
    total = time.perf_counter() - t0
    graph_done = next((t for t, m in stages if m == "label statistics"), float("nan"))
    overall = report.to_dict()["overall"]
    print("N=%d D=128, 100 labels, %s, k=10, kNN graph %s" % (args.n, args.metric,
                                                             "exact" if report.knn_exact else "approximate"))
    print("  kNN graph            %6.2f s" % graph_done)
    print("  + cluster statistics %6.2f s (silhouette sample %s)" % (t_clusters, overall["silhouette_sample_size"]))
    print("  + hard examples      %6.2f s  total (target <= 15 s)" % total)
    print("  knn_accuracy %.4f  silhouette %.4f  default-method AUROC on the flipped labels %.4f"
          % (overall["knn_accuracy"], overall["silhouette"],
             roc_auc_score(errors[hard.rows], hard.scores)))

    from tb_embedanalysis.analysis import neighbors

    sample = np.random.default_rng(1).choice(args.n, min(500, args.n), replace=False)
    truth, _ = neighbors.search(neighbors.prepare(x, args.metric), x[sample], 10, exclude=sample)
    graph = _support.finished(eng.knn_graph(space, k=10))  # cached: no recomputation
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, graph.indices[sample])])
    print("  kNN graph recall@10 vs exact (500 rows): %.4f" % recall)
    m = min(args.sk_queries, args.n)
    nn = NearestNeighbors(n_neighbors=11, algorithm="brute", metric=args.metric).fit(x)
    t = time.perf_counter()
    nn.kneighbors(x[:m])
    sk = (time.perf_counter() - t) * args.n / m
    how = "measured" if m == args.n else "extrapolated from %d of %d query rows" % (m, args.n)
    print("sklearn NearestNeighbors brute kNN graph alone: %.1f s (%s)" % (sk, how))
    print("speed-up of our full pass over sklearn's graph alone: %.1f x (target >= 10)" % (sk / total))


if __name__ == "__main__":
    main()
