"""Label errors from the training history (issue 26): the score, the count and the anchors,
on held-out runs only.

Protocol (tests/label_error_protocol.py, fixed before any result was seen): scikit-learn's
digits and `make_classification`, 20 % uniform or confusable flips, two numpy MLPs, the
training set's logits at 8 doubling steps 50 … 6,400; tuning and held-out seeds as
the protocol's TUNING_SEEDS and HELD_OUT_SEEDS say. Per run, in the same process, every detector ranks the same points:

* cleanlab `get_label_quality_scores` (self-confidence) on 5-fold cross-validated
  probabilities of the same network trained as long, and on the last step's in-sample ones;
* AUM: the mean over steps of the logit margin; cartography confidence: of softmax p(y);
* the mean over steps of the kNN normalized margin;
* the best single step in hindsight: max over steps and over (kNN margin, logit margin);
* the previous `method=history` score (history.history_score, equal step weights);
* ours: `AnalysisEngine.steps.history(...).score` (analysis/label_errors.py), as /history serves it,
  and its estimated count against the true number of flips.

kNN graphs use k = 10 and the metric `metric=auto` picks on the last step, as the tab does.

    .venv/bin/python bench/bench_label_errors.py --cache /tmp/runs            # held-out, ~25 min
    .venv/bin/python bench/bench_label_errors.py --seeds 100,101 --cache ...   # tuning seeds
    .venv/bin/python bench/bench_label_errors.py --write-readme                # + the table into bench/README.md
    .venv/bin/python bench/bench_label_errors.py --features                    # + the count and promise without logits
    .venv/bin/python bench/bench_label_errors.py --cost                        # the score's time at 100,000 × 10 steps
    .venv/bin/python bench/bench_label_errors.py --smoke                       # seconds: does it still run?
"""

import argparse
import os
import pathlib
import sys
import time
from typing import Any, Dict, List

import numpy as np

import _support

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))  # the protocol

import label_error_protocol as protocol

K = 10
OURS = "ours: history score (label_errors)"
ANCHORS = ("cleanlab, 5-fold CV probabilities", "cleanlab, in-sample (last step)", "AUM", "cartography confidence",
           "mean kNN margin", "best single step (hindsight)")
README = pathlib.Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- bench_label_errors: begin -->", "<!-- bench_label_errors: end -->"


def run_of(dataset: str, noise: str, architecture: str, seed: int, cache: str, smoke: bool) -> protocol.Run:
    path = os.path.join(cache, "%s-%s-%s-%d.npz" % (dataset, noise, architecture, seed)) if cache else ""
    if path and os.path.exists(path):
        data = np.load(path)
        return protocol.Run(dataset, noise, architecture, seed, tuple(int(s) for s in data["steps"]), data["logits"],
                            data["noisy"], data["flipped"], data["cv_probs"])
    options = {"rows": 300, "last": 400, "count": 4} if smoke else {}
    run = protocol.make_run(dataset, noise, architecture, seed, **options)
    if path:
        os.makedirs(cache, exist_ok=True)
        np.savez(path, steps=np.array(run.steps), logits=run.logits, noisy=run.noisy, flipped=run.flipped,
                 cv_probs=run.cv_probs)
    return run


def evaluate(run: protocol.Run, features: bool = False) -> Dict[str, Any]:
    """AUROC of every detector, ours' count, and the precision at the true count; features:
    also the count and the promise with the logits not read ("features": ...)."""
    from cleanlab.rank import get_label_quality_scores
    from sklearn.metrics import roc_auc_score

    from history_protocol import aum, knn_probabilities
    from tb_embedanalysis.analysis import history, labels as label_codes, metric_choice, neighbors
    from tb_embedanalysis.analysis.engine import AnalysisEngine, Space

    n, n_labels = run.noisy.size, run.logits.shape[2]
    valid = np.ones(n, dtype=bool)
    metric = metric_choice.choose_for(run.logits[-1], valid, run.noisy, n_labels).metric
    spaces = [Space(z, "bench-%d" % i, valid, metric) for i, z in enumerate(run.logits)]
    encoded = label_codes.encode_rows([str(v) for v in run.noisy], np.flatnonzero(valid))
    result = _support.finished(AnalysisEngine().steps.history(spaces, run.steps, encoded, k=K))
    graphs = [neighbors.knn_graph(neighbors.prepare(z, metric), K).indices for z in run.logits]
    knn_margins = []
    for graph in graphs:
        probs = knn_probabilities(run.noisy[graph], n_labels)
        own = probs[np.arange(n), run.noisy]
        probs[np.arange(n), run.noisy] = -1.0
        knn_margins.append(own - probs.max(axis=1))
    logit_margins = [-aum(z[None], run.noisy) for z in run.logits]  # higher = more likely an error
    softmax = protocol.softmax(run.logits.astype(np.float64))
    auc = lambda score: float(roc_auc_score(run.flipped, score))  # noqa: E731
    out: Dict[str, Any] = {
        # runs trained without the CV folds (cv_probs NaN) have no cross-validated anchor
        ANCHORS[0]: float("nan") if np.isnan(run.cv_probs).any() else auc(-get_label_quality_scores(
            run.noisy, run.cv_probs)),
        ANCHORS[1]: auc(-get_label_quality_scores(run.noisy, softmax[-1])),
        ANCHORS[2]: auc(-aum(run.logits, run.noisy)),
        ANCHORS[3]: auc(-softmax[:, np.arange(n), run.noisy].mean(axis=0)),
        ANCHORS[4]: auc(-np.mean(knn_margins, axis=0)),
        ANCHORS[5]: max(max(auc(-m) for m in knn_margins), max(auc(m) for m in logit_margins)),
        "previous method=history score": auc(history.history_score(graphs, run.noisy)),
        OURS: auc(result.score),
    }
    errors = result.errors
    if errors is None:
        raise RuntimeError("the engine's history has no label-error analysis")
    true = int(run.flipped.sum())
    order = np.argsort(-result.score, kind="stable")
    cut = int(round(errors.count.count))
    out.update({
        "true errors": true, "estimated": errors.count.count, "low": errors.count.low, "high": errors.count.high,
        "count ratio": errors.count.count / true,
        "precision at true count, ours": float(run.flipped[order[:true]].mean()),
        "recall at the estimated cut": float(run.flipped[order[:cut]].sum() / true),
        "recall promised at the cut": errors.found,
        "metric": metric,
    })
    if features:
        out["features"] = _without_logits(run, metric)
    return out


