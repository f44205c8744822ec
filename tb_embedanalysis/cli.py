"""`tb-embedanalysis`: the tab's analysis from the command line (CI, notebooks, scripts).

`analyze --format json` prints exactly the JSON of the `/clusters` and `/hard_examples`
routes, because both call the same functions in `queries`.

Without --run/--embedding, `analyze` analyses every embedding of the logdir (each at its
latest step) and `neighbors` answers from the first one, saying which and how to pick
another. Warnings about an embedding (a refused metadata file, NaN rows) go to stderr.
"""

import argparse
import csv
import json
import os
import sys
from typing import List, Optional

from tb_embedanalysis import errors, queries
from tb_embedanalysis.analysis.neighbors import METRICS
from tb_embedanalysis.cli_quality import add_quality_parser
from tb_embedanalysis.cli_tags import add_tags_parser
from tb_embedanalysis.jsonable import to_jsonable
from tb_embedanalysis.logs.errors import LogError

EXIT_BAD_INPUT = 2


def _workspace(args) -> queries.Workspace:
    from tb_embedanalysis.analysis.engine import AnalysisEngine
    from tb_embedanalysis.catalog import Catalog
    from tb_embedanalysis.logs import EmbeddingStore

    if not os.path.isdir(args.logdir):
        raise errors.NotFound("logdir %s does not exist" % args.logdir)
    return queries.Workspace(Catalog(args.logdir), EmbeddingStore(), AnalysisEngine(cache_dir=args.cache_dir or None))


def _candidates(workspace: queries.Workspace, args) -> list:
    """The series matching --run/--embedding (all of them when neither is given), in the
    catalog's order; raises NotFound saying what the logdir holds, config problems included."""
    run, name = args.run, args.embedding
    runs = workspace.catalog.runs()
    candidates = [series for info in runs for series in info.series
                  if (run is None or series.run == run) and (name is None or series.name == name)]
    if not candidates:
        known = ["%s/%s" % (s.run, s.name) for info in runs for s in info.series]
        problems = ["%s: %s" % (p.config_path, p.message) for info in runs for p in info.problems]
        found = ", ".join(known) or ("no usable embedding" if problems else "no projector config")
        message = "no embedding matches run=%r embedding=%r in %s; found: %s" % (run, name, args.logdir, found)
        if problems:
            message += "\nconfig problems:\n" + "\n".join("  " + problem for problem in problems)
        raise errors.NotFound(message)
    if args.step is not None and len(candidates) > 1:
        # A step belongs to one embedding's series: keep those that have it.
        candidates = [s for s in candidates if args.step in s.steps] or candidates
    return candidates


def _choice(series) -> str:
    return "--run %s --embedding %s" % (_quoted(series.run), _quoted(series.name))


def _quoted(value: str) -> str:
    return value if value and all(c.isalnum() or c in "._/-:" for c in value) else repr(value)


def _load(workspace: queries.Workspace, series, args):
    """Load one series at --step (latest if absent); its warnings and a clamped default k
    go to stderr, so that they are seen without spoiling JSON/CSV on stdout."""
    embedding = workspace.load(series.run, series.name, args.step)
    for warning in embedding.warnings:
        print("tb-embedanalysis: warning: %s/%s: %s" % (series.run, series.name, warning), file=sys.stderr)
    if args.k is None:
        valid = queries.valid_count(embedding)
        if 2 <= valid <= queries.DEFAULT_K:
            print("tb-embedanalysis: note: %s/%s has %d usable points: k=%d instead of the default %d"
                  % (series.run, series.name, valid, valid - 1, queries.DEFAULT_K), file=sys.stderr)
    return embedding


