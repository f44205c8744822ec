"""`tb-embedanalysis`: the tab's analysis from the command line (CI, notebooks, scripts).

`analyze --format json` prints exactly the JSON of the `/clusters` and `/hard_examples`
routes, because both call the same functions in `queries`.

Without --run/--embedding, `analyze` analyses every embedding of the logdir (each at its
latest step) and `neighbors` answers from the first one, saying which and how to pick
another. Warnings about an embedding (a refused metadata file, NaN rows) go to stderr.
"""

import argparse
import os
import sys
from typing import List, Optional

from tb_embedanalysis import errors
from tb_embedanalysis.cli_analyze import add_analyze_parser
from tb_embedanalysis.cli_common import EXIT_BAD_INPUT, common_arguments
from tb_embedanalysis.cli_neighbors import add_neighbors_parser
from tb_embedanalysis.cli_quality import add_quality_parser
from tb_embedanalysis.cli_tags import add_tags_parser
from tb_embedanalysis.logs.errors import LogError


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
