"""What the subcommands share: the workspace, the embeddings chosen by --run/--embedding/
--step, loading one with its warnings, a progress bar, the exit statuses, and output that
cannot drive the terminal."""

import contextlib
import os
import sys

from tb_embedanalysis import errors, queries
from tb_embedanalysis.budget import DEFAULT_WORK_MEMORY_MB
from tb_embedanalysis.quoting import printable
from tb_embedanalysis.tags import default_cache_dir

EXIT_BUG = 1  # a bug of ours: one line with an error id, the traceback saved
EXIT_BAD_INPUT = 2  # what the user can fix (arguments, logs), as argparse's usage errors
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for Ctrl+C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head`


def common_arguments(p) -> None:
    """The arguments of every subcommand that analyses one logdir's embeddings."""
    p.add_argument("logdir", help="a TensorBoard logdir holding projector logs")
    p.add_argument("--run", help="run (directory relative to LOGDIR, '.' for LOGDIR itself)")
    p.add_argument("--embedding", help="embedding name (as the tab lists it)")
    p.add_argument("--step", type=int, help="training step (default: the latest)")
    p.add_argument("--k", type=int, help="neighbours per point (default 10, fewer for tiny embeddings)")
    p.add_argument("--metric", choices=queries.METRIC_CHOICES, default=queries.AUTO_METRIC,
                   help="distance (default auto: the one under which the labels are most predictable)")
    p.add_argument("--cache-dir", help="where to cache kNN graphs and compiled kernels (default: no disk cache, "
                                       "compiled kernels in the tab's default cache directory, %s; "
                                       "'none': nothing on disk)" % default_cache_dir())
    p.add_argument("--work-memory-mb", type=float, default=DEFAULT_WORK_MEMORY_MB, metavar="MB",
                   help="working memory one computation may take; a larger one is refused before it starts, "
                        "saying what fits (default %(default)s, as the tab's --embedanalysis_work_memory_mb)")


def check_arguments(args) -> None:
    """The logdir exists and --work-memory-mb is positive."""
    if not os.path.isdir(args.logdir):
        raise errors.NotFound("logdir %s does not exist" % args.logdir)
    if not args.work_memory_mb > 0:
        raise errors.InvalidArgument("--work-memory-mb must be positive, got %s" % args.work_memory_mb)


def open_workspace(args, *, warm_kernel: bool = False) -> queries.Workspace:
    """The logdir's workspace. Without --cache-dir nothing is cached on disk but numba's
    compiled kernels, in the tab's own cache directory (numba_cache.py: a few MB, shared with
    TensorBoard's): before, every `analyze` compiled the exact search's kernel (~1 s of a
    1,000,000-row --quick estimate). warm_kernel (the analyses): that kernel compiled or
    loaded in a background thread while the embedding loads (analysis/kernel_warmup.py)."""
    check_arguments(args)
    cache_dir = args.cache_dir or None
    if cache_dir is not None and cache_dir.lower() == "none":  # as the tab's flag: memory only
        return queries.Workspace.open(args.logdir, work_memory_mb=args.work_memory_mb)
    return queries.Workspace.open(args.logdir, cache_dir=cache_dir, work_memory_mb=args.work_memory_mb,
                                  kernel_cache_dir=default_cache_dir(), warm_kernel=warm_kernel)


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

    # The bar redraws itself with \r: it writes to the real stderr, its words made printable here.
    stream = getattr(sys.stderr, "unfiltered", sys.stderr)
    bar = tqdm(total=100, desc=printable(description), file=stream, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

    def update(fraction, message=None):
        bar.n = round(100 * min(max(fraction, 0.0), 1.0))
        if message:
            bar.set_description_str(printable(message), refresh=False)
        bar.refresh()

    return bar, update


class _Printable:
    """A text stream writing `quoting.printable(text)` to the stream it wraps: names, labels
    and messages come from logs anyone may write, and a tensor_name holding ESC ] 0 ; … BEL
    must not retitle (nor ESC [ 2 J clear) the terminal of whoever runs the CLI."""

    def __init__(self, stream):
        self.unfiltered = stream

    def write(self, text: str) -> int:
        self.unfiltered.write(printable(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):  # flush, fileno, isatty, encoding...: the wrapped stream's
        return getattr(self.unfiltered, name)


@contextlib.contextmanager
def printable_output():
    """sys.stdout and sys.stderr escape terminal control characters while the CLI runs
    (JSON stays valid JSON of the same values: the escape is JSON's own \\uXXXX)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Printable(sys.stdout), _Printable(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
