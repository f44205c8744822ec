"""One precompute pass: for each chosen step of an embedding, what the tab computes when it is
first opened, left in the cache the tab reads.

Per step: the exact kNN graph of every k bucket asked for (space.GRAPH_KS: `--k 10 15` needs
the graphs for 10 and 20), built by the runner (a Dask cluster, dask_runner.py) when one is
given and written under the engine's own key (AnalysisEngine.graph_key), signed by the
cache's DiskCache; without a runner the engine builds them itself, in this process. Then the
tab's questions through `queries`, the same functions the routes call (cluster statistics,
hard examples, outliers, near-duplicates, the PCA map): they read those graphs from the
cache, and the engine keeps their results on disk under its own keys (graphs, maps, and the
results of result_entries.py), which is then what the tab reads, computing nothing. Last a
provenance record (analysis/provenance.py) that the tab shows. With every step chosen, the
history ranking over all of them (it reads each step's graph).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import time
import uuid
from typing import Callable, List, Optional, Sequence, Tuple

from tb_embedanalysis import __version__, queries
from tb_embedanalysis.analysis import graph_tasks, provenance
from tb_embedanalysis.analysis.space import graph_k
from tb_embedanalysis.errors import InvalidArgument, QueryError
from tb_embedanalysis.logs.errors import LogError

Report = Callable[[float, Optional[str]], None]


@dataclasses.dataclass(frozen=True)
class Options:
    """What to precompute. ks: neighbours asked for (each analysed; graphs per bucket);
    metric: a METRIC_CHOICES name (auto: chosen from the labels, as the tab does);
    label_column: None for the guessed one; steps: None for every step of the series."""

    ks: Tuple[int, ...] = (queries.DEFAULT_K,)
    metric: str = queries.AUTO_METRIC
    label_column: Optional[str] = None
    steps: Optional[Tuple[int, ...]] = None


@dataclasses.dataclass
class StepDone:
    """What one step's pass did: graphs built (k bucket, how: "certified"/"plain" on the
    cluster, "in-process", or "cached"), questions answered, questions refused (name, why)."""

    run: str
    name: str
    step: Optional[int]
    seconds: float = 0.0
    metric: str = ""
    graphs: List[Tuple[int, str]] = dataclasses.field(default_factory=list)
    answered: List[str] = dataclasses.field(default_factory=list)
    refused: List[Tuple[str, str]] = dataclasses.field(default_factory=list)


def chosen_steps(series, options: Options) -> List[Optional[int]]:
    """The series' steps in `options.steps` (all of them when None), oldest first; a step the
    series does not have is a QueryError naming the ones it has."""
    if options.steps is None:
        return list(series.steps)
    missing = [s for s in options.steps if s not in series.steps]
    if missing:
        raise InvalidArgument("%s/%s has no step %s; its steps: %s" % (
            series.run, series.name, ", ".join(map(str, missing)), ", ".join(map(str, series.steps))))
    return [s for s in series.steps if s in options.steps]


def run_series(workspace: queries.Workspace, series, options: Options, *, runner=None,
               on_step: Callable[[str], Report], engine_name: str = "local", workers: int = 1) -> List[StepDone]:
    """Precompute every chosen step of `series` (and its history when every step is chosen);
    on_step(description) gives the progress callback of one step's bar."""
    done = []
    if workspace.engine.origin is None:  # this pass's id: in its records and every result entry it writes
        workspace.engine.origin = uuid.uuid4().hex[:16]
    for step in chosen_steps(series, options):
        report = on_step("%s/%s step %s" % (series.run, series.name, step))
        done.append(run_step(workspace, series, step, options, runner=runner, report=report,
                             engine_name=engine_name, workers=workers))
    numbered = [s for s in series.steps if s is not None]
    if options.steps is None and len(numbered) >= 2:
        report = on_step("%s/%s history over %d steps" % (series.run, series.name, len(numbered)))
        if runner is not None:  # its graphs (valid rows of every step, the latest's metric) on the cluster
            _ask(done[-1], "history graphs", lambda: _history_graphs(workspace, series, options, runner, report))
        _ask(done[-1], "history", lambda: queries.ranked_examples(
            workspace, series.run, series.name, method=queries.HISTORY_METHOD, k=options.ks[0],
            metric=options.metric, label_column=options.label_column, wait=True, on_progress=report))
    return done


