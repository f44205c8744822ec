"""Label errors in the history's answers (issue 26): the method that scored them, how many
there are (overall, per label, per (given, likely) pair) and where the ranking is cut, and
where memorisation starts. /history and /hard_examples?method=history carry these blocks;
the CLI prints them."""

from __future__ import annotations

from typing import Optional

import numpy as np

from tb_embedanalysis.analysis import memorisation


def score_block(result) -> dict:
    """/history's and /hard_examples' `score`: name, range, direction, method, step weights."""
    errors = result.errors
    return {"name": "history", "range": [0.0, 1.0], "direction": "higher = more likely mislabelled",
            "method": None if errors is None else errors.method,
            "step_weights": None if errors is None else [round(float(w), 4) for w in errors.weights]}


def count_block(result) -> Optional[dict]:
    """`errors`: the estimated number of label errors with its 90 % interval, per label, per
    (given label, likely true label) pair, the cut (rank) and what reviewing up to it should
    find, a range (LabelErrors.found: from the two views' agreement with logits, else
    flag_recall; the ranking: result.order, by score then row)."""
    errors = result.errors
    if errors is None:
        return None
    count = errors.count
    order = result.order
    cut = int(round(count.count))
    low, found = errors.found
    names = result.names
    per_class = [{"label": names[c], "estimate": round(float(row[0]), 1), "low": round(float(row[1]), 1),
                  "high": round(float(row[2]), 1)} for c, row in enumerate(count.per_class) if row[2] > 0]
    per_class.sort(key=lambda entry: -entry["estimate"])
    pairs = [{"label": names[int(given)], "likely": names[int(likely)], "estimate": round(float(estimate), 1),
              "low": round(float(low), 1), "high": round(float(high), 1)}
             for given, likely, estimate, low, high in count.pairs.tolist()]
    share = ("%d–%d" % (round(100 * low), round(100 * found)) if round(100 * low) < round(100 * found)
             else "%d" % round(100 * found))
    message = ("about %d likely label errors (90 %% interval %d–%d); reviewing the top %d should find about %s %% "
               "of them" % (cut, int(np.floor(count.low)), int(np.ceil(count.high)), cut, share)
               if cut else "no likely label errors: the history's confident joint has nothing off its diagonal")
    # The cut as a score too: a filtered or paged list draws its line before the first point
    # scoring below it (ties at the cut stay above).
    cut_score = float(result.score[order[cut - 1]]) if 0 < cut <= order.size else None
    return {"estimate": round(float(count.count), 1), "low": round(float(count.low), 1),
            "high": round(float(count.high), 1), "cut": cut, "cut_score": cut_score,
            "expected_found": round(found, 4), "expected_found_low": round(low, 4), "message": message,
            "per_label": per_class, "pairs": pairs}


def memorisation_block(result) -> Optional[dict]:
    """`memorisation`: where it starts, the verdict on the logged steps, per-step fits."""
    errors = result.errors
    if errors is None:
        return None
    found = memorisation.detect(result.steps, errors.fitted, errors.suspects, errors.weights)
    return {"onset_step": found.onset, "verdict": found.verdict, "message": found.message,
            "suspect_fit": [round(v, 4) for v in found.suspect_fit],
            "trusted_fit": [round(v, 4) for v in found.trusted_fit],
            "step_weights": [round(v, 4) for v in found.weights], "suggested_steps": found.suggested}
