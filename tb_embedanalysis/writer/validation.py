"""Checks that run before the writer touches the disk: names, steps, vectors, row counts.

`write_embedding` validates everything (vectors, metadata: metadata_rows.py, images:
images.py, sprite size, the existing config) before it writes a single byte, so a refused
call leaves the log directory exactly as it was. Each function here takes user input in
any of the accepted forms and returns one normalised form; the writer trusts that form
afterwards. The errors raised live in errors.py (and are importable from here too).
"""

from __future__ import annotations

import os
import stat
from typing import Any, Optional

import numpy as np

from tb_embedanalysis.writer.errors import (  # noqa: F401  (re-exported: callers catch them from here)
    ImageValueError, InvalidNameError, LengthMismatchError, LogdirError, MetadataValueError, NonFiniteError, OutOfRangeError,
    ShapeError, SpriteTooLargeError, WriterError, fmt_int,
)

# Characters that end a line for some reader of metadata.tsv. The Projector splits on
# "\n"; Python's text mode also splits on "\r"; str.splitlines() on all of these. A
# value holding any of them would shift every later row in one reader or another.
LINE_BREAKS = {
    "\n": "a newline (\\n)",
    "\r": "a carriage return (\\r)",
    "\x0b": "a vertical tab (\\x0b)",
    "\x0c": "a form feed (\\x0c)",
    "\x1c": "a file separator (\\x1c)",
    "\x1d": "a group separator (\\x1d)",
    "\x1e": "a record separator (\\x1e)",
    "\x85": "a next-line character (\\x85)",
    "\u2028": "a line separator (\\u2028)",
    "\u2029": "a paragraph separator (\\u2029)",
}


# ----------------------------------------------------------------------------- names


