"""Find projector configs under a logdir and turn them into runs, embeddings and steps.

Discovery is cheap and runs every few seconds: it reads configs and lists checkpoint files,
never tensors. The one exception is a config that names no tensor at all: like TensorBoard,
we then offer every 2-D float variable of the checkpoint, which needs its index (TensorFlow);
that listing is cached per checkpoint file.

Steps come from three conventions, all mapped onto `EmbeddingRef.step`:
  * retained checkpoints ``model.ckpt-100``, ``model.ckpt-10000`` (the ``-NNN`` suffix);
  * tensorboardX / torch ``add_embedding`` and our writer: tensor_name ``"tag:00010"``
    (only for tensor files: on a checkpoint tensor ``:0`` is TF's output index);
  * none: step None.
"""

from __future__ import annotations

import codecs
import collections
import dataclasses
import os
import re
import threading
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig

from tb_embedanalysis.logs import paths, tensors
from tb_embedanalysis.logs.errors import ConfigError, LogError, UnknownEmbeddingError, UnsafePathError
from tb_embedanalysis.logs.model import (
    ConfigProblem, EmbeddingRef, EmbeddingSeries, RunInfo, SpriteSpec, TensorSource,
)

_NAME_AND_STEP = re.compile(r"^(.*):(\d+)$")
_CHECKPOINT_STEP = re.compile(r"^(.*)-(\d+)$")
_CHECKPOINT_LINE = re.compile(r'^\s*(model_checkpoint_path|all_model_checkpoint_paths)\s*:\s*"(.*)"\s*$')
# Optimizer state has the shape of the variables it trains, but is not an embedding.
_OPTIMIZER_MARKERS = (".OPTIMIZER_SLOT", "optimizer", "Adam", "Momentum", "RMSProp", "Adagrad", "Ftrl",
                      "/m/", "/v/", "ExponentialMovingAverage")
_BINARY_SUFFIXES = (".bytes", ".bin", ".f32", ".raw")
_TEXT_SUFFIXES = (".tsv", ".txt")


# -- public API -------------------------------------------------------------------------
def discover(logdir: str) -> Tuple[RunInfo, ...]:
    """Every run under `logdir` that has a projector config, sorted by run name.

    A config that cannot be used costs only its own embeddings: it becomes a ConfigProblem
    whose `config_path` and message name files relative to the logdir (they are shown to
    users; refs keep absolute paths, which only the readers use).
    """
    found: Dict[str, Tuple[List[EmbeddingRef], List[ConfigProblem]]] = {}
    # Configs may be symlinks, but only to files inside the logdir (a symlink to
    # /etc/passwd would otherwise be parsed and its first word quoted in the parse error).
    root = os.path.realpath(logdir)
    for config_path in sorted(_find_configs(logdir), key=lambda p: _config_order(p, logdir)):
        run_dir = paths.run_dir_of_config(config_path)
        run = _run_name(run_dir, logdir)
        refs, problems = found.setdefault(run, ([], []))
        try:
            new_refs, new_problems = read_config(config_path, run=run, run_dir=run_dir, root=root)
        except (LogError, OSError, ValueError) as error:  # OSError/ValueError: a path no check foresaw
            new_refs, new_problems = [], [ConfigProblem(run=run, config_path=config_path, message=str(error))]
        refs.extend(new_refs)
        problems.extend(_shown(problem, logdir) for problem in new_problems)
    return tuple(
        RunInfo(run=run, series=_group(refs), problems=tuple(problems))
        for run, (refs, problems) in sorted(found.items(), key=lambda item: _run_sort_key(item[0]))
    )


def _shown(problem: ConfigProblem, logdir: str) -> ConfigProblem:
    """The problem as users see it: paths relative to the logdir, never absolute."""
    config = os.path.relpath(problem.config_path, os.path.abspath(logdir)).replace(os.sep, "/")
    return dataclasses.replace(problem, config_path=config, message=paths.relative_message(problem.message, logdir))


def has_projector_config(logdir: str) -> bool:
    """True as soon as one config is found (for TensorBoard's is_active, which must be fast)."""
    return next(_find_configs(logdir), None) is not None


