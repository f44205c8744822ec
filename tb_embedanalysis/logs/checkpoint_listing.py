"""Checkpoints in a directory: which are complete, which is the latest, their steps.

Checkpoints are TF V2, TF V1 or Keras 3 ``*.weights.h5`` files (checkpoint_reader.checkpoint_format).
Retained checkpoints carry their step as a ``-NNN`` suffix (``model.ckpt-100``, Keras'
``keras_embedding.ckpt-<epoch>``); a family is the checkpoints sharing one prefix. The
variable listing of a checkpoint (its index: TensorFlow, or h5py for Keras 3) is cached
per checkpoint file.
"""

from __future__ import annotations

import codecs
import os
import re
from typing import List, Optional, Tuple

from tb_embedanalysis.cache import ResultCache
from tb_embedanalysis.logs import keras_weights, paths
from tb_embedanalysis.logs.checkpoint_reader import checkpoint_files, checkpoint_format, checkpoint_variables
from tb_embedanalysis.logs.errors import UnsafePathError

_CHECKPOINT_STEP = re.compile(r"^(.*)-(\d+)$")
# What a step number may be followed by: a Keras 3 weights file's suffix, V1 shards' pattern.
_CHECKPOINT_TAIL = re.compile(r"(\.weights\.h5|-\?{5}-of-\d{5})$")
_CHECKPOINT_LINE = re.compile(r'^\s*(model_checkpoint_path|all_model_checkpoint_paths)\s*:\s*"(.*)"\s*$')


def list_checkpoints(directory: str) -> Tuple[List[str], Optional[str]]:
    """(prefixes of complete-looking checkpoints in `directory`, the latest of them).

    Sources: the ``checkpoint`` index file TF keeps (retained checkpoints, V2 or V1),
    ``*.index`` files (V2) and ``*.weights.h5`` files (Keras 3; the prefix is the file).
    Entries are taken by basename in `directory`: the index file may hold absolute paths
    from the machine (or the relative cwd) that wrote them. A V2 prefix without its
    ``.index`` file, a V1 one without its file or shards, is skipped: it is being written,
    or was deleted. Prefixes are canonical (the directory's realpath): the reader checks at
    read time that the checkpoint's files still lie in that very directory.
    """
    directory = os.path.realpath(directory)
    try:
        names = set(os.listdir(directory))
    except OSError:
        return [], None
    listed = (_read_checkpoint_index(os.path.join(directory, "checkpoint"), root=directory)
              if "checkpoint" in names else [])
    candidates = [os.path.basename(entry) for entry in listed]
    candidates += [name[: -len(".index")] for name in sorted(names) if name.endswith(".index")]
    candidates += [name for name in sorted(names) if keras_weights.is_weights_file(name)]
    prefixes = [p for p in (os.path.join(directory, base) for base in dict.fromkeys(candidates))
                if _complete(p, names, directory)]
    if not prefixes:
        return [], None
    latest = os.path.join(directory, os.path.basename(listed[0])) if listed else None
    if latest not in prefixes:
        latest = max(prefixes, key=lambda p: (checkpoint_step(p) or -1, _mtime(p + ".index")))
    return prefixes, latest


def _complete(prefix: str, names, directory: str) -> bool:
    """Whether the checkpoint `prefix` looks written, with its main file(s) inside `directory`."""
    base = os.path.basename(prefix)
    if base + ".index" in names:  # V2
        files = [prefix + ".index"]
    elif keras_weights.is_weights_file(base):
        files = [prefix] if base in names else []
    else:  # V1, named only by TF's ``checkpoint`` file
        files = checkpoint_files(prefix) if checkpoint_format(prefix) == "v1" else []
    return bool(files) and all(os.path.isfile(f) and paths.is_inside(f, directory) for f in files)


def _read_checkpoint_index(path: str, *, root: str) -> List[str]:
    """Paths in TF's ``checkpoint`` text file, model_checkpoint_path (the latest) first."""
    try:
        with paths.open_regular(path, root=root) as handle:
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except (OSError, UnsafePathError):  # only names to look for in the directory: without it, *.index
        return []
    latest: List[str] = []
    retained: List[str] = []
    for line in lines:
        match = _CHECKPOINT_LINE.match(line)
        if match:
            value = codecs.escape_decode(match.group(2).encode("utf-8"))[0].decode("utf-8", "replace")
            (latest if match.group(1) == "model_checkpoint_path" else retained).append(value)
    return latest[:1] + retained


def checkpoint_step(prefix: str) -> Optional[int]:
    match = _CHECKPOINT_STEP.match(_CHECKPOINT_TAIL.sub("", os.path.basename(prefix)))
    return int(match.group(2)) if match else None


def checkpoint_family(prefix: Optional[str]) -> Tuple[str, str]:
    directory, base = os.path.split(prefix or "")
    base = _CHECKPOINT_TAIL.sub("", base)
    match = _CHECKPOINT_STEP.match(base)
    return directory, match.group(1) if match else base


def step_order(item) -> Tuple[int, int]:
    step = item[0]
    return (0, 0) if step is None else (1, step)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


#: Variable maps of checkpoints (a few hundred bytes per variable), by file version.
_variables_cache = ResultCache(4 * 1024 * 1024)
_VARIABLE_BYTES = 256


def cached_variables(prefix: str):
    """checkpoint_reader.checkpoint_variables, remembered per (prefix, mtime and size of its index
    file: V2 ``.index``, a V1 checkpoint's first file, the Keras weights file)."""
    files = checkpoint_files(prefix)
    signature = paths.signature(files[0]) if files else None
    if signature is None:
        return checkpoint_variables(prefix)  # raises the reader's "does not exist"
    key = (prefix, signature)
    variables = _variables_cache.get(key)
    if variables is None:
        variables = checkpoint_variables(prefix)
        _variables_cache.put(key, variables, nbytes=_VARIABLE_BYTES * (1 + len(variables)))
    return variables

