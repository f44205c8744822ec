"""`tb-embedanalysis analyze`: per-label cluster statistics and hard examples, or the
training history (--history), as text, the routes' JSON, or CSV.

Without --run/--embedding it analyses every embedding of the logdir (each at its latest
step): one without labels (`add_embedding(mat)` writes no metadata) is skipped with a note,
one that cannot be analysed for another reason is reported on stderr and the others still are.
"""

import csv
import json
import sys
from typing import List, Union

from tb_embedanalysis import cli_analyze_text, cli_common, errors, queries
from tb_embedanalysis.jsonable import to_jsonable
from tb_embedanalysis.logs.errors import LogError


def add_analyze_parser(sub, common) -> None:
    analyze = sub.add_parser("analyze", help="per-label cluster statistics and hard examples")
    common(analyze)
    analyze.add_argument("--label-column", help="metadata column with the labels (default: guessed)")
    analyze.add_argument("--method", help="hard-example score (default: the best measured); 'history' ranks "
                         "by the training-history score over every step up to --step")
    analyze.add_argument("--history", action="store_true",
                         help="per-point training history over every step (up to --step) instead")
    analyze.add_argument("--quick", action="store_true",
                         help="estimate the kNN figures from the exact neighbours of a random sample of rows "
                         "(seconds at any size; each figure with its 95%% Wilson interval) instead of the exact pass")
    analyze.add_argument("--sample", type=int, help="with --quick: rows to sample (default: as many as ~0.8 s allows)")
    analyze.add_argument("--limit", type=int, default=20, help="hard examples to list (default 20)")
    analyze.add_argument("--format", choices=("text", "json", "csv"), default="text")
    analyze.set_defaults(func=cmd_analyze)


def cmd_analyze(args) -> int:
    """Analyse the embedding named, or every one in the logdir.

    One embedding: the routes' JSON object, the clusters CSV, or the text report (as ever).
    Several: text reports one after the other; JSON a list of {run, embedding, step,
    clusters, hard_examples}; CSV one table with run and embedding columns in front. One
    without labels is skipped with a note (exit 0, unless none is left); one that cannot be
    analysed for another reason is reported on stderr and the others still are; the exit
    status is then 2.
    """
    workspace = cli_common.open_workspace(args, warm_kernel=True)
    matched = cli_common.matching_series(workspace, args)
    candidates = _labelled(workspace, matched, args)
    several = len(matched) > 1  # the output's shape follows what was asked, not what was left
    if args.history:
        return _analyze_history(workspace, candidates, args, several=several)
    if args.quick:
        return _analyze_quick(workspace, candidates, args)
    if args.sample is not None:
        raise errors.InvalidArgument("--sample goes with --quick")
    if several:
        print("tb-embedanalysis: analysing %d embeddings (choose one with %s)"
              % (len(candidates), cli_common.choice(candidates[0])), file=sys.stderr)
    results, failed = [], 0
    for series in candidates:
        try:
            embedding = cli_common.load(workspace, series, args)
            results.append((embedding,) + _analyze_one(workspace, embedding, args))
        except (errors.QueryError, LogError) as error:
            if not several:
                raise
            failed += 1
            print("tb-embedanalysis: error: %s/%s: %s" % (series.run, series.name, error), file=sys.stderr)
    if args.format == "json":
        payload: Union[List[dict], dict]
        if several:
            payload = [{"run": e.ref.run, "embedding": e.ref.name, "step": e.ref.step, "clusters": c,
                        "hard_examples": h} for e, c, h in results]
        else:
            payload = {"clusters": results[0][1], "hard_examples": results[0][2]}
        json.dump(to_jsonable(payload), sys.stdout, ensure_ascii=False, indent=1)
        print()
    elif args.format == "csv":
        _write_csv(results, several)
    else:
        print("\n\n".join(cli_analyze_text.format_text(*result) for result in results))
    return cli_common.EXIT_BAD_INPUT if failed else 0


def _labelled(workspace, candidates: list, args) -> list:
    """The candidates to analyse: with several, those without labels are left out with a note
    on stderr (a logdir of `add_embedding(mat)` logs is normal, not an error). NotFound when
    that leaves none; one embedding named is analysed as asked (its error says what is missing)."""
    if len(candidates) < 2:
        return candidates
    kept, skipped = [], []
    for series in candidates:
        reason = _no_labels(workspace, series, args)
        if reason is None:
            kept.append(series)
        else:
            skipped.append("%s/%s" % (series.run, series.name))
            print("tb-embedanalysis: note: skipping %s/%s: %s" % (series.run, series.name, reason), file=sys.stderr)
    if not kept:
        raise errors.NotFound("none of the %d embeddings in %s has labels to analyse (%s); give --label-column, "
                              "or look at neighbours with `tb-embedanalysis neighbors`"
                              % (len(candidates), args.logdir, ", ".join(skipped)))
    return kept