def _progress_bar(description: str):
    """A tqdm bar on stderr fed by the engine's progress fractions."""
    from tqdm import tqdm

    bar = tqdm(total=100, desc=description, file=sys.stderr, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

    def update(fraction, message=None):
        bar.n = round(100 * min(max(fraction, 0.0), 1.0))
        if message:
            bar.set_description_str(message, refresh=False)
        bar.refresh()

    return bar, update


def cmd_analyze(args) -> int:
    """Analyse the embedding named, or every one in the logdir.

    One embedding: the routes' JSON object, the clusters CSV, or the text report (as ever).
    Several: text reports one after the other; JSON a list of {run, embedding, step,
    clusters, hard_examples}; CSV one table with run and embedding columns in front. One
    that cannot be analysed (no labels, ...) is reported on stderr and the others still
    are; the exit status is then 2.
    """
    workspace = _workspace(args)
    candidates = _candidates(workspace, args)
    if args.history:
        return _analyze_history(workspace, candidates, args)
    several = len(candidates) > 1
    if several:
        print("tb-embedanalysis: analysing %d embeddings (choose one with %s)"
              % (len(candidates), _choice(candidates[0])), file=sys.stderr)
    results, failed = [], 0
    for series in candidates:
        try:
            embedding = _load(workspace, series, args)
            results.append((embedding,) + _analyze_one(workspace, embedding, args))
        except (errors.QueryError, LogError) as error:
            if not several:
                raise
            failed += 1
            print("tb-embedanalysis: error: %s/%s: %s" % (series.run, series.name, error), file=sys.stderr)
    if args.format == "json":
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
        print("\n\n".join(_format_text(*result) for result in results))
    return EXIT_BAD_INPUT if failed else 0


def _analyze_one(workspace, embedding, args):
    engine = workspace.engine
    bar, update = _progress_bar("analysing %s/%s" % (embedding.ref.run, embedding.ref.name))
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


def _fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.*f" % (digits, value)
    return str(value)


def _format_text(embedding, clusters, hard) -> str:
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
    for example in hard["examples"]:
        votes = ", ".join("%s:%d" % item for item in sorted(example["neighbor_labels"].items(), key=lambda kv: -kv[1]))
        lines.append("  #%-7d label %-8s neighbours say %-8s score %.3f  [%s]" % (
            example["index"], example["label"], example["predicted_label"], example["score"], votes))
    return "\n".join(lines)


def cmd_neighbors(args) -> int:
    workspace = _workspace(args)
    candidates = _candidates(workspace, args)
    if len(candidates) > 1:
        others = "; ".join(_choice(series) for series in candidates[1:])
        print("tb-embedanalysis: %d embeddings found; answering from %s/%s. Pick another with %s"
              % (len(candidates), candidates[0].run, candidates[0].name, others), file=sys.stderr)
    embedding = _load(workspace, candidates[0], args)
    result = queries.neighbors(workspace.engine, embedding, index=args.index, query=args.query,
                               column=args.column, k=args.k, metric=args.metric, exact=True if args.exact else None)
    if args.format == "json":
        json.dump(to_jsonable(result), sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    query = result["query"]
    print("nearest to #%d %s (%s%s):" % (query["index"], _describe_row(query["metadata"]), result["metric"],
                                         ", exact" if result["exact"] else ", approximate"))
    for rank, neighbor in enumerate(result["neighbors"], 1):
        print("%3d. %-10.4f #%-7d %s" % (rank, neighbor["distance"], neighbor["index"], _describe_row(neighbor["metadata"])))
    return 0


def _describe_row(metadata: dict) -> str:
    return " ".join("%s=%s" % item for item in metadata.items()) if len(metadata) > 1 else "".join(metadata.values())


def cmd_demo(args) -> int:
    from tb_embedanalysis.demo import run_demos

    logdir = os.path.abspath(args.logdir)
    run_demos(logdir, mnist_dir=args.mnist_dir, imdb=args.imdb)
    if args.no_serve:
        return 0
    print("Starting TensorBoard ...", flush=True)
    # A fresh process (no demo TensorFlow left) that prints the tab's URL as the last line.
    argv = [sys.executable, "-m", "tb_embedanalysis.demo.serve", "--logdir", logdir, "--port", str(args.port)]
    os.execv(sys.executable, argv)
    return 0  # not reached


def _analyze_history(workspace, candidates, args) -> int:
    """`analyze --history`: /history's JSON ({"history": ...}, a list for several embeddings),
    a per-point CSV, or a text summary (steps, what was left out, the most suspicious points)."""
    results = []
    for series in candidates:
        bar, update = _progress_bar("history of %s/%s" % (series.run, series.name))
        try:
            results.append(queries.history(workspace, series.run, series.name, label_column=args.label_column,
                                           k=args.k, metric=args.metric, step=args.step, wait=True,
                                           on_progress=update))
        except (errors.QueryError, LogError) as error:
            if len(candidates) == 1:
                raise
            print("tb-embedanalysis: error: %s/%s: %s" % (series.run, series.name, error), file=sys.stderr)
        finally:
            bar.close()
    if args.format == "json":
        payload = results if len(candidates) > 1 else {"history": results[0]}
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
        print("\n\n".join(_history_text(result, args.limit) for result in results))
    return EXIT_BAD_INPUT if len(results) < len(candidates) else 0


def _history_text(result: dict, limit: int) -> str:
    points = result["points"]
    lines = ["%s / %s: history of %d points over steps %s (k=%d, %s, labels from %r)" % (
        result["run"], result["embedding"], result["n"], ", ".join(map(str, result["steps"])), result["k"],
        result["metric"], result["label_column"])]
    lines += ["  left out step %s: %s" % (entry["step"], entry["reason"]) for entry in result["left_out"]]
    lines += ["  step %-8s kNN accuracy %.3f  mean margin %+.3f" % (s["step"], s["knn_accuracy"], s["mean_margin"])
              for s in result["per_step"]]
    lines += ["", "most likely label errors (history score, higher = more suspicious):"]
    order = sorted(range(result["n"]), key=lambda i: (-points["score"][i], points["index"][i]))[:limit]
    for i in order:
        learned = points["learned_at"][i]
        learned = "never" if points["never_learned"][i] else ("not yet" if learned is None else learned)
        lines.append("  #%-7d label %-8s score %.3f  mean margin %+.3f  variability %.3f  learned at %s  "
                     "forgotten %d×" % (points["index"][i], points["label"][i], points["score"][i],
                                        points["mean_margin"][i], points["variability"][i],
                                        learned,
                                        points["forgetting"][i]))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tb-embedanalysis", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("logdir", help="a TensorBoard logdir holding projector logs")
        p.add_argument("--run", help="run (directory relative to LOGDIR, '.' for LOGDIR itself)")
        p.add_argument("--embedding", help="embedding name (as the tab lists it)")
        p.add_argument("--step", type=int, help="training step (default: the latest)")
        p.add_argument("--k", type=int, help="neighbours per point (default 10, fewer for tiny embeddings)")
        p.add_argument("--metric", choices=(queries.AUTO_METRIC,) + tuple(METRICS), default=queries.AUTO_METRIC,
                       help="distance (default auto: the one under which the labels are most predictable)")
        p.add_argument("--cache-dir", help="where to cache kNN graphs (default: no disk cache)")

    analyze = sub.add_parser("analyze", help="per-label cluster statistics and hard examples")
    common(analyze)
    analyze.add_argument("--label-column", help="metadata column with the labels (default: guessed)")
    analyze.add_argument("--method", help="hard-example score (default: the best measured); 'history' ranks "
                         "by the training-history score over every step up to --step")
    analyze.add_argument("--history", action="store_true",
                         help="per-point training history over every step (up to --step) instead")
    analyze.add_argument("--limit", type=int, default=20, help="hard examples to list (default 20)")
    analyze.add_argument("--format", choices=("text", "json", "csv"), default="text")
    analyze.set_defaults(func=cmd_analyze)

    neighbors = sub.add_parser("neighbors", help="nearest neighbours of a point or a word")
    common(neighbors)
    which = neighbors.add_mutually_exclusive_group(required=True)
    which.add_argument("--query", help="a metadata value, e.g. a word")
    which.add_argument("--index", type=int, help="a row number")
    neighbors.add_argument("--column", help="metadata column to look --query up in")
    neighbors.add_argument("--exact", action="store_true", help="always search exactly")
    neighbors.add_argument("--format", choices=("text", "json"), default="text")
    neighbors.set_defaults(func=cmd_neighbors)

    demo = sub.add_parser("demo", help="write the demo logs and start TensorBoard with the tab")
    demo.add_argument("--logdir", default="demo_logs")
    demo.add_argument("--port", type=int, default=6006)
    demo.add_argument("--no-serve", action="store_true", help="only write the logs")
    demo.add_argument("--mnist-dir", help="folder with the four MNIST IDX files (default: scikit-learn's digits)")
    demo.add_argument("--imdb", help="aclImdb/ folder, or 'tfds' (default: look for aclImdb, else a synthetic corpus)")
    demo.set_defaults(func=cmd_demo)
    add_tags_parser(sub)  # cli_tags.py
    add_quality_parser(sub, common)  # cli_quality.py
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (errors.QueryError, LogError) as error:
        print("tb-embedanalysis: error: %s" % error, file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
