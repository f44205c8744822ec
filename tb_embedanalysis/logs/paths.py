"""Resolve the paths a projector config names, refuse those that leave their directory, and
open files so that a symlink swapped in after that check cannot lead anywhere else.

Configs are untrusted input: a `metadata_path: "../../etc/passwd"` or a symlink pointing out
of the logdir must not make us read (and serve) arbitrary files. Like TensorBoard (>= 2.21)
we resolve with realpath and check containment. The containment root is the config's
directory, or the run directory for a config under ``plugins/org_tensorflow_tensorboard_projector/``
(its checkpoints and often its assets live two levels above the config).

Checking once, when the logdir is scanned, is not enough: files are opened seconds or hours
later, and by then a file may have been replaced by a symlink to ``/etc/shadow``. So every
file is checked again *on the opened file descriptor* (`open_regular`): where the file we
actually hold lives, not where its name pointed a moment earlier.

Messages name files relative to the logdir (`relative_message`): an HTTP answer must not
show the server's directory layout, nor where a refused symlink points.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import BinaryIO, Iterable, Optional

from tb_embedanalysis.logs.errors import UnsafePathError
from tb_embedanalysis.quoting import excerpt

PLUGIN_ASSETS_PARTS = ("plugins", "org_tensorflow_tensorboard_projector")
CONFIG_FILENAME = "projector_config.pbtxt"
_DELETED = " (deleted)"  # Linux appends this to /proc/self/fd links of unlinked files


def run_dir_of_config(config_path: str) -> str:
    """The run directory a config belongs to (where TensorBoard looks for checkpoints)."""
    config_dir = os.path.dirname(os.path.abspath(config_path))
    parent, assets = os.path.split(config_dir)
    grandparent, plugins = os.path.split(parent)
    if (plugins, assets) == PLUGIN_ASSETS_PARTS:
        return grandparent
    return config_dir


def logdir_of(config_path: str, run: str) -> str:
    """The logdir a config was found in, given its run name ("." or "a/b", as discovery names runs).

    The run may also be one directory below the config's (a Keras callback's ``train/``,
    where discovery lists its checkpoints): then the run's last part is not the config's.
    """
    run_dir = run_dir_of_config(config_path)
    parts = [] if run == "." else run.split("/")
    logdir = run_dir
    for kept in (parts, parts[:-1]):
        logdir = run_dir
        for _ in kept:
            logdir = os.path.dirname(logdir)
        if os.path.join(logdir, *kept) == run_dir:
            return logdir
    return logdir


def signature(path: str) -> Optional[tuple]:
    """(mtime_ns, size, inode) of `path`, None if it does not exist: what "this file changed"
    means everywhere (reloading an embedding, rediscovering a logdir). The inode catches an
    atomic replace that kept mtime and size."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def is_inside(path: str, root: str) -> bool:
    """True if realpath(path) is root or below it (root must already be a realpath)."""
    return _contained(os.path.realpath(path), root)


def _contained(real: str, root: str) -> bool:
    try:
        return os.path.commonpath([root, real]) == root
    except ValueError:  # different drives on Windows
        return False