def find_ref(runs: Sequence[RunInfo], run: str, name: str, step: Optional[int] = None) -> EmbeddingRef:
    """The ref of embedding `name` in `run` at `step` (None: the latest step)."""
    by_run = {info.run: info for info in runs}
    if run not in by_run:
        raise UnknownEmbeddingError("unknown run %r; runs: %s" % (run, ", ".join(sorted(by_run)) or "none"))
    series = {s.name: s for s in by_run[run].series}
    if name not in series:
        raise UnknownEmbeddingError(
            "run %r has no embedding %r; it has: %s" % (run, name, ", ".join(sorted(series)) or "none"))
    refs = series[name].refs
    if step is None:
        return refs[-1]
    for ref in refs:
        if ref.step == step:
            return ref
    raise UnknownEmbeddingError("embedding %r of run %r has no step %d; steps: %s"
                                % (name, run, step, ", ".join(str(s) for s in series[name].steps)))


# -- one config -------------------------------------------------------------------------
def read_config(config_path: str, *, run: str, run_dir: str,
                root: Optional[str] = None) -> Tuple[List[EmbeddingRef], List[ConfigProblem]]:
    """Refs for every embedding of one config; problems of single embeddings don't stop others.

    `root`: the directory (a realpath) the config file itself must lie in, symlinks
    followed; the run directory when not given. Raises ConfigError when the config itself
    cannot be read or parsed, UnsafePathError when it lies outside `root`.
    """
    config = parse_config(config_path, root=root or os.path.realpath(run_dir))
    context = _Context(config_path=config_path, run=run, run_dir=run_dir)
    refs: List[EmbeddingRef] = []
    problems: List[ConfigProblem] = []
    named = [info for info in config.embeddings if info.tensor_name or info.tensor_path]
    blanks = [info for info in config.embeddings if not (info.tensor_name or info.tensor_path)]
    for info in named:
        try:
            refs.extend(context.file_refs(info) if info.tensor_path else context.checkpoint_refs(config, info))
        except LogError as error:
            # Name the entry when the problem is its own (a refused path, its tensor file); a
            # checkpoint missing for every entry stays one unnamed problem (deduplicated below).
            own = info.tensor_path or isinstance(error, UnsafePathError)
            problems.append(context.problem(error, tensor_name=(info.tensor_name or info.tensor_path) if own else ""))
    if not named:
        # Like TensorBoard: no tensor named → every 2-D variable of the checkpoint, with the
        # metadata/sprite of the config's first (nameless) embedding, if any.
        try:
            refs.extend(context.all_variable_refs(config, blanks[0] if blanks else None))
        except LogError as error:
            problems.append(context.problem(error))
    # Embeddings sharing one missing checkpoint would each report it: say it once.
    return refs, list(dict.fromkeys(problems))


def parse_config(config_path: str, *, root: str) -> ProjectorConfig:
    """The config at `config_path`, read only if the file opened lies inside `root`."""
    try:
        with paths.open_regular(config_path, root=root, root_name="the logdir") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError("%s cannot be read: %s" % (config_path, error)) from None
    config = ProjectorConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        detail = re.sub(r"^\d+:\d+ : ", "", str(error))
        raise ConfigError("%s line %s, column %s: %s" % (config_path, error.GetLine(), error.GetColumn(),
                                                         detail)) from None
    return config


