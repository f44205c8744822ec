"""The exact kNN graph in-process vs on a local Dask cluster of 2 worker processes (issue 28).

    .venv/bin/python bench/bench_distributed.py                  # 1,000,000 x 128
    .venv/bin/python bench/bench_distributed.py --n 200000       # a quicker try first
    .venv/bin/python bench/bench_distributed.py --smoke          # seconds: does it still run?

Data: N x 128 float32 Gaussian clusters (N / 1,000 centres drawn N(0, 1), spread 0.3 per
dimension, euclidean, k = 10): clustered enough that the certified search proves almost every
row from a few cells (its pilot computes < 1 % of all pairs), so the exact graph is feasible at
1M on 2 cores; unprunable data is the plain N² D product either way (bench_exact_unprunable.py).

Peers, in the same run on the same matrix: `in-process` = certified_graph.knn_graph_exact_fast
(what TensorBoard and `precompute --engine local` run: partition, pilot, 2 threads); `dask` =
precompute's DaskRunner on a LocalCluster of 2 processes × 1 thread (the partition and pilot
in the client, graph_tasks.plan; the plan scattered to each worker once; the tasks). Measured:
wall time of each phase, peak RSS of this process while in-process runs (psutil, sampled every
20 ms) and of each worker (its own peak since it started, minus its RSS before the plan
arrived), bytes shipped (the plan to each worker, the answers back). The graphs are checked
equal bit for bit. Then the scaling model for W workers (printed; see bench/README.md).
"""

import argparse
import os
import resource
import threading
import time

import numpy as np

import _support


def clustered(n, d=128, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(2, n // 1000), d)).astype(np.float32)
    x = centres[rng.integers(0, centres.shape[0], n)]
    for start in range(0, n, 100_000):  # in blocks: no (N, D) float64 temporary
        x[start:start + 100_000] += 0.3 * rng.standard_normal((min(n, start + 100_000) - start, d), dtype=np.float32)
    return x


class PeakRss:
    """Peak RSS of this process while inside the context, sampled every 20 ms."""

    def __init__(self, psutil):
        self.process, self.peak, self._stop = psutil.Process(), 0, threading.Event()

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self):
        self.base = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def worker_rss():
    """(current RSS, peak RSS since start, CPU seconds so far, minor page faults so far) of a
    worker process (bytes; Linux: ru_maxrss in KB). CPU time says what the work cost whatever
    else the cores ran; the faults say whether temporaries were reused (heap.reusing)."""
    import psutil

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return psutil.Process().memory_info().rss, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, usage.ru_minflt


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.d = 3_000, 8
    psutil = _support.peer("psutil", required=True)
    from tb_embedanalysis.analysis import certified_graph, graph_tasks, neighbors
    from tb_embedanalysis.precompute.dask_runner import DaskRunner

    x = clustered(args.n, args.d)
    prep = neighbors.prepare(x, "euclidean")
    load = os.getloadavg()[0]
    print("N=%d D=%d euclidean k=10, %.0f MB float32; %d cores, load average %.1f"
          % (args.n, args.d, x.nbytes / 1e6, os.cpu_count() or 0, load), flush=True)

    with PeakRss(psutil) as rss:
        t, cpu = time.perf_counter(), time.process_time()
        local = certified_graph.knn_graph_exact_fast(prep, 10)
        t_local, cpu_local = time.perf_counter() - t, time.process_time() - cpu
    print("in-process  %.1f s (%.1f CPU-s), peak RSS +%.0f MB over the %.0f MB before"
          % (t_local, cpu_local, (rss.peak - rss.base) / 1e6, rss.base / 1e6), flush=True)

    t = time.perf_counter()
    with DaskRunner(workers=args.workers) as runner:
        t_start = time.perf_counter() - t
        before = runner.client.run(worker_rss)
        t, cpu = time.perf_counter(), time.process_time()
        plan = graph_tasks.plan(prep, 10)
        t_plan, cpu_plan = time.perf_counter() - t, time.process_time() - cpu
        t = time.perf_counter()
        remote = runner.graph(plan)
        t_tasks = time.perf_counter() - t
        after = runner.client.run(worker_rss)
        shipped = runner.shipped
    same = np.array_equal(local.indices, remote.indices) and np.array_equal(local.distances, remote.distances,
                                                                            equal_nan=True)
    t_dask = t_plan + t_tasks
    cpu_workers = sum(after[a][2] - before[a][2] for a in after)
    print("dask        %.1f s = plan %.1f s (%.1f CPU-s: partition + pilot, in the client) + tasks %.1f s "
          "(%.1f CPU-s in the workers; %d %s tasks, scatter included); cluster start %.1f s; bit-identical: %s"
          % (t_dask, t_plan, cpu_plan, t_tasks, cpu_workers, shipped.tasks, plan.method, t_start, same), flush=True)
    for address in sorted(after):
        print("  worker %s: RSS %.0f MB before the plan, peak %.0f MB (+%.0f MB)"
              % (address, before[address][0] / 1e6, after[address][1] / 1e6,
                 (after[address][1] - before[address][0]) / 1e6))
    print("  minor page faults in the workers: %d (%d per task)"
          % (sum(after[a][3] - before[a][3] for a in after),
             sum(after[a][3] - before[a][3] for a in after) // max(1, shipped.tasks)))
    print("  shipped: plan %.0f MB (%.0f MB x %d workers), answers %.0f MB"
          % (shipped.plan_bytes / 1e6, plan.nbytes / 1e6, args.workers, shipped.result_bytes / 1e6))
    print("  ratio dask / in-process wall: %.2f" % (t_dask / t_local))
    if not same:
        raise SystemExit("the graphs differ")
    # Scaling model (bench/README.md): the plan is serial in the client; the tasks divide
    # over W workers; the scatter sends plan.nbytes to each worker from the client.
    per_worker_tasks = t_tasks * args.workers
    print("model: T(W) ≈ %.1f s + %.1f s / W + W x %.0f MB / bandwidth; per worker RSS ≈ %.0f MB + its tasks"
          % (t_plan, per_worker_tasks, plan.nbytes / 1e6, plan.nbytes / 1e6))


if __name__ == "__main__":
    main()
