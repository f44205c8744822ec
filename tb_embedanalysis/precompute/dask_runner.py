"""The exact kNN graph on a Dask distributed cluster: the `--engine dask` of `precompute`.

Why Dask (distributed), not Ray: both have wheels for Linux, macOS and Windows, but Dask
and distributed are pure-Python wheels on top of what we already install (numpy, cloudpickle,
psutil, tornado; +~15 MB, and they bring fsspec, which the cache URL uses), install on every
Python the package supports the day it is released, and start a local cluster in ~2 s;
Ray is a ~60 MB compiled wheel per platform and Python, with Windows support still marked
beta, and its object store asks for shared memory the size of the data. What ML teams run:
Dask comes with the PyData stack, runs on Kubernetes (dask-kubernetes), YARN, SLURM/PBS
(dask-jobqueue) and Coiled, and its scheduler serves a whole cluster from one address, which
is the one thing `--address` needs. Measured: bench/bench_distributed.py, bench/README.md.

How the work is cut and moved (graph_tasks.py): the plan (the prepared matrix, the k-means
partition, the task rows) is scattered to every worker once (`broadcast=True`, pickled with
out-of-band buffers: the arrays are not copied into the pickle); each task is then its
number alone, a few row blocks against the whole matrix, and answers (rows, indices,
distances). A task whose worker dies is rerun by the scheduler on another worker
(`retries`, and the scheduler's own reassignment of a lost worker's tasks): we never
resubmit anything ourselves. Progress is the rows of the tasks finished so far.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Optional

from tb_embedanalysis.analysis import graph_tasks
from tb_embedanalysis.analysis.neighbors import KnnGraph
from tb_embedanalysis.analysis.progress import ProgressFn
from tb_embedanalysis.errors import InvalidArgument, Unanalysable
from tb_embedanalysis.quoting import clipped, excerpt

#: How often the scheduler retries a task that failed (a worker lost mid-task is rescheduled
#: by the scheduler itself, up to its `distributed.scheduler.allowed-failures`).
RETRIES = 2

INSTALL_HINT = "the dask engine needs Dask distributed: pip install 'tb-embedanalysis[dask]'"


@dataclasses.dataclass
class Shipped:
    """What a graph cost in traffic: bytes of the plan sent to the workers (once per worker)
    and bytes of the answers sent back, and how many tasks ran."""

    plan_bytes: int = 0
    result_bytes: int = 0
    tasks: int = 0

    def add(self, other: "Shipped") -> None:
        self.plan_bytes += other.plan_bytes
        self.result_bytes += other.result_bytes
        self.tasks += other.tasks


class DaskRunner:
    """A Dask client: to the scheduler at `address`, or to a local cluster of `workers`
    processes (one thread each) it starts and stops. Use as a context manager."""

    name = "dask"

    def __init__(self, *, address: Optional[str] = None, workers: int = 2):
        try:
            import distributed
        except ImportError:
            raise InvalidArgument(INSTALL_HINT) from None
        self._cluster = None
        if address:
            try:
                self.client = distributed.Client(address, timeout="30s")
            except (OSError, TimeoutError, ValueError) as error:
                raise InvalidArgument("cannot reach the Dask scheduler at %s: %s" % (excerpt(address), clipped(str(error)))) from None
        else:
            # Processes, one thread each: the tasks are numpy products that run with BLAS on
            # one thread (graph_tasks.run), so a worker per core keeps every core busy.
            self._cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = distributed.Client(self._cluster)
        self.shipped = Shipped()

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    def __enter__(self) -> "DaskRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def graph(self, graph_plan: graph_tasks.GraphPlan, *, on_progress: ProgressFn = None) -> KnnGraph:
        """The plan's graph, its tasks run on the cluster (see the module docstring)."""
        import distributed

        workers = self.workers
        if workers < 1:  # tasks would wait for a worker forever
            raise Unanalysable("the Dask cluster has no workers; start some (dask worker ADDRESS) and run again")
        shared = self.client.scatter(graph_plan, broadcast=True, hash=False)
        total = max(1, sum(block.size for task in graph_plan.tasks for block in task))
        futures = [self.client.submit(graph_tasks.run, shared, i, retries=RETRIES, pure=False,
                                      key="knn-%s-%d-%d" % (graph_plan.method, time.monotonic_ns(), i))
                   for i in range(len(graph_plan.tasks))]
        results, done = [], 0
        try:
            for _, result in distributed.as_completed(futures, with_results=True):
                results.append(result)
                done += result[0].size
                if on_progress is not None:
                    on_progress(done / total, "kNN graph (%s, %d tasks on %d workers)"
                                % (graph_plan.method, len(futures), workers))
        finally:
            self.client.cancel(futures + [shared])
        self.shipped.add(Shipped(plan_bytes=graph_plan.nbytes * workers,
                                 result_bytes=sum(a.nbytes for r in results for a in r), tasks=len(futures)))
        return graph_tasks.assemble(graph_plan, results)
