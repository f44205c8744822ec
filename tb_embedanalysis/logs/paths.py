"""Resolve the paths a projector config names, and refuse those that leave its directory.

Configs are untrusted input: a `metadata_path: "../../etc/passwd"` or a symlink pointing out
of the logdir must not make us read (and serve) arbitrary files. Like TensorBoard (>= 2.21)
we resolve with realpath and check containment. The containment root is the config's
directory, or the run directory for a config under ``plugins/org_tensorflow_tensorboard_projector/``
(its checkpoints and often its assets live two levels above the config).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO, Iterable

from tb_embedanalysis.logs.errors import UnsafePathError

PLUGIN_ASSETS_PARTS = ("plugins", "org_tensorflow_tensorboard_projector")
CONFIG_FILENAME = "projector_config.pbtxt"


def run_dir_of_config(config_path: str) -> str:
    """The run directory a config belongs to (where TensorBoard looks for checkpoints)."""
    config_dir = os.path.dirname(os.path.abspath(config_path))
    parent, assets = os.path.split(config_dir)
    grandparent, plugins = os.path.split(parent)
    if (plugins, assets) == PLUGIN_ASSETS_PARTS:
        return grandparent
    return config_dir


def is_inside(path: str, root: str) -> bool:
    """True if realpath(path) is root or below it (root must already be a realpath)."""
    try:
        return os.path.commonpath([root, os.path.realpath(path)]) == root
    except ValueError:  # different drives on Windows
        return False


def resolve(path: str, *, base_dirs: Iterable[str], root: str, config_path: str, probe_suffix: str = "") -> str:
    """Absolute, symlink-free form of a config path, checked to stay inside `root`.

    A relative path is tried against each of `base_dirs` in turn (config directory first);
    the first candidate that exists (as ``candidate + probe_suffix``: a checkpoint prefix is
    not a file) wins, else the first candidate is returned so that the caller's "file is
    missing" message names the most natural location.
    """
    root = os.path.realpath(root)
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded):
        candidates = [os.path.realpath(expanded)]
    else:
        candidates = [os.path.realpath(os.path.join(base, expanded)) for base in base_dirs]
    chosen = next((c for c in candidates if os.path.exists(c + probe_suffix)), candidates[0])
    if not is_inside(chosen, root):
        raise UnsafePathError(
            "%s: path %r resolves to %s, outside %s; refusing to read it"
            % (config_path, path, chosen, root)
        )
    return chosen


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def open_regular(path: str) -> BinaryIO:
    """open(path, "rb"), but only for a regular file; anything else raises OSError(EINVAL).

    A logdir can hold odd files: opening a FIFO for reading blocks until a writer comes
    (forever, taking the request and every request waiting for the same load with it), a
    device streams forever. The open itself is non-blocking, then checked with fstat.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a file")
            raise OSError(errno.EINVAL, "not a regular file (%s)" % kind, path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str, *, what: str, error: type) -> bytes:
    """The bytes of a regular file, or `error("<what> <path> does not exist" / "cannot be
    read: ...")`, so every reader reports missing and unreadable files the same way."""
    try:
        with open_regular(path) as handle:
            return handle.read()
    except FileNotFoundError:
        raise error("%s %s does not exist" % (what, path)) from None
    except OSError as problem:
        raise error("%s %s cannot be read: %s" % (what, path, problem.strerror)) from None

