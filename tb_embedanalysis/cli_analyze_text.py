"""The text reports of `tb-embedanalysis analyze` (cli_analyze.py): the cluster table and
hardest examples, the `--quick` estimate with each figure's 95 % Wilson interval, and the
`--history` summary, with the history's label-error estimate and memorisation verdict."""

from typing import List


def _fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.*f" % (digits, value)
    return str(value)


def format_text(embedding, clusters, hard) -> str:
    overall = clusters["overall"]
    ref = embedding.ref
    lines = [
        "%s / %s (step %s): %d points, %d dims, labels from %r"
        % (ref.run, ref.name, ref.step, embedding.shape[0], embedding.shape[1], overall.get("label_column")),
        "kNN accuracy %s   macro F1 %s   silhouette %s%s   Davies-Bouldin %s   (k=%d, %s)" % (
            _fmt(overall["knn_accuracy"]), _fmt(overall["macro_f1"]), _fmt(overall["silhouette"]),
            "" if overall.get("silhouette_sample_size") is None else " (sample of %d)" % overall["silhouette_sample_size"],
            _fmt(overall["davies_bouldin"]), overall["k"], overall["metric"]),
        "",
    ]
    header = ["label", "count", "spread", "radius_p90", "nearest_label", "separation", "purity",
              "knn_recall", "knn_precision", "silhouette", "hard_count"]
    table = [header] + [[_fmt(row.get(column)) for column in header] for row in clusters["labels"]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(r, widths)) for r in table]
    lines += ["", "hardest examples (%s, %d in all):" % (hard["method"], hard["total"])]
    lines += _error_lines(hard)
    cut = (hard.get("errors") or {}).get("cut_score")
    above = False
    for example in hard["examples"]:
        if cut is not None and above and example["score"] < cut:
            lines.append("  ---- the cut: about %d likely label errors above this line ----" % hard["errors"]["cut"])
        above = cut is not None and example["score"] >= cut
        votes = ", ".join("%s:%d" % item for item in sorted(example["neighbor_labels"].items(), key=lambda kv: -kv[1]))
        lines.append("  #%-7d label %-8s neighbours say %-8s score %.3f  [%s]" % (
            example["index"], example["label"], example["predicted_label"], example["score"], votes))
    return "\n".join(lines)


def _between(value, interval, digits=3) -> str:
    """'0.912 [0.901, 0.922]', or '-' when unknown."""
    if value is None:
        return "-"
    return "%s [%s, %s]" % (_fmt(float(value), digits), _fmt(interval[0], digits), _fmt(interval[1], digits))


def quick_text(embedding, result: dict) -> str:
    estimate, hard = result["estimate"], result["hard_examples"]
    overall = estimate["overall"]
    ref = embedding.ref
    lines = [
        "%s / %s (step %s): ESTIMATE from the exact neighbours of %d of %d points (95%% Wilson intervals), "
        "labels from %r" % (ref.run, ref.name, ref.step, estimate["sample_size"], overall["n"], overall["label_column"]),
        "kNN accuracy %s   macro F1 %s   (k=%d, %s)" % (
            _between(overall["knn_accuracy"], overall["intervals"]["knn_accuracy"]), _fmt(overall["macro_f1"]),
            overall["k"], overall["metric"]),
        "",
    ]
    header = ["label", "count", "sampled", "purity", "knn_recall", "knn_precision", "hard_count"]
    table = [header]
    for row in estimate["labels"]:
        ci = row["intervals"]
        table.append([str(row["label"]), str(row["count"]), str(row["sample_count"])]
                     + [_between(row[key], ci[key]) for key in ("purity", "knn_recall", "knn_precision")]
                     + [_between(row["hard_count"], ci["hard_count"], 0)])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(r, widths)) for r in table]
    lines += ["", "hardest of the sampled points (%s; %d of the %d sampled are outvoted):"
              % (hard["method"], hard["hard_total"], hard["sample_size"])]
    for example in hard["examples"]:
        votes = ", ".join("%s:%d" % item for item in sorted(example["neighbor_labels"].items(), key=lambda kv: -kv[1]))
        lines.append("  #%-7d label %-8s neighbours say %-8s score %.3f  [%s]" % (
            example["index"], example["label"], example["predicted_label"], example["score"], votes))
    return "\n".join(lines)


def history_text(result: dict, limit: int) -> str:
    points = result["points"]
    lines = ["%s / %s: history of %d points over steps %s (k=%d, %s, labels from %r)" % (
        result["run"], result["embedding"], result["n"], ", ".join(map(str, result["steps"])), result["k"],
        result["metric"], result["label_column"])]
    lines += ["  left out step %s: %s" % (entry["step"], entry["reason"]) for entry in result["left_out"]]
    lines += ["  step %-8s kNN accuracy %.3f  mean margin %+.3f" % (s["step"], s["knn_accuracy"], s["mean_margin"])
              for s in result["per_step"]]
    lines += _error_lines(result)
    lines += ["", "most likely label errors (history score, higher = more suspicious):"]
    order = sorted(range(result["n"]), key=lambda i: (-points["score"][i], points["index"][i]))[:limit]
    cut = (result.get("errors") or {}).get("cut")
    for rank, i in enumerate(order):
        if rank == cut:
            lines.append("  ---- the cut: about %d likely label errors above this line ----" % cut)
        learned = points["learned_at"][i]
        learned = "never" if points["never_learned"][i] else ("not yet" if learned is None else learned)
        lines.append("  #%-7d label %-8s score %.3f  mean margin %+.3f  variability %.3f  learned at %s  "
                     "forgotten %d×" % (points["index"][i], points["label"][i], points["score"][i],
                                        points["mean_margin"][i], points["variability"][i],
                                        learned,
                                        points["forgetting"][i]))
    return "\n".join(lines)


def _error_lines(answer: dict) -> List[str]:
    """The history's method, estimated label errors (per label, per pair) and memorisation."""
    errors, found, score = answer.get("errors"), answer.get("memorisation"), answer.get("score") or {}
    lines = ["  score: %s" % score["method"]] if score.get("method") else []
    if errors:
        lines.append("  %s" % errors["message"])
        lines += ["    given %s: about %.0f [%.0f, %.0f]" % (c["label"], c["estimate"], c["low"], c["high"])
                  for c in errors["per_label"][:10]]
        lines += ["    given %s, likely %s: about %.0f [%.0f, %.0f]" % (p["label"], p["likely"], p["estimate"], p["low"],
                                                                          p["high"])
                  for p in errors["pairs"][:10]]
    if found:
        lines.append("  memorisation (%s): %s" % (found["verdict"], found["message"]))
    return lines