class _Context:
    """What resolving one config's paths needs: where it is, and its run."""

    def __init__(self, *, config_path: str, run: str, run_dir: str):
        self.config_path = config_path
        self.run = run
        self.run_dir = run_dir
        config_dir = os.path.dirname(os.path.abspath(config_path))
        self.base_dirs = [config_dir] if config_dir == run_dir else [config_dir, run_dir]
        self.root_name = "the logdir" if run == "." else "the directory of run %r" % run
        self._checkpoints: Optional[List[Tuple[Optional[int], str]]] = None

    def problem(self, error: LogError, *, tensor_name: str = "") -> ConfigProblem:
        # Name the config entry: one config can list many embeddings.
        message = "embedding %r: %s" % (tensor_name, error) if tensor_name else str(error)
        return ConfigProblem(run=self.run, config_path=self.config_path, message=message)

    def resolve(self, path: str, *, probe_suffix: str = "") -> str:
        return paths.resolve(path, base_dirs=self.base_dirs, root=self.run_dir, config_path=self.config_path,
                             probe_suffix=probe_suffix, root_name=self.root_name)

    def ref(self, info: Optional[EmbeddingInfo], name: str, step: Optional[int], tensor: TensorSource):
        metadata = sprite = None
        if info is not None and info.metadata_path:
            metadata = self.resolve(info.metadata_path)
        if info is not None and info.sprite.image_path:
            dim = tuple(info.sprite.single_image_dim)
            if len(dim) == 1:
                dim = dim * 2  # one number: square thumbnails
            # A wrong count becomes (0, 0), which loading reports as an unusable sprite.
            sprite = SpriteSpec(path=self.resolve(info.sprite.image_path),
                                single_image_dim=dim if len(dim) == 2 else (0, 0))
        return EmbeddingRef(run=self.run, name=name, step=step, config_path=self.config_path, tensor=tensor,
                            metadata_path=metadata, sprite=sprite)

    def file_refs(self, info: EmbeddingInfo) -> List[EmbeddingRef]:
        path = self.resolve(info.tensor_path)
        shape = tuple(info.tensor_shape) or None
        lower = path.lower()
        binary = lower.endswith(_BINARY_SUFFIXES) or (shape is not None and not lower.endswith(_TEXT_SUFFIXES))
        name = info.tensor_name or os.path.basename(info.tensor_path)
        step = None
        match = _NAME_AND_STEP.match(name)
        if match:
            name, step = match.group(1), int(match.group(2))
        tensor = TensorSource(kind="bytes" if binary else "tsv", path=path, shape=shape)
        return [self.ref(info, name, step, tensor)]

    def checkpoint_refs(self, config: ProjectorConfig, info: EmbeddingInfo) -> List[EmbeddingRef]:
        checkpoints = self.checkpoints(config)
        name = tensors.display_name(info.tensor_name)
        return [self.ref(info, name, step, TensorSource(kind="checkpoint", path=prefix, tensor_name=info.tensor_name))
                for step, prefix in checkpoints]

    def all_variable_refs(self, config: ProjectorConfig, carrier: Optional[EmbeddingInfo]) -> List[EmbeddingRef]:
        checkpoints = self.checkpoints(config)
        variables = _cached_variables(checkpoints[-1][1])
        keys = sorted(key for key, (shape, dtype) in variables.items()
                      if len(shape) == 2 and dtype.startswith(("float", "half", "bfloat")) and not _is_optimizer(key))
        if not keys:
            raise ConfigError("%s names no tensor, and checkpoint %s has no 2-D float variable to show"
                              % (self.config_path, checkpoints[-1][1]))
        return [self.ref(carrier, tensors.display_name(key), step,
                         TensorSource(kind="checkpoint", path=prefix, tensor_name=key))
                for key in keys for step, prefix in checkpoints]

    def checkpoints(self, config: ProjectorConfig) -> List[Tuple[Optional[int], str]]:
        """(step, prefix) of the checkpoints to show, oldest first; raises if there are none."""
        if self._checkpoints is None:
            self._checkpoints = self._find_checkpoints(config)
        return self._checkpoints

    def _find_checkpoints(self, config: ProjectorConfig) -> List[Tuple[Optional[int], str]]:
        if config.model_checkpoint_path:
            path = config.model_checkpoint_path
            if os.path.isabs(path) and not os.path.exists(path + ".index"):
                path = os.path.basename(path)  # the logdir was moved or copied since
            prefix = self.resolve(path, probe_suffix=".index")
            family = _family(prefix)
            found = {p for p in list_checkpoints(os.path.dirname(prefix))[0] if _family(p) == family}
            found.add(prefix)  # even if not written yet: loading it will say so
            return sorted(((_step(p), p) for p in found), key=_step_order)
        if config.model_checkpoint_dir:
            directories = [self.resolve(config.model_checkpoint_dir)]
        else:
            directories = list(dict.fromkeys([self.run_dir] + self.base_dirs))
        for directory in directories:
            found, latest = list_checkpoints(directory)
            if found:
                family = _family(latest)
                return sorted(((_step(p), p) for p in found if _family(p) == family), key=_step_order)
        raise ConfigError("%s: the embeddings come from a checkpoint, but there is none in %s and the config "
                          "sets no model_checkpoint_path" % (self.config_path, " or ".join(directories)))


