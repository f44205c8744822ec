"""`tb-embedanalysis precompute LOGDIR`: what the tab computes when first opened (exact kNN
graphs, statistics, hard examples, outliers, near-duplicates, the PCA map, the history over
every step), computed ahead, in this process or on a Dask cluster, into the cache the tab
reads (tb_embedanalysis/precompute/). Dask is imported only with --engine dask."""

import sys

from tb_embedanalysis import cli_common, errors, queries
from tb_embedanalysis.budget import DEFAULT_WORK_MEMORY_MB
from tb_embedanalysis.logs.errors import LogError
from tb_embedanalysis.tags import default_cache_dir

ENGINES = ("local", "dask")


def add_precompute_parser(sub) -> None:
    p = sub.add_parser("precompute", help="compute what the tab computes on first open, ahead, into its cache "
                                          "(in this process, or on a Dask cluster)")
    p.add_argument("logdir", help="a TensorBoard logdir holding projector logs")
    p.add_argument("--run", help="run (default: every run)")
    p.add_argument("--embedding", help="embedding name (default: every embedding)")
    p.add_argument("--steps", type=_steps, help="comma-separated steps (default: every step, and then the history)")
    p.add_argument("--k", type=int, nargs="+", default=[queries.DEFAULT_K], metavar="K",
                   help="neighbours per point the tab will ask for (default 10)")
    p.add_argument("--metric", choices=queries.METRIC_CHOICES, default=queries.AUTO_METRIC,
                   help="distance (default auto: chosen from the labels, as the tab does)")
    p.add_argument("--label-column", help="metadata column of labels (default: the guessed one, as the tab)")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: in this process; dask: kNN graphs on a Dask cluster (pip install "
                        "'tb-embedanalysis[dask]')")
    p.add_argument("--address", help="the Dask scheduler (tcp://host:8786); default: a local cluster of --workers")
    p.add_argument("--workers", type=int, default=2, help="worker processes of the local Dask cluster (default 2)")
    p.add_argument("--cache-dir", help="the tab's cache: a path (default %s, the tab's default) or an fsspec "
                                       "URL (file://, s3://, ...)" % default_cache_dir())
    p.add_argument("--disk-cache-mb", type=float, help="the cache's bound, as the tab's "
                                                       "--embedanalysis_disk_cache_mb (default 4096)")
    p.add_argument("--work-memory-mb", type=float, default=DEFAULT_WORK_MEMORY_MB, metavar="MB",
                   help="working memory one computation may take (default %(default)s)")
    p.set_defaults(func=cmd_precompute)


def _steps(text: str):
    try:
        return tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise errors.InvalidArgument("--steps takes comma-separated step numbers, got %r" % text[:50]) from None


def cmd_precompute(args) -> int:
    from tb_embedanalysis.precompute import passes
    from tb_embedanalysis.precompute.target import CacheTarget

    if args.engine != "dask" and args.address:
        raise errors.InvalidArgument("--address is the Dask scheduler's: use it with --engine dask")
    if not args.workers >= 1:
        raise errors.InvalidArgument("--workers must be at least 1, got %d" % args.workers)
    if args.disk_cache_mb is not None and not args.disk_cache_mb > 0:
        raise errors.InvalidArgument("--disk-cache-mb must be positive, got %s" % args.disk_cache_mb)
    options = passes.Options(ks=tuple(args.k), metric=args.metric, label_column=args.label_column,
                             steps=args.steps)
    args.step = None  # cli_common.matching_series reads it
    with CacheTarget(args.cache_dir or default_cache_dir()) as target:
        workspace = _workspace(args, target.local_dir)
        if not workspace.engine.disk.enabled:
            raise errors.Unanalysable("the cache directory %s cannot be used (see the warning above)"
                                      % target.where)
        candidates = cli_common.matching_series(workspace, args)
        runner = None
        if args.engine == "dask":
            from tb_embedanalysis.precompute.dask_runner import DaskRunner

            runner = DaskRunner(address=args.address, workers=args.workers)
        try:
            failed = _run(workspace, candidates, options, runner, args)
        finally:
            if runner is not None:
                runner.close()
        uploaded = target.finish()
        if uploaded:
            print("uploaded %d cache entries to %s" % (uploaded, target.where))
    return cli_common.EXIT_BAD_INPUT if failed else 0


def _workspace(args, cache_dir: str) -> queries.Workspace:
    """cli_common.open_workspace's checks, with the disk cache's bound (--disk-cache-mb)."""
    cli_common.check_arguments(args)  # the logdir and the budget
    return queries.Workspace.open(args.logdir, cache_dir=cache_dir, work_memory_mb=args.work_memory_mb,
                                  disk_cache_mb=args.disk_cache_mb)


def _run(workspace, candidates, options, runner, args) -> int:
    from tb_embedanalysis.precompute import passes

    workers = runner.workers if runner is not None else 1
    bars: list = []

    def on_step(description):  # one bar at a time: the last step's goes when the next starts
        for bar in bars:
            bar.close()
        bars.clear()
        bar, update = cli_common.progress_bar(description)
        bars.append(bar)
        return update

    failed = 0
    for series in candidates:
        try:
            done = passes.run_series(workspace, series, options, runner=runner, on_step=on_step,
                                     engine_name=args.engine, workers=workers)
        except (errors.QueryError, LogError) as error:
            if len(candidates) == 1:
                raise
            failed += 1
            print("tb-embedanalysis: error: %s/%s: %s" % (series.run, series.name, error), file=sys.stderr)
            continue
        finally:
            for bar in bars:
                bar.close()
            bars.clear()
        for step in done:
            print(_line(step))
            for name, why in step.refused:
                print("  not precomputed: %s: %s" % (name, why))
    if runner is not None:
        shipped = runner.shipped
        print("dask: %d tasks on %d workers; %.1f MB of vectors shipped to the workers, %.1f MB of graphs back"
              % (shipped.tasks, workers, shipped.plan_bytes / 1e6, shipped.result_bytes / 1e6))
    return failed


def _line(step) -> str:
    graphs = ", ".join("k=%d %s" % g for g in step.graphs)
    return "%s/%s step %s (%s): graphs %s; %d answers cached, in %.1f s" % (
        step.run, step.name, step.step, step.metric, graphs, len(step.answered), step.seconds)
