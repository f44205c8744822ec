"""How many UMAP layout epochs a map needs: quality at fewer epochs against umap-learn's 500
(issue 25, item 5), on datasets chosen from and datasets left out.

Each map is `projection.umap_2d` as the tab draws it (the exact kNN graph, spectral
initialisation, seeded, single-threaded), with `MapSettings(epochs=e)`. Quality is measured
against the input rows (euclidean, as the map uses):

  trustworthiness  sklearn.manifold.trustworthiness(X, Y, n_neighbors=10): 1 = no point has
                   2-D neighbours that are far away in the input;
  retention        the mean fraction of each point's 10 exact input neighbours that are among
                   its 10 nearest in 2-D.

The datasets are split before any run: TUNE (sklearn's digits, tight and wide blobs) is where
a count is chosen: the fewest epochs whose mean loss against 500 (over the seeds) stays within
TRUST_TOLERANCE and RETENTION_TOLERANCE on every TUNE dataset; HELD_OUT (blobs of another
width and dimension, the demo's network logits early and late in training, its word vectors)
is only used to confirm that choice, with the same tolerances (and measured at every count,
so that a verdict of "none" is seen to hold there too). The seed-to-seed spread at 500
epochs is printed beside each loss, as the scale of what "negligible" means.

    .venv/bin/python bench/bench_umap_epochs.py [--demo-logdir DIR] [--epochs 500 300 200 150] [--seeds 0 1 2]
    .venv/bin/python bench/bench_umap_epochs.py --smoke

--demo-logdir: a logdir written by `tb-embedanalysis demo` (its digits and words runs); without
it the held-out set has only the synthetic datasets.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import _support

#: Losses against 500 epochs that count as negligible (issue 25 item 5): trustworthiness(10)
#: varies by ~0.001-0.003 between seeds at 500 epochs, retention by ~0.005-0.01.
TRUST_TOLERANCE = 0.005
RETENTION_TOLERANCE = 0.01
REFERENCE = 500
K = 10


def blobs(n: int, d: int, centres: int, *, scale: float, spread: float, seed: int) -> np.ndarray:
    """n rows in `centres` Gaussian blobs: centres N(0, scale²), each point spread N(0, spread²)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, centres, size=n)
    return (rng.normal(size=(centres, d))[labels] * scale + rng.normal(size=(n, d)) * spread).astype(np.float32)


def sklearn_digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float32)


def demo_vectors(logdir: str, run: str, name: str, step: Optional[int]) -> np.ndarray:
    """An embedding of the demo's logdir, through the package's own reader (valid rows)."""
    from tb_embedanalysis import queries

    embedding = queries.Workspace.open(logdir).load(run, name, step)
    return np.asarray(embedding.vectors, dtype=np.float32)[np.asarray(embedding.finite)]


def datasets(demo_logdir: Optional[str], smoke: bool) -> Tuple[Dict[str, Callable], Dict[str, Callable]]:
    """(TUNE, HELD_OUT): name → a function giving the (N, D) float32 rows."""
    n = 300 if smoke else 2500
    tune = {
        "sklearn digits %dx64" % min(n, 1797): (lambda: sklearn_digits()[:n]),
        "blobs tight (10 x N(0,16), spread 1) %dx32" % n: (lambda: blobs(n, 32, 10, scale=4.0, spread=1.0, seed=1)),
        "blobs wide (50 x N(0,1), spread 0.8) %dx32" % n: (lambda: blobs(n, 32, 50, scale=1.0, spread=0.8, seed=2)),
    }
    held = {
        "blobs mid (20 x N(0,4), spread 1) %dx64" % n: (lambda: blobs(n, 64, 20, scale=2.0, spread=1.0, seed=3)),
        "blobs wider (20 x N(0,1), spread 1.5) %dx16" % n: (lambda: blobs(n, 16, 20, scale=1.0, spread=1.5, seed=4)),
    }
    if smoke:  # one dataset of each: every step of the script, a third of its maps
        return dict(list(tune.items())[:1]), dict(list(held.items())[:1])
    if demo_logdir:
        held.update({
            "demo digits logits, step 100 (early)": lambda: demo_vectors(demo_logdir, "digits", "logits", 100),
            "demo digits logits, step 2000 (late)": lambda: demo_vectors(demo_logdir, "digits", "logits", 2000),
            "demo digits train_logits, step 50 (early)": lambda: demo_vectors(demo_logdir, "digits", "train_logits", 50),
            "demo words, epoch 1 (early)": lambda: demo_vectors(demo_logdir, "words_synthetic", "embedding", 1)[:n],
            "demo words, epoch 20 (late)": lambda: demo_vectors(demo_logdir, "words_synthetic", "embedding", 20)[:n],
        })
    return tune, held