def _without_logits(run: protocol.Run, metric: str) -> Dict[str, Any]:
    """The count and the promise as a user who logs a penultimate layer gets them: the same
    vectors with their columns reversed, through the engine. The distances, hence the kNN
    graphs, are the same; the columns are no longer the labels', so the logits are not read
    (label_errors.usable_logits): the neighbourhoods only."""
    from tb_embedanalysis.analysis import labels as label_codes, label_errors
    from tb_embedanalysis.analysis.engine import AnalysisEngine, Space

    valid = np.ones(run.noisy.size, dtype=bool)
    spaces = [Space(np.ascontiguousarray(z[:, ::-1]), "bench-features-%d" % i, valid, metric)
              for i, z in enumerate(run.logits)]
    encoded = label_codes.encode_rows([str(v) for v in run.noisy], np.flatnonzero(valid))
    result = _support.finished(AnalysisEngine().steps.history(spaces, run.steps, encoded, k=K))
    errors = result.errors
    if errors is None or errors.method != label_errors.METHOD_KNN:
        raise RuntimeError("the reversed columns were read as logits")
    true, cut = int(run.flipped.sum()), int(round(errors.count.count))
    order = np.argsort(-result.score, kind="stable")
    return {"estimated": errors.count.count, "low": errors.count.low, "high": errors.count.high,
            "count ratio": errors.count.count / true, "true errors": true,
            "recall at the estimated cut": float(run.flipped[order[:cut]].sum() / true),
            "recall promised at the cut": errors.found}


def table(results: Dict[tuple, List[Dict[str, Any]]], seeds: str) -> str:
    """The markdown table: per (dataset, noise, architecture), mean AUROC over the seeds."""
    names = list(ANCHORS) + ["previous method=history score", OURS]
    lines = ["AUROC of ranking the planted flips first, mean over seeds %s (held out); **bold**: ours is strictly "
             "above every anchor in that configuration." % seeds, "",
             "| dataset | noise | network | " + " | ".join(names) + " | est. count / true [90 % interval] |",
             "|---" * (len(names) + 4) + "|"]
    for (dataset, noise, architecture), rows in results.items():
        means = {name: np.mean([r[name] for r in rows]) for name in names}
        wins = all(means[OURS] > means[a] for a in ANCHORS if not np.isnan(means[a]))
        cells = ["–" if np.isnan(means[name]) else "%.4f" % means[name] for name in names]
        if wins:
            cells[-1] = "**%s**" % cells[-1]
        counts = "; ".join("%.0f/%d [%.0f, %.0f]" % (r["estimated"], r["true errors"], r["low"], r["high"])
                           for r in rows)
        lines.append("| %s | %s | %s | %s | %s |" % (dataset, noise, architecture, " | ".join(cells), counts))
    return "\n".join(lines)