def resolve(path: str, *, base_dirs: Iterable[str], root: str, config_path: str, probe_suffix: str = "",
            root_name: str = "the run directory") -> str:
    """Absolute, symlink-free form of a config path, checked to stay inside `root`.

    A relative path is tried against each of `base_dirs` in turn (config directory first);
    the first candidate that exists (as ``candidate + probe_suffix``: a checkpoint prefix is
    not a file) wins, else the first candidate is returned so that the caller's "file is
    missing" message names the most natural location. `config_path` and `root_name` are
    only used in messages (name them as users may see them: relative to the logdir); the
    message never says where a refused path leads.
    """
    if "\0" in path:
        # os.* raise ValueError on it; one such config must not fail the whole discovery.
        raise UnsafePathError("%s: path %s contains a NUL byte, which no file name can hold; refusing to read it"
                              % (config_path, excerpt(path)))
    root = os.path.realpath(root)
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded):
        candidates = [os.path.realpath(expanded)]
    else:
        candidates = [os.path.realpath(os.path.join(base, expanded)) for base in base_dirs]
    chosen = next((c for c in candidates if os.path.exists(c + probe_suffix)), candidates[0])
    if not is_inside(chosen, root):
        raise UnsafePathError("%s: path %s resolves to a location outside %s; refusing to read it"
                              % (config_path, excerpt(path), root_name))
    return chosen


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def open_regular(path: str, *, root: Optional[str] = None, root_name: str = "its directory") -> BinaryIO:
    """open(path, "rb"), but only for a regular file that lies where it may; else an error.

    Containment is checked on the opened descriptor, so a swap between a check and the open
    cannot escape (raises UnsafePathError, whose message names `path` only):
      * root None: `path` must be the canonical (realpath) form discovery checked, and the
        file opened must still be exactly there. The last component is opened with
        O_NOFOLLOW; a directory above it swapped for a symlink is caught by comparing the
        descriptor's real location with `path`. A symlink inside the logdir that existed
        at discovery was resolved then, so it keeps working; one swapped in since is
        refused until the next discovery (<= a few seconds) checks it again.
      * root given (configs, TF's ``checkpoint`` file): symlinks are followed, but the
        file opened must lie inside `root` (a realpath).
    Anything but a regular file raises OSError(EINVAL): opening a FIFO for reading blocks
    until a writer comes (forever, taking the request and every request waiting for the same
    load with it), a device streams forever. The open itself is non-blocking, then checked
    with fstat.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if root is None:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        # A path leading where it may not is refused whether or not its target exists:
        # "does not exist" for one and "refused" for another would tell an attacker who can
        # plant symlinks which paths exist on the server.
        if (root is None and error.errno in (errno.ELOOP, errno.EMLINK)) or not _named_where_allowed(path, root):
            raise _refusal(path, root, root_name) from None  # EMLINK: FreeBSD's O_NOFOLLOW
        raise
    try:
        if not _opened_where_allowed(fd, path, root):
            raise _refusal(path, root, root_name)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a file")
            raise OSError(errno.EINVAL, "not a regular file (%s)" % kind, path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _refusal(path: str, root: Optional[str], root_name: str) -> UnsafePathError:
    if root is None:
        return UnsafePathError("%s is a symbolic link now, or lies under one, that it was not when the logdir was "
                               "scanned; refusing to read it" % path)
    return UnsafePathError("%s is a symbolic link (or lies under one) leading outside %s; refusing to read it"
                           % (path, root_name))


def _named_where_allowed(path: str, root: Optional[str]) -> bool:
    """By name only (no file opened): `path` is canonical (root None) or resolves inside `root`."""
    real = os.path.realpath(path)
    return real == os.path.abspath(path) if root is None else _contained(real, root)


def _opened_where_allowed(fd: int, path: str, root: Optional[str]) -> bool:
    """Whether the file behind `fd` is `path` itself (root None) or lies inside `root`."""
    try:
        # Linux: the kernel's own name for the opened file, symlinks resolved; nothing an
        # attacker swaps after the open can change it.
        location = os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        location = None
    if location is not None and os.path.isabs(location):
        # A file replaced (os.replace) or deleted after we opened it keeps its last name + " (deleted)".
        names = {location, location[: -len(_DELETED)]} if location.endswith(_DELETED) else {location}
        if root is None:
            return os.path.abspath(path) in names
        return any(_contained(name, root) for name in names)
    # No /proc (macOS, Windows): the allowed name must lead to the very file we hold (same
    # device and inode); a swap after the open makes them differ, and we refuse.
    if not _named_where_allowed(path, root):
        return False
    try:
        return os.path.samestat(os.stat(os.path.realpath(path)), os.fstat(fd))
    except OSError:
        return False


def read_regular(path: str, *, what: str, error: type, root: Optional[str] = None) -> bytes:
    """The bytes of a regular file, or `error("<what> <path> does not exist" / "cannot be
    read: ...")`, so every reader reports missing and unreadable files the same way.
    A file that is not where it may be raises UnsafePathError (see `open_regular`)."""
    try:
        with open_regular(path, root=root) as handle:
            return handle.read()
    except FileNotFoundError:
        raise error("%s %s does not exist" % (what, path)) from None
    except OSError as problem:
        raise error("%s %s cannot be read: %s" % (what, path, problem.strerror)) from None


def relative_message(text: str, logdir: str) -> str:
    """`text` with every path under `logdir` named relative to it (``run1/metadata.tsv``).

    One function for every message that leaves the logs layer (problems, load errors,
    warnings), whoever built it (our readers, Pillow, TensorFlow): answers must not show
    the server's absolute paths. Both the logdir as given and its realpath are replaced.
    """
    for prefix in sorted({os.path.abspath(logdir), os.path.realpath(logdir)}, key=len, reverse=True):
        if prefix == os.path.dirname(prefix):  # the filesystem root: nothing sensible to strip
            continue
        text = text.replace(prefix + os.sep, "")
        text = re.sub(re.escape(prefix) + r"(?=$|[\s'\",:;)\]])", ".", text)
    return text
