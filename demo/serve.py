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
import socket
import sys
import threading
from typing import Optional, Sequence

from tb_embedanalysis.demo import _setup


def tab_url(server_url: str) -> str:
    """TensorBoard's root URL (``http://host:port/``) → the tab's (``…/#embedanalysis``)."""
    return server_url.rstrip("/") + "/#embedanalysis"


def port_taken(port: int) -> bool:
    """True if TensorBoard could not bind ``localhost:port`` (it binds the same way, with
    SO_REUSEADDR). Checked before launching: TensorBoard starts its log reloader thread
    before it binds, that thread cannot be stopped, and a process that exits while it reads
    an events file through TensorFlow aborts ("terminate called ...") instead of exiting 2."""
    try:
        addresses = socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
    except socket.gaierror:  # no "localhost" here: let TensorBoard say what is wrong
        return False
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError:
                return True
    return False


def main(argv: Optional[Sequence[str]] = None, *, stop: Optional[threading.Event] = None) -> int:
    """Serve until Ctrl+C (or until `stop` is set: tests). Exit 2 if the port is taken."""
    parser = argparse.ArgumentParser(prog="python -m tb_embedanalysis.demo.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", required=True)
    parser.add_argument("--port", type=int, default=6006)
    args = parser.parse_args(argv)
    if port_taken(args.port):
        return _port_error("port %d is in use" % args.port)
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
    except program.TensorBoardServerException as error:  # taken since port_taken() looked
        return _port_error(error.msg)
    print(f"\nEmbedding Analysis tab (stop with Ctrl+C):\n{tab_url(url)}", flush=True)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    return 0


def _port_error(message: str) -> int:
    print(f"tb-embedanalysis demo: error: {message} (choose another with --port, or PORT=... make demo)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
