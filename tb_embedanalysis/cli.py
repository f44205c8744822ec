"""`tb-embedanalysis`: the tab's analysis from the command line (CI, notebooks, scripts).

`analyze --format json` prints exactly the JSON of the `/clusters` and `/hard_examples`
routes, because both call the same functions in `queries`.

Without --run/--embedding, `analyze` analyses every embedding of the logdir (each at its
latest step) and `neighbors` answers from the first one, saying which and how to pick
another. Warnings about an embedding (a refused metadata file, NaN rows) go to stderr.

Exit statuses: 0 done; 2 what the user can fix (arguments, logs), in one line; 1 a bug of
ours, in one line with an error id, the traceback saved to a file (and printed too with
TB_EMBEDANALYSIS_DEBUG=1); 130 Ctrl+C; 141 the reader of stdout went away (`| head`).
Never a traceback by default, and nothing printed can drive the terminal.
"""

import argparse
import os
import sys
import tempfile
import traceback
from typing import List, Optional

from tb_embedanalysis import errors
from tb_embedanalysis.cli_analyze import add_analyze_parser
from tb_embedanalysis.cli_common import (
    EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_BUG, EXIT_INTERRUPTED, common_arguments, printable_output,
)
from tb_embedanalysis.cli_neighbors import add_neighbors_parser
from tb_embedanalysis.cli_precompute import add_precompute_parser
from tb_embedanalysis.cli_quality import add_quality_parser
from tb_embedanalysis.cli_tags import add_tags_parser
from tb_embedanalysis.logs.errors import LogError

DEBUG_ENV = "TB_EMBEDANALYSIS_DEBUG"


def cmd_demo(args) -> int:
    from tb_embedanalysis.demo import run_demos
    from tb_embedanalysis.demo.idx import IdxError

    logdir = os.path.abspath(args.logdir)
    if args.mnist_dir is not None and not os.path.isdir(args.mnist_dir):
        raise errors.InvalidArgument("--mnist-dir %s is not a directory" % args.mnist_dir)
    try:
        os.makedirs(logdir, exist_ok=True)
    except OSError as error:
        raise errors.InvalidArgument("--logdir %s cannot be created: %s" % (args.logdir, _os_words(error))) from None
    if not os.access(logdir, os.W_OK | os.X_OK):
        raise errors.InvalidArgument("--logdir %s is not writable" % args.logdir)
    try:
        run_demos(logdir, mnist_dir=args.mnist_dir, imdb=args.imdb)
    except IdxError as error:  # the MNIST files given are not what they should be
        raise errors.InvalidArgument("--mnist-dir: %s" % error) from None
    except OSError as error:  # the disk is full, a file given is missing or unreadable...
        raise errors.InvalidArgument("the demo could not be written: %s" % _os_words(error)) from None
    if args.no_serve:
        return 0
    print("Starting TensorBoard ...", flush=True)
    # A fresh process (no demo TensorFlow left) that prints the tab's URL as the last line.
    argv = [sys.executable, "-m", "tb_embedanalysis.demo.serve", "--logdir", logdir, "--port", str(args.port)]
    os.execv(sys.executable, argv)
    return 0  # not reached


def _os_words(error: OSError) -> str:
    """'No such file or directory: /proc/x' rather than "[Errno 2] ...: '/proc/x'"."""
    if error.strerror and error.filename:
        return "%s: %s" % (error.strerror, error.filename)
    return error.strerror or str(error)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tb-embedanalysis", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    add_analyze_parser(sub, common_arguments)  # cli_analyze.py
    add_neighbors_parser(sub, common_arguments)  # cli_neighbors.py

    demo = sub.add_parser("demo", help="write the demo logs and start TensorBoard with the tab")
    demo.add_argument("--logdir", default="demo_logs")
    demo.add_argument("--port", type=int, default=6006)
    demo.add_argument("--no-serve", action="store_true", help="only write the logs")
    demo.add_argument("--mnist-dir", help="folder with the four MNIST IDX files (default: scikit-learn's digits)")
    demo.add_argument("--imdb", help="aclImdb/ folder, or 'tfds' (default: look for aclImdb, else a synthetic corpus)")
    demo.set_defaults(func=cmd_demo)
    add_tags_parser(sub)  # cli_tags.py
    add_quality_parser(sub, common_arguments)  # cli_quality.py
    add_precompute_parser(sub)  # cli_precompute.py
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    with printable_output():
        try:
            args = build_parser().parse_args(argv)  # bad arguments: argparse's usage and exit 2
            status = args.func(args)
            sys.stdout.flush()  # a reader gone early fails here, inside this try
            return status
        except (errors.QueryError, LogError) as error:
            print("tb-embedanalysis: error: %s" % error, file=sys.stderr)
            return EXIT_BAD_INPUT
        except BrokenPipeError:
            _drop_stdout()
            return EXIT_BROKEN_PIPE
        except KeyboardInterrupt:
            print("tb-embedanalysis: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception:  # noqa: BLE001 - a bug: one line with its id, the traceback to a file
            return _report_bug()


def _report_bug() -> int:
    """Save the traceback being handled under a new error id, say so in one line."""
    error_id = errors.new_error_id()
    details = "tb-embedanalysis error id %s\ncommand: %r\n\n%s" % (error_id, sys.argv, traceback.format_exc())
    try:
        handle, path = tempfile.mkstemp(prefix="tb-embedanalysis-error-%s-" % error_id, suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(details)
        where = "the traceback is in %s" % path
    except OSError as error:
        where = "the traceback could not be saved (%s); run again with %s=1 to print it" % (error, DEBUG_ENV)
    if os.environ.get(DEBUG_ENV):
        sys.stderr.write(details)
    print("tb-embedanalysis: error: this failed because of %s, not a problem with your input or logs "
          "(error id %s); %s" % (errors.BUG, error_id, where), file=sys.stderr)
    return EXIT_BUG


def _drop_stdout() -> None:
    """After EPIPE: send what is still buffered for stdout to /dev/null, so that flushing it at
    exit does not fail again ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a descriptor (captured): nothing to drop
        pass


if __name__ == "__main__":
    sys.exit(main())
