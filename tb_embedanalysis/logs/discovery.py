"""Find projector configs under a logdir and turn them into runs, embeddings and steps.

Discovery is cheap and runs every few seconds: it reads configs and lists checkpoint files,
never tensors. Like TensorBoard's Projector, a run with a checkpoint offers every 2-D float
variable of it besides those the config names (optimizer slots left out), which needs the
checkpoint's index (TensorFlow; a Keras 3 weights file: h5py); that listing is cached per
checkpoint file.

Checkpoints are TF V2, TF V1 or Keras 3 ``*.weights.h5`` files (tensors.checkpoint_format).
Keras' TensorBoard callback (tf_keras and Keras 3) writes its config to ``log_dir/`` but its
checkpoints to ``log_dir/train/``, where its events are: when the config's own directories
hold no checkpoint, ``train/`` is looked in, and the embeddings are listed under that run,
as TensorBoard lists the callback's scalars.

Steps come from three conventions, all mapped onto `EmbeddingRef.step`:
  * retained checkpoints ``model.ckpt-100``, ``model.ckpt-10000`` (the ``-NNN`` suffix; Keras'
    ``keras_embedding.ckpt-<epoch>``: one step per epoch);
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
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig

from tb_embedanalysis.cache import ResultCache
from tb_embedanalysis.logs import keras_weights, paths, sprites, tensors
from tb_embedanalysis.logs import metadata as metadata_io
from tb_embedanalysis.logs.errors import ConfigError, LogError, UnknownEmbeddingError, UnsafePathError
from tb_embedanalysis.logs.model import (
    ConfigProblem, EmbeddingRef, EmbeddingSeries, RunInfo, SpriteSpec, TensorSource,
)

_NAME_AND_STEP = re.compile(r"^(.*):(\d+)$")
_CHECKPOINT_STEP = re.compile(r"^(.*)-(\d+)$")
# What a step number may be followed by: a Keras 3 weights file's suffix, V1 shards' pattern.
_CHECKPOINT_TAIL = re.compile(r"(\.weights\.h5|-\?{5}-of-\d{5})$")
KERAS_CHECKPOINT_SUBDIR = "train"  # where Keras' TensorBoard callback saves embedding checkpoints
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
    found: Dict[str, Tuple[List[EmbeddingRef], List[ConfigProblem]]] = collections.defaultdict(lambda: ([], []))
    # Configs may be symlinks, but only to files inside the logdir (a symlink to
    # /etc/passwd would otherwise be parsed and its first word quoted in the parse error).
    root = os.path.realpath(logdir)
    for config_path in sorted(_find_configs(logdir), key=lambda p: _config_order(p, logdir)):
        run_dir = paths.run_dir_of_config(config_path)
        run = _run_name(run_dir, logdir)
        try:
            new_refs, new_problems = read_config(config_path, run=run, run_dir=run_dir, root=root)
        except (LogError, OSError, ValueError) as error:  # OSError/ValueError: a path no check foresaw
            new_refs, new_problems = [], [ConfigProblem(run=run, config_path=config_path, message=str(error))]
        for ref in new_refs:  # a Keras config's refs belong to its train/ run
            found[ref.run][0].append(ref)
        found[run][1].extend(_shown(problem, logdir) for problem in new_problems)
    return tuple(
        RunInfo(run=run, series=_group(refs), problems=tuple(problems))
        for run, (refs, problems) in sorted(found.items(), key=lambda item: _run_sort_key(item[0]))
        if refs or problems
    )


def _shown(problem: ConfigProblem, logdir: str) -> ConfigProblem:
    """The problem as users see it: paths relative to the logdir, never absolute."""
    config = os.path.relpath(problem.config_path, os.path.abspath(logdir)).replace(os.sep, "/")
    return dataclasses.replace(problem, config_path=config, message=paths.relative_message(problem.message, logdir))


def has_projector_config(logdir: str) -> bool:
    """True as soon as one config is found (for TensorBoard's is_active, which must be fast)."""
    return next(_find_configs(logdir), None) is not None


def find_series(runs: Sequence[RunInfo], run: str, name: str) -> EmbeddingSeries:
    """The series of embedding `name` in `run`; UnknownEmbeddingError (a 404) names what exists."""
    by_run = {info.run: info for info in runs}
    if run not in by_run:
        raise UnknownEmbeddingError("unknown run %r; runs: %s" % (run, ", ".join(sorted(by_run)) or "none"))
    for series in by_run[run].series:
        if series.name == name:
            return series
    names = ", ".join(sorted(series.name for series in by_run[run].series)) or "none"
    raise UnknownEmbeddingError("run %r has no embedding %r; it has: %s" % (run, name, names))


def find_ref(runs: Sequence[RunInfo], run: str, name: str, step: Optional[int] = None) -> EmbeddingRef:
    """The ref of embedding `name` in `run` at `step` (None: the latest step): the one lookup
    (Catalog.ref adds only "look again" and "deleted since")."""
    series = find_series(runs, run, name)
    if step is None:
        return series.refs[-1]
    for ref in series.refs:
        if ref.step == step:
            return ref
    raise UnknownEmbeddingError("embedding %r of run %r has no step %d; steps: %s"
                                % (name, run, step, ", ".join(str(s) for s in series.steps)))


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
    # Like TensorBoard: every 2-D variable of the checkpoint the config does not name, with
    # the metadata/sprite of the config's first, nameless embedding if any. A config of
    # tensor files only needs no checkpoint; one naming nothing (or only checkpoint
    # variables) reports a missing one (once: deduplicated below).
    needs_checkpoint = any(not info.tensor_path for info in named) or not named
    try:
        refs.extend(context.other_variable_refs(config, blanks[0] if blanks else None, named=refs,
                                                required=needs_checkpoint))
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
        self.checkpoint_run = run  # the run checkpoint refs are listed under (Keras: <run>/train)
        self._keras_entries = 0  # config entries naming a Keras embedding key so far (keras_weights.dataset_for)

    def problem(self, error: LogError, *, tensor_name: str = "") -> ConfigProblem:
        # Name the config entry: one config can list many embeddings.
        message = "embedding %r: %s" % (tensor_name, error) if tensor_name else str(error)
        return ConfigProblem(run=self.run, config_path=self.config_path, message=message)

    def resolve(self, path: str, *, probe_suffix: str = "") -> str:
        return paths.resolve(path, base_dirs=self.base_dirs, root=self.run_dir, config_path=self.config_path,
                             probe_suffix=probe_suffix, root_name=self.root_name)

    def ref(self, info: Optional[EmbeddingInfo], name: str, step: Optional[int], tensor: TensorSource, *,
            run: Optional[str] = None):
        metadata = sprite = None
        warnings = []
        # A metadata or sprite path leading outside the run costs that file only: the vectors
        # stay analysable, and the refusal is shown with the embedding (as its warning).
        if info is not None and info.metadata_path:
            try:
                metadata = self.resolve(info.metadata_path)
            except UnsafePathError as error:
                warnings.append(metadata_io.refusal_warning(error))
        if info is not None and info.sprite.image_path:
            dim = tuple(info.sprite.single_image_dim)
            if len(dim) == 1:
                dim = dim * 2  # one number: square thumbnails
            try:
                # A wrong count becomes (0, 0), which loading reports as an unusable sprite.
                sprite = SpriteSpec(path=self.resolve(info.sprite.image_path),
                                    single_image_dim=dim if len(dim) == 2 else (0, 0))
            except UnsafePathError as error:
                warnings.append(sprites.refusal_warning(error))
        return EmbeddingRef(run=run or self.run, name=name, step=step, config_path=self.config_path, tensor=tensor,
                            metadata_path=metadata, sprite=sprite, warnings=tuple(warnings))

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
        ordinal = self._keras_entries
        self._keras_entries += keras_weights.is_keras_embedding_key(info.tensor_name)
        refs = []
        for step, prefix in checkpoints:
            key = info.tensor_name
            if tensors.checkpoint_format(prefix) == "keras_h5":
                key = keras_weights.dataset_for(info.tensor_name, ordinal)
            refs.append(self.ref(info, tensors.display_name(key), step,
                                 TensorSource(kind="checkpoint", path=prefix, tensor_name=key), run=self.checkpoint_run))
        return refs

    def other_variable_refs(self, config: ProjectorConfig, carrier: Optional[EmbeddingInfo], *,
                            named: Sequence[EmbeddingRef], required: bool) -> List[EmbeddingRef]:
        """Refs of the 2-D float variables of the latest checkpoint that `named` does not cover.

        `required`: a missing checkpoint, or one with nothing to show while the config names
        nothing, is an error; else (the config names tensor files only) simply no refs.
        """
        try:
            checkpoints = self.checkpoints(config)
            variables = _cached_variables(checkpoints[-1][1])
        except LogError:
            if required:
                raise
            return []  # tensor files only: a stray checkpoint (or no TensorFlow) costs nothing
        taken = {ref.tensor.tensor_name for ref in named if ref.tensor.kind == "checkpoint"}
        taken = {tensors.checkpoint_key(name, variables) for name in taken}
        keys = sorted(key for key, (shape, dtype) in variables.items()
                      if len(shape) == 2 and dtype.startswith(("float", "half", "bfloat")) and not _is_optimizer(key)
                      and key not in taken)
        if not keys and not named and required:
            raise ConfigError("%s names no tensor, and checkpoint %s has no 2-D float variable to show"
                              % (self.config_path, checkpoints[-1][1]))
        return [self.ref(carrier, tensors.display_name(key), step,
                         TensorSource(kind="checkpoint", path=prefix, tensor_name=key), run=self.checkpoint_run)
                for key in keys for step, prefix in checkpoints]

    def checkpoints(self, config: ProjectorConfig) -> List[Tuple[Optional[int], str]]:
        """(step, prefix) of the checkpoints to show, oldest first; raises if there are none."""
        if self._checkpoints is None:
            self._checkpoints = self._find_checkpoints(config)
        return self._checkpoints

    def _find_checkpoints(self, config: ProjectorConfig) -> List[Tuple[Optional[int], str]]:
        if config.model_checkpoint_path:
            path = config.model_checkpoint_path
            if os.path.isabs(path) and not any(os.path.exists(f) for f in tensors.checkpoint_files(path)):
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
            directories.append(os.path.join(self.run_dir, KERAS_CHECKPOINT_SUBDIR))
        for directory in directories:
            found, latest = list_checkpoints(directory)
            if found:
                if directory == os.path.join(self.run_dir, KERAS_CHECKPOINT_SUBDIR) and not config.model_checkpoint_dir:
                    # Keras' callback: the checkpoints are in the run TensorBoard lists its events under.
                    self.checkpoint_run = KERAS_CHECKPOINT_SUBDIR if self.run == "." else (
                        self.run + "/" + KERAS_CHECKPOINT_SUBDIR)
                family = _family(latest)
                return sorted(((_step(p), p) for p in found if _family(p) == family), key=_step_order)
        raise ConfigError("%s: the embeddings come from a checkpoint, but there is none in %s and the config "
                          "sets no model_checkpoint_path" % (self.config_path, " or ".join(directories)))


# -- checkpoints ------------------------------------------------------------------------
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
        latest = max(prefixes, key=lambda p: (_step(p) or -1, _mtime(p + ".index")))
    return prefixes, latest


def _complete(prefix: str, names, directory: str) -> bool:
    """Whether the checkpoint `prefix` looks written, with its main file(s) inside `directory`."""
    base = os.path.basename(prefix)
    if base + ".index" in names:  # V2
        files = [prefix + ".index"]
    elif keras_weights.is_weights_file(base):
        files = [prefix] if base in names else []
    else:  # V1, named only by TF's ``checkpoint`` file
        files = tensors.checkpoint_files(prefix) if tensors.checkpoint_format(prefix) == "v1" else []
    return bool(files) and all(os.path.isfile(f) and paths.is_inside(f, directory) for f in files)


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
    match = _CHECKPOINT_STEP.match(_CHECKPOINT_TAIL.sub("", os.path.basename(prefix)))
    return int(match.group(2)) if match else None


def _family(prefix: Optional[str]) -> Tuple[str, str]:
    directory, base = os.path.split(prefix or "")
    base = _CHECKPOINT_TAIL.sub("", base)
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


#: Variable maps of checkpoints (a few hundred bytes per variable), by file version.
_variables_cache = ResultCache(4 * 1024 * 1024)
_VARIABLE_BYTES = 256


def _cached_variables(prefix: str):
    """tensors.checkpoint_variables, remembered per (prefix, mtime and size of its index
    file: V2 ``.index``, a V1 checkpoint's first file, the Keras weights file)."""
    files = tensors.checkpoint_files(prefix)
    signature = paths.signature(files[0]) if files else None
    if signature is None:
        return tensors.checkpoint_variables(prefix)  # raises the reader's "does not exist"
    key = (prefix, signature)
    variables = _variables_cache.get(key)
    if variables is None:
        variables = tensors.checkpoint_variables(prefix)
        _variables_cache.put(key, variables, nbytes=_VARIABLE_BYTES * (1 + len(variables)))
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