def check_name(name: Any) -> str:
    """The embedding name: a non-empty string without ':' or control characters.

    ':' is refused because ``name:NNNNN`` is how steps are spelled in the config (the
    tensorboardX convention); a name that contains one would be read back as a step.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"name must be a str, got {type(name).__name__} {name!r}")
    if not name.strip():
        raise InvalidNameError(f"name must not be empty, got {name!r}")
    if ":" in name:
        raise InvalidNameError(
            f"name {name!r} contains ':', which the config uses to separate the step "
            f"(tensor_name 'name:00100'); use another character, e.g. {name.replace(':', '_')!r}"
        )
    if any(ord(ch) < 32 or ch in LINE_BREAKS for ch in name):
        raise InvalidNameError(f"name {name!r} contains a control character")
    return name


def check_step(step: Any) -> Optional[int]:
    """None, or a non-negative integer (numpy and TF integer scalars accepted)."""
    if step is None:
        return None
    message = f"step must be an integer >= 0 or None, got {step!r}"
    if isinstance(step, bool):
        raise InvalidNameError(message)
    try:
        array = np.asarray(step)
    except Exception:  # noqa: BLE001 - an arbitrary object's __array__ may raise anything: not a step
        raise InvalidNameError(message) from None
    if array.ndim != 0 or array.dtype.kind not in "iu" or int(array) < 0:
        raise InvalidNameError(message)
    value = int(array)
    return value


# --------------------------------------------------------------------------- logdir


def check_directories(logdir: str, relative_dir: str) -> None:
    """Refuse a logdir (or asset directory under it) that cannot be a directory.

    `os.makedirs` and `open` would raise a bare NotADirectoryError or FileExistsError
    halfway through a write; this walks from ``logdir/relative_dir`` up to the first path
    that exists and raises `LogdirError` unless that is a directory (missing ones are
    created by the writer). `relative_dir` uses "/" as in the config.
    """
    target = os.path.join(logdir, *relative_dir.split("/"))
    path = os.path.abspath(target)
    while True:
        try:
            mode = os.stat(path).st_mode
        except NotADirectoryError:  # a file further up: find it
            path = os.path.dirname(path)
            continue
        except FileNotFoundError:
            if os.path.islink(path):
                return _not_a_directory(logdir, target, path, "a symbolic link to a missing target")
            parent = os.path.dirname(path)
            if parent == path:  # pragma: no cover - the root always exists
                return None
            path = parent
            continue
        if stat.S_ISDIR(mode):
            return None
        return _not_a_directory(logdir, target, path, "a regular file" if stat.S_ISREG(mode) else "not a directory")


def _not_a_directory(logdir: str, target: str, path: str, what: str) -> None:
    if os.path.abspath(path) == os.path.abspath(logdir):
        raise LogdirError(f"logdir {logdir!r} is {what}, not a directory; give a directory (created if missing)")
    raise LogdirError(
        f"cannot write to {target!r}: {path!r} is {what}, not a directory; remove or rename it, or use another logdir"
    )


# --------------------------------------------------------------------------- vectors


def as_vectors(vectors: Any, *, allow_nonfinite: bool = False) -> np.ndarray:
    """Any (N, D) array-like -> C-contiguous little-endian float32 (N, D), N >= 1, D >= 1.

    float64 input is rounded to float32 (the Projector and our reader both use float32).
    Rows with NaN/Inf are refused unless ``allow_nonfinite``; our reader then excludes
    them from the analysis, the Projector shows them as it can.
    """
    try:
        array = np.asarray(vectors)
    except Exception as exc:  # torch tensors on GPU, ragged lists, ...
        raise ShapeError(
            f"vectors could not be converted to a numpy array ({exc}); pass a numpy array, "
            "a tf.Tensor or a CPU torch tensor (tensor.detach().cpu())"
        ) from exc
    if array.dtype.kind not in "biuf":
        raise ShapeError(
            f"vectors must be numeric, got dtype {array.dtype} with shape {array.shape}"
        )
    if array.ndim != 2:
        hint = " (a single vector? use vectors[None, :])" if array.ndim == 1 else ""
        raise ShapeError(
            f"vectors must have rank 2 (N, D), got rank {array.ndim} with shape "
            f"{array.shape}{hint}"
        )
    n, d = array.shape
    if n == 0 or d == 0:
        raise ShapeError(f"vectors must have at least one row and one column, got shape {array.shape}")
    if array.dtype.kind == "f" and array.dtype.itemsize > 4:
        # float64 past float32's range would round to Inf: say so, not "NaN or Inf"
        with np.errstate(invalid="ignore"):
            beyond = np.isfinite(array) & (np.abs(array) > np.finfo(np.float32).max)
        rows = np.flatnonzero(beyond.any(axis=1))
        if rows.size:
            shown = ", ".join(str(i) for i in rows[:5]) + (", ..." if rows.size > 5 else "")
            largest = float(np.abs(array[beyond]).max())
            raise OutOfRangeError(
                f"vectors has {fmt_int(rows.size)} of {fmt_int(n)} rows with values beyond float32's "
                f"range (rows {shown}; largest magnitude {largest:.3g}, float32 holds up to 3.4e38), "
                "which the projector's float32 files cannot hold; rescale them (e.g. divide by a power "
                "of two: distances scale with them, neighbours do not change)"
            )
    out = np.ascontiguousarray(array, dtype="<f4")
    if not allow_nonfinite:
        finite_rows = np.isfinite(out).all(axis=1)
        if not finite_rows.all():
            bad = np.flatnonzero(~finite_rows)
            shown = ", ".join(str(i) for i in bad[:5]) + (", ..." if bad.size > 5 else "")
            raise NonFiniteError(
                f"vectors has {fmt_int(bad.size)} of {fmt_int(n)} rows with NaN or Inf "
                f"(rows {shown}); fix them, or pass allow_nonfinite=True to write them "
                "anyway (the analysis then leaves those rows out)"
            )
    return out


def check_rows(what: str, count: int, n: int) -> None:
    if count != n:
        raise LengthMismatchError(
            f"{what} has {fmt_int(count)} rows but vectors has {fmt_int(n)}"
        )

