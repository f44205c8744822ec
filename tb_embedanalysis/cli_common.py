"""What the analysing subcommands share: the workspace, the embeddings chosen by
--run/--embedding/--step, loading one with its warnings, a progress bar, the exit status."""

import os
import sys

from tb_embedanalysis import errors, queries

EXIT_BAD_INPUT = 2


def common_arguments(p) -> None:
    """The arguments of every subcommand that analyses one logdir's embeddings."""
    p.add_argument("logdir", help="a TensorBoard logdir holding projector logs")
    p.add_argument("--run", help="run (directory relative to LOGDIR, '.' for LOGDIR itself)")
    p.add_argument("--embedding", help="embedding name (as the tab lists it)")
    p.add_argument("--step", type=int, help="training step (default: the latest)")
    p.add_argument("--k", type=int, help="neighbours per point (default 10, fewer for tiny embeddings)")
    p.add_argument("--metric", choices=queries.METRIC_CHOICES, default=queries.AUTO_METRIC,
                   help="distance (default auto: the one under which the labels are most predictable)")
    p.add_argument("--cache-dir", help="where to cache kNN graphs (default: no disk cache)")


def open_workspace(args) -> queries.Workspace:
    if not os.path.isdir(args.logdir):
        raise errors.NotFound("logdir %s does not exist" % args.logdir)
    return queries.Workspace.open(args.logdir, cache_dir=args.cache_dir or None)


def matching_series(workspace: queries.Workspace, args) -> list:
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


def choice(series) -> str:
    return "--run %s --embedding %s" % (_quoted(series.run), _quoted(series.name))


def _quoted(value: str) -> str:
    return value if value and all(c.isalnum() or c in "._/-:" for c in value) else repr(value)


def load(workspace: queries.Workspace, series, args):
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


def progress_bar(description: str):
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