def _history_graphs(workspace: queries.Workspace, series, options: Options, runner, report: Report) -> None:
    """The graph of every step of the history the tab ranks by, built on the runner where the
    cache has none: its spaces differ from the steps' own when a step has rows that are not
    finite at every step, or when metric=auto chose another metric at some step."""
    engine = workspace.engine
    spaces, k = queries.history_spaces(workspace, series.run, series.name, label_column=options.label_column,
                                       k=options.ks[0], metric=options.metric)
    for i, where in enumerate(spaces):
        key = engine.graph_key(where, k)
        if not os.path.exists(engine.disk.path(key.as_dict())):
            part = _share(report, 0.8 * i / len(spaces), 0.8 / len(spaces))
            graph_plan = graph_tasks.plan(engine.prepared(where), graph_k(k, where.n_valid))
            engine.keep_graph(where, runner.graph(graph_plan, on_progress=part))


def run_step(workspace: queries.Workspace, series, step: Optional[int], options: Options, *, runner=None,
             report: Report, engine_name: str, workers: int) -> StepDone:
    """One step: graphs, questions, provenance (see the module docstring)."""
    started = time.perf_counter()
    engine = workspace.engine
    embedding = workspace.load(series.run, series.name, step)
    metric, _ = queries.resolve_metric(engine, embedding, options.metric, options.label_column)
    where = queries.space(embedding, metric)
    ks = [queries.check_k(embedding, k) for k in options.ks]
    done = StepDone(series.run, series.name, embedding.ref.step, metric=metric)
    buckets = sorted({graph_k(k, where.n_valid) for k in ks} | {graph_k(queries.DEFAULT_K, where.n_valid)})
    share = 0.8 / len(buckets)
    for i, size in enumerate(buckets):
        part = _share(report, i * share, share)
        key = engine.graph_key(where, size)
        if engine.disk.enabled and os.path.exists(engine.disk.path(key.as_dict())):
            done.graphs.append((size, "cached"))
        elif runner is None:  # the questions below build it, in this process, as the tab does
            done.graphs.append((size, "in-process"))
        else:
            for k in ks:  # refuse before the cluster works, as the tab would
                queries.check_work_memory(engine, embedding, "outliers", k=k)
            part(0.0, "partitioning the rows")
            graph_plan = graph_tasks.plan(engine.prepared(where), size)
            engine.keep_graph(where, runner.graph(graph_plan, on_progress=part))
            done.graphs.append((size, graph_plan.method))
    questions = _questions(engine, embedding, options, ks)
    for i, (name, ask) in enumerate(questions):
        part = _share(report, 0.8 + 0.2 * i / len(questions), 0.2 / len(questions))
        part(0.0, name)
        _ask(done, name, functools.partial(ask, on_progress=part))
    done.seconds = time.perf_counter() - started
    record = {"tool": provenance.TOOL, "version": __version__, "seconds": round(done.seconds, 1),
              "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "engine": engine_name, "workers": int(workers), "fingerprint": embedding.fingerprint,
              "graph_ks": [size for size, _ in done.graphs], "pass": engine.origin}
    provenance.write(engine.disk, where, record)
    report(1.0, "done")
    return done


def _questions(engine, embedding, options: Options, ks: Sequence[int]) -> List[Tuple[str, Callable[..., object]]]:
    """(name, ask(on_progress)) of what the tab asks first, each k asked for."""
    metric, column = options.metric, options.label_column
    asked: List[Tuple[str, Callable[..., object]]] = []
    for k in ks:
        asked.append(("clusters k=%d" % k, functools.partial(
            queries.clusters, engine, embedding, k=k, metric=metric, label_column=column, wait=True)))
        asked.append(("hard examples k=%d" % k, functools.partial(
            queries.hard_examples, engine, embedding, k=k, metric=metric, label_column=column, wait=True)))
        asked.append(("outliers k=%d" % k, functools.partial(
            queries.outliers, engine, embedding, k=k, metric=metric, wait=True)))
    asked.append(("near-duplicates", functools.partial(queries.duplicates, engine, embedding, metric=metric, wait=True)))
    asked.append(("PCA map", functools.partial(queries.projection, engine, embedding, method="pca", wait=True)))
    return asked


def _ask(done: StepDone, name: str, ask) -> None:
    """ask(), noted as answered, or as refused with the message a user would see."""
    try:
        ask()
    except (QueryError, LogError) as error:
        done.refused.append((name, str(error)))
    else:
        done.answered.append(name)


def _share(report: Report, start: float, width: float) -> Report:
    def part(fraction: float, message: Optional[str] = None) -> None:
        report(start + width * fraction, message)
    return part
