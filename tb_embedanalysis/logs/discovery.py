"""Find projector configs under a logdir and turn them into runs, embeddings and steps.

Discovery is cheap and runs every few seconds: it reads configs and lists checkpoint files,
never tensors. One config's embeddings and their steps (retained checkpoints, tensorboardX
``tag:NNNNN``, Keras callbacks): config_refs.py; checkpoints in a directory:
checkpoint_listing.py. Here: walking the logdir, naming and grouping runs, and the lookups.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from tb_embedanalysis.logs import paths
from tb_embedanalysis.logs.checkpoint_listing import step_order
from tb_embedanalysis.logs.config_refs import read_config
from tb_embedanalysis.logs.errors import LogError, UnknownEmbeddingError
from tb_embedanalysis.logs.model import ConfigProblem, EmbeddingRef, EmbeddingSeries, RunInfo


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
        ordered = tuple(by_step[step] for step in sorted(by_step, key=lambda step: step_order((step,))))
        series.append(EmbeddingSeries(run=ordered[0].run, name=name, refs=ordered))
    return tuple(series)
