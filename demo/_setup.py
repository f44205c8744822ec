"""What both demos share: a seeded, thread-limited TensorFlow and all-or-nothing run directories.

A demo run is written into a hidden staging directory next to its final place and renamed
into place only when every step has been written (the writer uses relative paths, so the
rename keeps the config valid). So "the run directory exists" means "the run is complete",
and an interrupted demo leaves no half-run for TensorBoard to show.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from typing import Callable, Iterator

Progress = Callable[[str], None]


def tensorflow(*, seed: int, threads: int):
    """TensorFlow, seeded and deterministic, with at most `threads` threads per op pool.

    Thread limits only take effect before TensorFlow's runtime starts (in a test session
    an earlier test may have started it); then the existing setting is kept.
    """
    # Level 3 hides oneDNN notices and a harmless "NodeDef mentions attribute" error
    # printed by every tf.data map in this TensorFlow; Python exceptions still surface.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with start_up_notices_held():
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(max(1, threads // 2))
        except RuntimeError:
            pass
        tf.keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow generators
        tf.config.experimental.enable_op_determinism()
    return tf


@contextlib.contextmanager
def start_up_notices_held() -> Iterator[None]:
    """Hold what is written to file descriptor 2 while TensorFlow starts; show it only if
    starting fails. TensorFlow 2.21 writes its start-up notices (oneDNN, CUDA stubs, CPU
    features; twice) through absl before TF_CPP_MIN_LOG_LEVEL applies, and in `make demo`
    they pushed the demo's own lines and URL out of view."""
    sys.stderr.flush()
    held = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(held.fileno(), 2)
    try:
        yield
    except BaseException:
        sys.stderr.flush()
        os.dup2(saved, 2)
        held.seek(0)
        sys.stderr.write(held.read().decode("utf-8", errors="replace"))
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        held.close()


def run_exists(logdir: str, run: str) -> bool:
    return os.path.isdir(os.path.join(logdir, run))


@contextlib.contextmanager
def staged_run(logdir: str, run: str, *, overwrite: bool = False) -> Iterator[str]:
    """Yield a fresh staging directory; on success it becomes ``logdir/run``.

    With ``overwrite`` an existing run of that name is replaced; otherwise it is an error
    to stage a run that exists (callers check `run_exists` first and skip).
    """
    final = os.path.join(logdir, run)
    if os.path.exists(final) and not overwrite:
        raise FileExistsError(f"{final} exists; pass overwrite=True (--overwrite) to replace it")
    staging = os.path.join(logdir, f".{run}.partial")
    shutil.rmtree(staging, ignore_errors=True)  # left over from an interrupted demo
    os.makedirs(staging)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if os.path.exists(final):
        shutil.rmtree(final)
    os.replace(staging, final)


def add_run_arguments(parser, *, seed: int) -> None:
    """The options both demos share: where to write, seeding, threads, overwriting."""
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow threads (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run")

