"""`tb-embedanalysis quality`: outliers and near-duplicates (leaks across splits) from the command line.

`--format json` prints what GET /outliers and /duplicates answer (the same queries
functions), as {"outliers": …, "duplicates": …}; several embeddings give a list of those
with run, embedding and step in front.
"""

import json
import sys

from tb_embedanalysis import cli_common, errors, queries
from tb_embedanalysis.jsonable import to_jsonable
from tb_embedanalysis.logs.errors import LogError


def add_quality_parser(sub, common) -> None:
    quality = sub.add_parser("quality", help="outliers and near-duplicates (with leaks across splits)")
    common(quality)
    quality.add_argument("--outliers", action="store_true", help="rank points by mean distance to their k nearest")
    quality.add_argument("--duplicates", action="store_true", help="groups of points within --threshold")
    quality.add_argument("--threshold", type=float,
                         help="largest distance of a near-duplicate pair (default: 0.13 x median nearest distance)")
    quality.add_argument("--split-column", help="metadata column naming each point's split (train/test/…): "
                         "groups across splits are leaks")
    quality.add_argument("--limit", type=int, default=20, help="outliers / groups to list (default 20)")
    quality.add_argument("--format", choices=("text", "json"), default="text")
    quality.set_defaults(func=cmd_quality)


def cmd_quality(args) -> int:
    which = [name for name in ("outliers", "duplicates") if getattr(args, name)] or ["outliers", "duplicates"]
    workspace = cli_common.open_workspace(args, warm_kernel=True)
    candidates = cli_common.matching_series(workspace, args)
    results, failed = [], 0
    for series in candidates:
        try:
            embedding = cli_common.load(workspace, series, args)
            results.append((embedding, _answer(workspace.engine, embedding, which, args, cli_common.progress_bar)))
        except (errors.QueryError, LogError) as error:
            if len(candidates) == 1:
                raise
            failed += 1
            print("tb-embedanalysis: error: %s/%s: %s" % (series.run, series.name, error), file=sys.stderr)
    if args.format == "json":
        payload = results[0][1] if len(candidates) == 1 else [
            dict({"run": e.ref.run, "embedding": e.ref.name, "step": e.ref.step}, **answer) for e, answer in results]
        json.dump(to_jsonable(payload), sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print("\n\n".join(_text(embedding, answer) for embedding, answer in results))
    return cli_common.EXIT_BAD_INPUT if failed else 0


def _answer(engine, embedding, which, args, progress_bar) -> dict:
    answer = {}
    bar, update = progress_bar("quality of %s/%s" % (embedding.ref.run, embedding.ref.name))
    try:
        if "outliers" in which:
            answer["outliers"] = queries.outliers(engine, embedding, k=args.k, metric=args.metric, limit=args.limit,
                                                  wait=True, on_progress=update)
        if "duplicates" in which:
            answer["duplicates"] = queries.duplicates(engine, embedding, threshold=args.threshold,
                                                      split_column=args.split_column, metric=args.metric,
                                                      limit=args.limit, wait=True, on_progress=update)
    finally:
        bar.close()
    return answer


def _row(metadata: dict) -> str:
    return " ".join("%s=%s" % item for item in metadata.items())


def _text(embedding, answer) -> str:
    ref = embedding.ref
    lines = ["%s / %s (step %s): %d points" % (ref.run, ref.name, ref.step, embedding.shape[0])]
    outliers = answer.get("outliers")
    if outliers:
        lines += ["", "outliers (mean distance to the %d nearest, %s; %d ranked):"
                  % (outliers["k"], outliers["metric"], outliers["total"])]
        lines += ["  #%-7d score %.4f  %s" % (e["index"], e["score"], _row(e["metadata"])) for e in outliers["examples"]]
    dup = answer.get("duplicates")
    if dup:
        lines += ["", "near-duplicates within %.6g (%s threshold, %s): %d pairs in %d groups%s"
                  % (dup["threshold"], dup["threshold_source"], dup["metric"], dup["n_pairs"], dup["n_groups"],
                     "" if dup["split_column"] is None else ", %d across splits of %r (leaks)"
                     % (dup["leaks"], dup["split_column"]))]
        for group in dup["groups"]:
            lines.append("  %d points, max distance %.4g%s: %s%s" % (
                group["size"], group["max_distance"],
                "  LEAK across %s" % "/".join(group["splits"]) if group["crosses_splits"] else "",
                ", ".join("#%d" % m["index"] for m in group["members"][:10]),
                ", …" if group["size"] > 10 else ""))
    return "\n".join(lines)