# -- checkpoints ------------------------------------------------------------------------
def list_checkpoints(directory: str) -> Tuple[List[str], Optional[str]]:
    """(prefixes of complete-looking checkpoints in `directory`, the latest of them).

    Sources: the ``checkpoint`` index file TF keeps (retained checkpoints) and ``*.index``
    files. Entries are taken by basename in `directory`: the index file may hold absolute
    paths from the machine (or the relative cwd) that wrote them. A prefix without its
    ``.index`` file is skipped: it is being written, or was deleted. Prefixes are canonical
    (the directory's realpath): the reader checks at read time that the checkpoint's files
    still lie in that very directory.
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
    prefixes = [os.path.join(directory, base) for base in dict.fromkeys(candidates)
                if base + ".index" in names and os.path.isfile(os.path.join(directory, base + ".index"))]
    prefixes = [p for p in prefixes if paths.is_inside(p + ".index", directory)]
    if not prefixes:
        return [], None
    latest = os.path.join(directory, os.path.basename(listed[0])) if listed else None
    if latest not in prefixes:
        latest = max(prefixes, key=lambda p: (_step(p) or -1, _mtime(p + ".index")))
    return prefixes, latest


def _read_checkpoint_index(path: str, *, root: str) -> List[str]:
    """Paths in TF's ``checkpoint`` text file, model_checkpoint_path (the latest) first."""
    try:
        with paths.open_regular(path, root=root) as handle:
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except (OSError, UnsafePathError):  # only names to look for in the directory: without it, *.index
        return []
    latest, retained = [], []
    for line in lines:
        match = _CHECKPOINT_LINE.match(line)
        if match:
            value = codecs.escape_decode(match.group(2).encode("utf-8"))[0].decode("utf-8", "replace")
            (latest if match.group(1) == "model_checkpoint_path" else retained).append(value)
    return latest[:1] + retained


def _step(prefix: str) -> Optional[int]:
    match = _CHECKPOINT_STEP.match(os.path.basename(prefix))
    return int(match.group(2)) if match else None


def _family(prefix: Optional[str]) -> Tuple[str, str]:
    directory, base = os.path.split(prefix or "")
    match = _CHECKPOINT_STEP.match(base)
    return directory, match.group(1) if match else base


def _step_order(item) -> Tuple[int, int]:
    step = item[0]
    return (0, 0) if step is None else (1, step)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _is_optimizer(key: str) -> bool:
    return any(marker in key for marker in _OPTIMIZER_MARKERS)


_variables_lock = threading.Lock()
_variables_cache: "collections.OrderedDict[tuple, dict]" = collections.OrderedDict()


def _cached_variables(prefix: str):
    """tensors.checkpoint_variables, remembered per (prefix, index file mtime and size)."""
    try:
        stat = os.stat(prefix + ".index")
        key = (prefix, stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    with _variables_lock:
        if key in _variables_cache:
            _variables_cache.move_to_end(key)
            return _variables_cache[key]
    variables = tensors.checkpoint_variables(prefix)
    with _variables_lock:
        _variables_cache[key] = variables
        while len(_variables_cache) > 64:
            _variables_cache.popitem(last=False)
    return variables


# -- walking and grouping ---------------------------------------------------------------
def _find_configs(logdir: str) -> Iterator[str]:
    for directory, subdirs, files in os.walk(os.path.abspath(logdir)):
        subdirs.sort()
        if paths.CONFIG_FILENAME in files:
            yield os.path.join(directory, paths.CONFIG_FILENAME)


def _run_name(run_dir: str, logdir: str) -> str:
    relative = os.path.relpath(run_dir, os.path.abspath(logdir))
    return relative.replace(os.sep, "/")


def _run_sort_key(run: str):
    return (run != ".", run)


def _config_order(config_path: str, logdir: str):
    # The run-root config before the one under plugins/: its entries win on duplicates.
    run_dir = paths.run_dir_of_config(config_path)
    return (_run_sort_key(_run_name(run_dir, logdir)), os.path.dirname(os.path.abspath(config_path)) != run_dir)


def _group(refs: List[EmbeddingRef]) -> Tuple[EmbeddingSeries, ...]:
    by_name: Dict[str, Dict[Optional[int], EmbeddingRef]] = {}
    for ref in refs:
        by_name.setdefault(ref.name, {}).setdefault(ref.step, ref)  # first config wins
    series = []
    for name, by_step in sorted(by_name.items()):
        ordered = tuple(by_step[step] for step in sorted(by_step, key=lambda step: _step_order((step,))))
        series.append(EmbeddingSeries(run=ordered[0].run, name=name, refs=ordered))
    return tuple(series)
