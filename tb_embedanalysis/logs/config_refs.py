"""One projector config -> the EmbeddingRefs of its embeddings, and the problems of those
that cannot be used.

Like TensorBoard's Projector, a run with a checkpoint offers every 2-D float variable of it
besides those the config names (optimizer slots left out). Keras' TensorBoard callback
(tf_keras and Keras 3) writes its config to ``log_dir/`` but its checkpoints to
``log_dir/train/``, where its events are: when the config's own directories hold no
checkpoint, ``train/`` is looked in, and the embeddings are listed under that run, as
TensorBoard lists the callback's scalars.

Steps come from three conventions, all mapped onto `EmbeddingRef.step`:
  * retained checkpoints ``model.ckpt-100``, ``model.ckpt-10000`` (the ``-NNN`` suffix; Keras'
    ``keras_embedding.ckpt-<epoch>``: one step per epoch; see checkpoint_listing.py);
  * tensorboardX / torch ``add_embedding`` and our writer: tensor_name ``"tag:00010"``
    (only for tensor files: on a checkpoint tensor ``:0`` is TF's output index);
  * none: step None.
"""

from __future__ import annotations

import os
import re
from typing import List, Optional, Sequence, Tuple

from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig

from tb_embedanalysis.logs import keras_weights, paths, sprites
from tb_embedanalysis.logs import metadata as metadata_io
from tb_embedanalysis.logs.checkpoint_listing import (
    cached_variables, checkpoint_family, checkpoint_step, list_checkpoints, step_order,
)
from tb_embedanalysis.logs.checkpoint_reader import checkpoint_files, checkpoint_format, checkpoint_key, display_name
from tb_embedanalysis.logs.errors import ConfigError, LogError, UnsafePathError
from tb_embedanalysis.logs.model import ConfigProblem, EmbeddingRef, SpriteSpec, TensorSource
from tb_embedanalysis.quoting import clipped, excerpt

_NAME_AND_STEP = re.compile(r"^(.*):(\d+)$")
KERAS_CHECKPOINT_SUBDIR = "train"  # where Keras' TensorBoard callback saves embedding checkpoints
# Optimizer state has the shape of the variables it trains, but is not an embedding.
_OPTIMIZER_MARKERS = (".OPTIMIZER_SLOT", "optimizer", "Adam", "Momentum", "RMSProp", "Adagrad", "Ftrl",
                      "/m/", "/v/", "ExponentialMovingAverage")
