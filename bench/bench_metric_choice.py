"""Held-out check of the automatic metric (analysis/metric_choice.py), issue 16.

On the history protocol (tests/history_protocol.py: scikit-learn's digits, 20 % of the
labels flipped to the most confusable class, a network trained until it fits them, the
training set's logits at 10 log-spaced steps), per held-out seed and step: the AUROC of
ranking the flipped points by the tab's default single-step score (cleaned_knn_margin)
under cosine, euclidean and `auto` (the metric auto chooses from the noisy labels alone),
beside cleanlab's best kNN detector at that step (the best of its self_confidence,
normalized_margin and confidence_weighted_entropy on leave-one-out kNN probabilities, under
either metric, chosen in hindsight). Also the history score under each.

The criterion (leave-one-out kNN accuracy, cosine on a tie) was fixed before this check
ran and was not tuned; seeds 5-11 are the protocol's held-out seeds.

    .venv/bin/python bench/bench_metric_choice.py --cache /tmp/protocol   # ~8 min first time
    .venv/bin/python bench/bench_metric_choice.py --smoke                 # seconds: does it still run?
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Dict, List

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.dirname(__file__))

import _support
import history_protocol as protocol
from bench_history import SMOKE_PROTOCOL, run_of, seeds_of

EARLY = 4  # the first EARLY steps are "early training" (before the network fits the flips)


def single_step(z, noisy, engine, metric_name):
    from tb_embedanalysis.analysis import labels as label_codes
    from tb_embedanalysis.analysis.engine import Space

    valid = np.ones(noisy.size, dtype=bool)
    encoded = label_codes.encode_rows([str(v) for v in noisy], np.flatnonzero(valid))
    space = Space(np.ascontiguousarray(z, dtype=np.float32), "bench-%s" % hash(z.tobytes()), valid, "cosine")
    chosen = engine.metric_choice(space, encoded).metric if metric_name == "auto" else metric_name
    report = _support.finished(engine.hard_examples(space.with_metric(chosen), encoded, k=10))
    scores = np.empty(noisy.size)
    scores[report.rows] = report.scores
    return scores, chosen


def history_auroc(run, metric):
    from bench_history import aurocs

    return aurocs(run, metric, 10)["history score (ours)"]


def cleanlab_best(z, noisy, flipped):
    from cleanlab.rank import get_label_quality_scores
    from sklearn.metrics import roc_auc_score

    from tb_embedanalysis.analysis import neighbors

    best = 0.0
    for metric in neighbors.METRICS:
        codes = noisy[neighbors.knn_graph(neighbors.prepare(z, metric), 10).indices]
        probs = protocol.knn_probabilities(codes, int(noisy.max()) + 1)
        for method in ("self_confidence", "normalized_margin", "confidence_weighted_entropy"):
            best = max(best, roc_auc_score(flipped, -get_label_quality_scores(noisy, probs, method=method)))
    return best


def main():
    from sklearn.metrics import roc_auc_score

    from tb_embedanalysis.analysis.engine import AnalysisEngine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="5-11")
    parser.add_argument("--cache", default="")
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    options: Dict[str, int] = {}
    if args.smoke:  # one seed of bench_history's small protocol
        args.seeds, args.cache, options = "0", "", SMOKE_PROTOCOL
    rows: Dict[str, Dict[str, List[float]]] = {}
    chosen_count: Dict[str, List[str]] = {}
    history: Dict[str, list] = {}
    steps = 0
    for seed in seeds_of(args.seeds):
        start = time.perf_counter()
        run = run_of(seed, args.cache, **options)
        steps = len(run.steps)
        engine = AnalysisEngine()
        for t, z in enumerate(run.logits):
            phase = "early (steps 1-%d)" % EARLY if t < EARLY else "late (steps %d-%d)" % (EARLY + 1, len(run.logits))
            entry = rows.setdefault(phase, {})
            for metric in ("cosine", "euclidean", "auto"):
                scores, chosen = single_step(z, run.noisy, engine, metric)
                entry.setdefault(metric, []).append(roc_auc_score(run.flipped, scores))
                if metric == "auto":
                    chosen_count.setdefault(phase, []).append(chosen)
            entry.setdefault("cleanlab best kNN (hindsight)", []).append(cleanlab_best(z, run.noisy, run.flipped))
        # The history score under the metric auto chooses for a history (from the last step).
        last = run.logits[-1]
        _, chosen = single_step(last, run.noisy, engine, "auto")
        for metric in ("cosine", "euclidean", "auto"):
            used = chosen if metric == "auto" else metric
            history.setdefault(metric, []).append(history_auroc(run, used))
        history.setdefault("chosen", []).append(chosen)
        print("seed %d done in %.0f s" % (seed, time.perf_counter() - start), flush=True)
    print("\nAUROC of the default single-step ranking (cleaned_knn_margin, k = 10), seeds %s, mean over seeds and"
          " steps:\n" % args.seeds)
    print("| steps | cosine | euclidean | auto | cleanlab best kNN (hindsight) | auto chose euclidean |")
    print("|---|---|---|---|---|---|")
    for phase, entry in rows.items():
        chosen = chosen_count[phase]
        print("| %s | %.4f | %.4f | %.4f | %.4f | %d of %d |" % (
            phase, np.mean(entry["cosine"]), np.mean(entry["euclidean"]), np.mean(entry["auto"]),
            np.mean(entry["cleanlab best kNN (hindsight)"]), chosen.count("euclidean"), len(chosen)))
    print("\nHistory score over all %d steps: cosine %.4f, euclidean %.4f, auto %.4f (auto chose euclidean on %d of %d"
          " seeds)" % (steps, np.mean(history["cosine"]), np.mean(history["euclidean"]), np.mean(history["auto"]),
                       history["chosen"].count("euclidean"), len(history["chosen"])))


if __name__ == "__main__":
    main()
