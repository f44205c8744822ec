"""Serve a logdir with TensorBoard and print the Embedding Analysis tab's URL as the last line.

`tb-embedanalysis demo` execs this module (a fresh process: the demos' TensorFlow session
and memory are gone) instead of ``tensorboard.main``, whose banner and TensorFlow start-up
lines came after our URL and buried it. TensorBoard's public Python API,
``program.TensorBoard().launch()``, starts the server on a thread without a banner; the
URL is printed once the port is listening, then the process waits for Ctrl+C.

    python -m tb_embedanalysis.demo.serve --logdir demo_logs --port 6006
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Optional, Sequence

from tb_embedanalysis.demo import _setup


def tab_url(server_url: str) -> str:
    """TensorBoard's root URL (``http://host:port/``) → the tab's (``…/#embedanalysis``)."""
    return server_url.rstrip("/") + "/#embedanalysis"


def main(argv: Optional[Sequence[str]] = None, *, stop: Optional[threading.Event] = None) -> int:
    """Serve until Ctrl+C (or until `stop` is set: tests). Exit 2 if the port is taken."""
    parser = argparse.ArgumentParser(prog="python -m tb_embedanalysis.demo.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", required=True)
    parser.add_argument("--port", type=int, default=6006)
    args = parser.parse_args(argv)
    # TensorFlow's C++ start-up notices (oneDNN, CUDA stubs, CPU features) are INFO/WARNING:
    # level 2 keeps errors. Set before TensorBoard imports TensorFlow.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _setup.start_up_notices_held():  # the notices absl writes regardless of that level
        try:
            import tensorflow  # noqa: F401  (TensorBoard imports it when installed)
        except ImportError:
            pass
        from tensorboard import program

    board = program.TensorBoard()
    # load_fast=false: TensorBoard's Python loader, which is plenty for the demo's few runs,
    # instead of the Rust data server, which prints an "experimental" notice at start.
    board.configure(logdir=args.logdir, port=args.port, load_fast="false")
    try:
        url = board.launch()
    except program.TensorBoardServerException as error:
        print(f"tb-embedanalysis demo: error: {error.msg} (choose another with --port, or PORT=... make demo)",
              file=sys.stderr)
        return 2
    print(f"\nEmbedding Analysis tab (stop with Ctrl+C):\n{tab_url(url)}", flush=True)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