def retention(x: np.ndarray, y: np.ndarray, k: int = K) -> float:
    """Mean fraction of each row's k exact nearest rows of x (euclidean, float64) that are
    among its k nearest in y."""
    from sklearn.neighbors import NearestNeighbors

    def knn(a):
        return NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(a).kneighbors(a, return_distance=False)[:, 1:]

    high, low = knn(x.astype(np.float64)), knn(y.astype(np.float64))
    return float(np.mean([np.intersect1d(h, l_, assume_unique=True).size / k for h, l_ in zip(high, low)]))


def quality(x: np.ndarray, epochs: int, seed: int) -> Tuple[float, float, float]:
    """(trustworthiness, retention, seconds) of one seeded UMAP map of x with `epochs`."""
    from sklearn.manifold import trustworthiness

    from tb_embedanalysis.analysis import projection
    from tb_embedanalysis.analysis.map_settings import MapSettings

    start = time.perf_counter()
    coords = projection.umap_2d(x, np.ones(len(x), bool), seed=seed, settings=MapSettings(epochs=epochs)).coords
    seconds = time.perf_counter() - start
    return trustworthiness(x.astype(np.float64), coords.astype(np.float64), n_neighbors=K), retention(x, coords), seconds


def measure(sets: Dict[str, Callable], epochs: List[int], seeds: List[int]) -> Dict[str, Dict[int, np.ndarray]]:
    """name → epochs → (seeds, 3) array of (trustworthiness, retention, seconds)."""
    results: Dict[str, Dict[int, np.ndarray]] = {}
    for name, make in sets.items():
        x = make()
        results[name] = {}
        for e in epochs:
            results[name][e] = np.array([quality(x, e, s) for s in seeds])
            t, r, sec = results[name][e].mean(axis=0)
            print("  %-46s %5d epochs  trust %.4f  retention %.4f  %.2f s/map" % (name, e, t, r, sec), flush=True)
    return results


def losses(results: Dict[str, Dict[int, np.ndarray]], e: int) -> Dict[str, Tuple[float, float, float, float]]:
    """name → (trust loss, retention loss, trust spread, retention spread): mean over seeds of
    500's figure minus e's (positive = worse), and the seeds' standard deviation at 500."""
    out = {}
    for name, by_epochs in results.items():
        ref, got = by_epochs[REFERENCE], by_epochs[e]
        out[name] = (float(ref[:, 0].mean() - got[:, 0].mean()), float(ref[:, 1].mean() - got[:, 1].mean()),
                     float(ref[:, 0].std()), float(ref[:, 1].std()))
    return out


def acceptable(table) -> bool:
    return all(t <= TRUST_TOLERANCE and r <= RETENTION_TOLERANCE for t, r, _, _ in table.values())


def report(title: str, results, epochs: List[int]) -> Dict[int, bool]:
    print("\n%s: loss against %d epochs (mean over seeds; positive = worse), seed spread at %d" % (title, REFERENCE, REFERENCE))
    verdict = {}
    for e in sorted(x for x in epochs if x != REFERENCE):
        table = losses(results, e)
        verdict[e] = acceptable(table)
        for name, (t, r, st, sr) in table.items():
            print("  %4d  %-46s trust %+.4f (spread %.4f)  retention %+.4f (spread %.4f)" % (e, name, t, st, r, sr))
        print("  %4d  within %.3f / %.2f on every dataset: %s" % (e, TRUST_TOLERANCE, RETENTION_TOLERANCE,
                                                            "yes" if verdict[e] else "NO"))
    return verdict


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo-logdir", help="a logdir written by `tb-embedanalysis demo` (held-out real features)")
    parser.add_argument("--epochs", type=int, nargs="+", default=[500, 300, 200, 150])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.seeds = [500, 100], [0]
    epochs = sorted(set(args.epochs) | {REFERENCE}, reverse=True)
    tune, held = datasets(args.demo_logdir, args.smoke)
    print("TUNE datasets (the count is chosen here):", flush=True)
    tuned = report("TUNE", measure(tune, epochs, args.seeds), epochs)
    fewest = min([e for e, ok in tuned.items() if ok], default=REFERENCE)
    print("\nchosen on TUNE: %d epochs%s" % (fewest, " (no fewer count passes)" if fewest == REFERENCE else ""))
    # The held-out datasets are measured at every count either way: a count that passes there
    # but not on TUNE is not chosen, and the table shows whether TUNE's verdict generalises.
    print("\nHELD_OUT datasets:", flush=True)
    confirmed = report("HELD_OUT", measure(held, epochs, args.seeds), epochs)
    if fewest != REFERENCE:
        print("\n%d epochs on the held-out datasets: %s" % (fewest, "CONFIRMED" if confirmed[fewest] else "NOT confirmed"))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