_BINARY_SUFFIXES = (".bytes", ".bin", ".f32", ".raw")
_TEXT_SUFFIXES = (".tsv", ".txt")


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
                                                         clipped(detail))) from None  # may quote a huge token
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
        self._checkpoint_warning: Optional[str] = None  # for every checkpoint ref: read another than named

    def problem(self, error: LogError, *, tensor_name: str = "") -> ConfigProblem:
        # Name the config entry: one config can list many embeddings.
        message = "embedding %s: %s" % (excerpt(tensor_name), error) if tensor_name else str(error)
        return ConfigProblem(run=self.run, config_path=self.config_path, message=message)

    def resolve(self, path: str, *, probe_suffix: str = "") -> str:
        return paths.resolve(path, base_dirs=self.base_dirs, root=self.run_dir, config_path=self.config_path,
                             probe_suffix=probe_suffix, root_name=self.root_name)

    def ref(self, info: Optional[EmbeddingInfo], name: str, step: Optional[int], tensor: TensorSource, *,
            run: Optional[str] = None):
        metadata = sprite = None
        warnings = []
        if tensor.kind == "checkpoint" and self._checkpoint_warning:
            warnings.append(self._checkpoint_warning)  # not the checkpoint the config names
        # A metadata or sprite path leading outside the run costs that file only: the vectors
        # stay analysable, and the refusal is shown with the embedding (as its warning).
        if info is not None and info.metadata_path:
            try:
                metadata = self.resolve(info.metadata_path)
            except UnsafePathError as error:
                warnings.append(metadata_io.refusal_warning(error))
        if info is not None and info.sprite.image_path:
            try:
                # As given, right or wrong: loading checks it, and quotes a wrong one.
                sprite = SpriteSpec(path=self.resolve(info.sprite.image_path),
                                    single_image_dim=tuple(info.sprite.single_image_dim))
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
        keras_key = keras_weights.is_keras_embedding_key(info.tensor_name)
        self._keras_entries += keras_key
        tf_key = self._keras2_key(config, info.tensor_name, ordinal, checkpoints[-1][1]) if keras_key else None
        refs = []
        for step, prefix in checkpoints:
            key = info.tensor_name
            if checkpoint_format(prefix) == "keras_h5":
                key = keras_weights.dataset_for(info.tensor_name, ordinal)
            elif tf_key is not None:
                key = tf_key
            refs.append(self.ref(info, display_name(key), step,
                                 TensorSource(kind="checkpoint", path=prefix, tensor_name=key), run=self.checkpoint_run))
        return refs

    def _keras2_key(self, config: ProjectorConfig, tensor_name: str, ordinal: int, latest: str) -> Optional[str]:
        """The table a Keras 2 callback's entry means, when its name cannot be trusted.

        tf_keras names every Embedding layer ``layer_with_weights-0/embeddings``: when the
        config repeats that name (two or more Embedding layers: the second one's metadata
        landed on the first table) or the checkpoint has no such variable, entry `ordinal`
        is the checkpoint's `ordinal`-th Embedding table. None: keep the name as written.
        """
        if checkpoint_format(latest) == "keras_h5":
            return None
        repeated = sum(info.tensor_name == tensor_name for info in config.embeddings) > 1
        try:
            variables = cached_variables(latest)
        except LogError:
            return None  # loading the entry will say what is wrong with the checkpoint
        if not repeated and checkpoint_key(tensor_name, variables) is not None:
            return None
        return keras_weights.checkpoint_table(ordinal, variables)

    def other_variable_refs(self, config: ProjectorConfig, carrier: Optional[EmbeddingInfo], *,
                            named: Sequence[EmbeddingRef], required: bool) -> List[EmbeddingRef]:
        """Refs of the 2-D float variables of the latest checkpoint that `named` does not cover.

        `required`: a missing checkpoint, or one with nothing to show while the config names
        nothing, is an error; else (the config names tensor files only) simply no refs.
        """
        try:
            checkpoints = self.checkpoints(config)
            variables = cached_variables(checkpoints[-1][1])
        except LogError:
            if required:
                raise
            return []  # tensor files only: a stray checkpoint (or no TensorFlow) costs nothing
        taken_names = {ref.tensor.tensor_name or "" for ref in named if ref.tensor.kind == "checkpoint"}
        taken = {checkpoint_key(name, variables) for name in taken_names}
        keys = sorted(key for key, (shape, dtype) in variables.items()
                      if len(shape) == 2 and dtype.startswith(("float", "half", "bfloat")) and not _is_optimizer(key)
                      and key not in taken)
        if not keys and not named and required:
            raise ConfigError("%s names no tensor, and checkpoint %s has no 2-D float variable to show"
                              % (self.config_path, checkpoints[-1][1]))
        return [self.ref(carrier, display_name(key), step,
                         TensorSource(kind="checkpoint", path=prefix, tensor_name=key), run=self.checkpoint_run)
                for key in keys for step, prefix in checkpoints]

    def checkpoints(self, config: ProjectorConfig) -> List[Tuple[Optional[int], str]]:
        """(step, prefix) of the checkpoints to show, oldest first; raises if there are none."""
        if self._checkpoints is None:
            self._checkpoints = self._find_checkpoints(config)
        return self._checkpoints

    def _checkpoint_prefix(self, path: str) -> str:
        """The checkpoint a config's model_checkpoint_path names, inside the run.

        An absolute path is where the logdir was when the config was written. When the logdir
        has been moved or copied since, the run's own checkpoint of that name is read: silently
        when the original is gone, with a warning on every checkpoint embedding when it still
        exists outside the run (a copy: the original is never read, and the user should know
        which one is shown). Without such a checkpoint in the run, the refusal stands.
        """
        if not os.path.isabs(path):
            return self.resolve(path, probe_suffix=".index")
        local = os.path.basename(path)
        if not any(os.path.exists(f) for f in checkpoint_files(path)):
            return self.resolve(local, probe_suffix=".index")  # moved or copied, the original gone
        try:
            return self.resolve(path, probe_suffix=".index")
        except UnsafePathError:
            prefix = self.resolve(local, probe_suffix=".index")
            if not any(os.path.exists(f) for f in checkpoint_files(prefix)):
                raise
            self._checkpoint_warning = (
                "%s: model_checkpoint_path %s lies outside %s (a copied logdir?); showing the run's own %s"
                % (self.config_path, excerpt(path), self.root_name, excerpt(local)))
            return prefix

    def _find_checkpoints(self, config: ProjectorConfig) -> List[Tuple[Optional[int], str]]:
        if config.model_checkpoint_path:
            prefix = self._checkpoint_prefix(config.model_checkpoint_path)
            family = checkpoint_family(prefix)
            siblings = {p for p in list_checkpoints(os.path.dirname(prefix))[0] if checkpoint_family(p) == family}
            siblings.add(prefix)  # even if not written yet: loading it will say so
            return sorted(((checkpoint_step(p), p) for p in siblings), key=step_order)
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
                family = checkpoint_family(latest)
                return sorted(((checkpoint_step(p), p) for p in found if checkpoint_family(p) == family),
                              key=step_order)
        raise ConfigError("%s: the embeddings come from a checkpoint, but there is none in %s and the config "
                          "sets no model_checkpoint_path" % (self.config_path, " or ".join(directories)))


def _is_optimizer(key: str) -> bool:
    return any(marker in key for marker in _OPTIMIZER_MARKERS)