def _no_labels(workspace, series, args):
    """Why `series` has no labels to analyse (at --step), or None when it has some or when
    loading it fails (then its analysis reports the error as before)."""
    if args.label_column:
        return None  # asked for a column by name: a series without it is an error, not a skip
    try:
        embedding = workspace.load(series.run, series.name, args.step)
    except (errors.QueryError, LogError):
        return None
    if embedding.metadata is None:
        if any(warning.startswith("metadata") for warning in embedding.warnings):
            return None  # a metadata file was refused: that is a problem to report, not a skip
        return "no metadata, so no labels"
    if embedding.label_column is None:
        return "no label column among %s (choose one with --label-column)" % ", ".join(embedding.metadata.columns)
    return None


def _analyze_one(workspace, embedding, args):
    engine = workspace.engine
    bar, update = cli_common.progress_bar("analysing %s/%s" % (embedding.ref.run, embedding.ref.name))
    try:
        clusters = queries.clusters(engine, embedding, label_column=args.label_column, k=args.k,
                                    metric=args.metric, wait=True, on_progress=update)
        # The route's function: one step's ranking, or every step's with --method history,
        # and the same `methods` list (so the JSON is the route's, byte for byte).
        hard = queries.ranked_examples(workspace, embedding.ref.run, embedding.ref.name, step=embedding.ref.step,
                                       method=args.method, label_column=args.label_column, k=args.k,
                                       metric=args.metric, limit=args.limit, wait=True, on_progress=update)
    finally:
        bar.close()
    return clusters, hard


def _write_csv(results, several: bool) -> None:
    writer = csv.writer(sys.stdout)
    header = None
    for embedding, clusters, _ in results:
        rows = clusters["labels"]
        front = [embedding.ref.run, embedding.ref.name] if several else []
        if header is None:
            header = (["run", "embedding"] if several else []) + (list(rows[0]) if rows else ["label"])
            writer.writerow(header)
        for row in rows:
            writer.writerow(front + list(row.values()))




def _analyze_quick(workspace, candidates, args) -> int:
    """`analyze --quick`: queries.quick_clusters per embedding, as JSON ({"estimate",
    "hard_examples"}, a list for several) or text with each figure's interval."""
    if args.format == "csv":
        raise errors.InvalidArgument("--quick prints text or JSON, not CSV")
    results = []
    for series in candidates:
        try:
            embedding = cli_common.load(workspace, series, args)
            bar, update = cli_common.progress_bar("estimating %s/%s" % (series.run, series.name))
            try:
                results.append((embedding, queries.quick_clusters(
                    workspace.engine, embedding, label_column=args.label_column, k=args.k, metric=args.metric,
                    sample=args.sample, limit=args.limit, on_progress=update)))
            finally:
                bar.close()
        except (errors.QueryError, LogError) as error:
            if len(candidates) == 1:
                raise
            print("tb-embedanalysis: error: %s/%s: %s" % (series.run, series.name, error), file=sys.stderr)
    if args.format == "json":
        payload = ([dict(run=e.ref.run, embedding=e.ref.name, step=e.ref.step, **r) for e, r in results]
                   if len(candidates) > 1 else results[0][1])
        json.dump(to_jsonable(payload), sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print("\n\n".join(cli_analyze_text.quick_text(embedding, result) for embedding, result in results))
    return cli_common.EXIT_BAD_INPUT if len(results) < len(candidates) else 0




def _analyze_history(workspace, candidates, args, *, several: bool) -> int:
    """`analyze --history`: /history's JSON ({"history": ...}, a list for several embeddings),
    a per-point CSV, or a text summary (steps, what was left out, the most suspicious points)."""
    results: List[dict] = []
    for series in candidates:
        bar, update = cli_common.progress_bar("history of %s/%s" % (series.run, series.name))
        try:
            result = queries.history(workspace, series.run, series.name, label_column=args.label_column,
                                     k=args.k, metric=args.metric, step=args.step, wait=True, on_progress=update)
            if not isinstance(result, dict):  # wait=True blocks until the answer is there, never Pending
                raise RuntimeError("the history answered 'pending' although asked to wait")
            results.append(result)
        except (errors.QueryError, LogError) as error:
            if not several:
                raise
            print("tb-embedanalysis: error: %s/%s: %s" % (series.run, series.name, error), file=sys.stderr)
        finally:
            bar.close()
    if args.format == "json":
        payload = results if several else {"history": results[0]}
        json.dump(to_jsonable(payload), sys.stdout, ensure_ascii=False, indent=1)
        print()
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        columns = ["index", "label", "mean_margin", "variability", "learned_at", "forgetting", "never_learned",
                   "score"]
        writer.writerow(["run", "embedding"] + columns)
        for result in results:
            points = to_jsonable(result["points"])
            for row in zip(*(points[c] for c in columns)):
                writer.writerow([result["run"], result["embedding"]] + list(row))
    else:
        print("\n\n".join(cli_analyze_text.history_text(result, args.limit) for result in results))
    return cli_common.EXIT_BAD_INPUT if len(results) < len(candidates) else 0