def cost(n: int, steps: int, *, labels: int = 100, repeats: int = 3) -> Dict[str, float]:
    """Seconds (best of `repeats`) of issue 16's score (history.history_score) and of ours
    (label_errors.analyse, without and with logits) on the same n points × `steps` random
    k = 10 graphs: the graphs are cached in the tab, so this is what a /history costs on top."""
    from scipy import stats  # noqa: F401  (imported once by the server: not part of a request)

    from tb_embedanalysis.analysis import history, label_errors

    rng = np.random.default_rng(0)
    codes = rng.integers(0, labels, n)
    graphs = [rng.integers(0, n, (n, K)) for _ in range(steps)]
    predicted = np.stack([codes[g[:, 0]] for g in graphs])
    logits = [np.eye(labels, dtype=np.float32)[codes] * 3 + rng.normal(0, 1, (n, labels)).astype(np.float32)
              for _ in range(steps)]
    runs = {"issue 16's score": lambda: history.history_score(graphs, codes),
            "ours, no logits": lambda: label_errors.analyse(graphs, codes, labels, predicted),
            "ours, logits": lambda: label_errors.analyse(graphs, codes, labels, predicted, logits)}
    out = {}
    for name, run in runs.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        out[name] = min(times)
    return out


def seeds_of(text: str) -> List[int]:
    return [int(s) for s in text.split(",")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=",".join(map(str, protocol.HELD_OUT_SEEDS)))
    parser.add_argument("--cache", default="", help="directory to keep and reuse the trained runs in")
    parser.add_argument("--write-readme", action="store_true", help="put the table into bench/README.md")
    parser.add_argument("--cost", action="store_true", help="only time the score at --cost-n points × 10 steps")
    parser.add_argument("--cost-n", type=int, default=100_000)
    parser.add_argument("--features", action="store_true",
                        help="also the count and the promise with the logits not read (a penultimate layer's case)")
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    if args.cost or args.smoke:
        seconds = cost(2000 if args.smoke else args.cost_n, 10, repeats=1 if args.smoke else 3)
        base = seconds["issue 16's score"]
        print("%d points × 10 steps, best of %d: %s; load average %.1f" % (
            2000 if args.smoke else args.cost_n, 1 if args.smoke else 3, ", ".join(
                "%s %.2f s (%.1f×)" % (name, t, t / base) for name, t in seconds.items()), os.getloadavg()[0]))
        if args.cost:
            return

    configs = [(d, noise, a) for d in protocol.DATASETS for noise in protocol.NOISES for a in protocol.ARCHITECTURES]
    if args.smoke:
        args.seeds, args.cache, args.write_readme, configs = "0", "", False, configs[:1] + configs[-1:]
        args.features = True
    results: Dict[tuple, List[Dict[str, Any]]] = {}
    for config in configs:
        for seed in seeds_of(args.seeds):
            start = time.perf_counter()
            with threadpool_limits(1):  # small products: threads only add overhead
                run = run_of(*config, seed, args.cache, args.smoke)
                row = evaluate(run, args.features)
            results.setdefault(config, []).append(row)
            print("%s seed %d (%.0f s, metric %s): ours %.4f | %s | count %.0f of %d" % (
                "/".join(config), seed, time.perf_counter() - start, row["metric"], row[OURS],
                " ".join("%.4f" % row[a] for a in ANCHORS), row["estimated"], row["true errors"]), flush=True)
    text = table(results, args.seeds)
    summary = _summary([r for rows in results.values() for r in rows])
    if args.features:
        summary += "\nwithout logits (the neighbourhoods only, the same runs):" + _summary(
            [r["features"] for rows in results.values() for r in rows])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    summary += "\nload average %.1f while this ran" % load
    print(text + summary)
    if args.write_readme:
        readme = README.read_text()
        block = "%s\n%s\n```%s\n```\n%s" % (BEGIN, text, summary, END)
        if BEGIN in readme:
            readme = readme[:readme.index(BEGIN)] + block + readme[readme.index(END) + len(END):]
        else:
            readme += "\n## Label errors from the training history — `bench_label_errors.py` (issue 26)\n\n" + block + "\n"
        README.write_text(readme)


def _summary(rows: List[Dict[str, Any]]) -> str:
    """The count's and the promise's lines over the runs' rows (evaluate's or _without_logits')."""
    ratios = [r["count ratio"] for r in rows]
    summary = ("\nestimated / true count: %s; within ±15 %%: %d of %d runs" % (
        ", ".join("%.2f" % v for v in ratios), sum(abs(v - 1) <= 0.15 for v in ratios), len(ratios)))
    covered = [r["low"] <= r["true errors"] <= r["high"] for r in rows]
    summary += "\n90 %% interval holds the true count: %d of %d runs" % (sum(covered), len(covered))
    recall = [(r["recall promised at the cut"], r["recall at the estimated cut"]) for r in rows]
    summary += "\nrecall at the cut, promised range vs found: %s" % ", ".join(
        "%.2f-%.2f/%.2f" % (low, high, found) for (low, high), found in recall)
    outside = [max(low - found, found - high, 0.0) for (low, high), found in recall]
    summary += "\nfound inside the promised range: %d of %d runs, within 0.08 of it: %d; largest miss %.2f" % (
        sum(v == 0 for v in outside), len(outside), sum(v <= 0.08 for v in outside), max(outside))
    widths = [high - low for (low, high), _ in recall]
    return summary + "; median width %.2f" % float(np.median(widths))


if __name__ == "__main__":
    main()
