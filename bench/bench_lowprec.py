"""Could int8 products make the exact pass on unprunable data faster (issue 25, item 1)?
Measured before building, the three figures it hangs on, in one run:

    .venv/bin/python bench/bench_lowprec.py --ort-python /tmp/lowprec-env/bin/python
    .venv/bin/python bench/bench_lowprec.py --smoke          # seconds: does it still run?

1. rates: products of the symmetric pass's block shape (1,024 × D times D × 512, one thread,
   as each of symmetric_graph's threads runs them): numpy float32 (this venv's OpenBLAS) against
   onnxruntime's MatMulInteger (u8 × s8 → exact int32; s8 × s8), QLinearMatMul (its output
   requantised to 8 bits: no use for a ranking, for reference) and a bf16 MatMul (onnxruntime
   has no CPU kernel for it: reported as such). onnxruntime runs in --ort-python's interpreter
   (with onnxruntime and onnx; not a dependency of the package), else it is skipped.
2. the bound: unit rows of the data quantised per row (analysis/quant_bound.py, its proof in
   the docstring); for --queries rows against all N, the k-th largest lower bound T (a sure
   floor of the k-th cosine) and how many rows have an upper bound ≥ T: the rows an int8 pass
   must re-rank in float for each query (today's pass: K' = neighbors.candidates(k)).
3. the projection: the symmetric pass (symmetric_graph.knn_graph, 2 threads: what the engine
   runs) timed; then on one thread its parts: every tile's float32 products, the folds into
   heaps of K' and of M (M = the 99th percentile of 2.'s counts, each heap the superset an
   int8 pass would need), the exact finish from those heaps, and re-keying M candidates a row
   in float32. int8 ≈ pass − (products − products / int8 speed-up) / 2 + (fold M − fold K') / 2
   + (finish M − finish K' + re-key M) / 2: optimistic (no quantisation, no bound arithmetic in
   the fold, no int32 conversion, no fallback for rows whose heap is too small); then again
   with the fold an int8 pass would run (bench/_int8_fold.py: int32 products, the per-pair
   bound in the marking pass, heaps of M) and the quantisation, timed on one thread.

Data as bench_exact_unprunable.py's (unclustered N(0, 1) rows; wide: 50 centres N(0, 1) +
0.8 · N(0, 1)), N × D float32, cosine, k = 10.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, Tuple

import numpy as np

import _int8_fold
import _support
from bench_exact_unprunable import add_case_args, make_data

ORT_SNIPPET = r"""
import json, sys, time, numpy as np, onnxruntime as ort
from onnx import helper, TensorProto as TP
from threadpoolctl import threadpool_limits
m, d, c, reps = (int(v) for v in sys.argv[1:5])
rng = np.random.default_rng(0)

def session(op, inputs, output, inits=()):
    node = helper.make_node(op, [name for name, _, _ in inputs], ["Y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs if s],
                              [helper.make_tensor_value_info("Y", output, [m, c])], initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

def best(fn):
    fn()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t) / reps)
    return min(times)

a32, b32 = rng.standard_normal((m, d)).astype(np.float32), rng.standard_normal((d, c)).astype(np.float32)
au8 = rng.integers(0, 256, (m, d), dtype=np.uint8)
as8, bs8 = (rng.integers(-127, 128, s, dtype=np.int8) for s in ((m, d), (d, c)))
out, rows = np.empty((m, c), np.float32), {}
with threadpool_limits(1, "blas"):
    rows["numpy float32 (1 BLAS thread)"] = best(lambda: np.matmul(a32, b32, out=out))
s = session("MatMul", [("A", TP.FLOAT, [m, d]), ("B", TP.FLOAT, [d, c])], TP.FLOAT)
rows["onnxruntime MatMul float32"] = best(lambda: s.run(None, {"A": a32, "B": b32}))
zero = helper.make_tensor("za", TP.UINT8, [], [128])  # u8 codes = s8 codes + 128
s = session("MatMulInteger", [("A", TP.UINT8, [m, d]), ("B", TP.INT8, [d, c]), ("za", TP.UINT8, None)], TP.INT32, [zero])
got = s.run(None, {"A": au8, "B": bs8})[0]
assert np.array_equal(got, (au8.astype(np.int64) - 128) @ bs8.astype(np.int64)), "MatMulInteger is not exact"
rows["onnxruntime MatMulInteger u8 x s8 -> int32"] = best(lambda: s.run(None, {"A": au8, "B": bs8}))
s = session("MatMulInteger", [("A", TP.INT8, [m, d]), ("B", TP.INT8, [d, c])], TP.INT32)
rows["onnxruntime MatMulInteger s8 x s8 -> int32"] = best(lambda: s.run(None, {"A": as8, "B": bs8}))
inits = [helper.make_tensor(n, t, [], [v]) for n, t, v in [("as", TP.FLOAT, 0.01), ("az", TP.UINT8, 128),
         ("bs", TP.FLOAT, 0.01), ("bz", TP.INT8, 0), ("ys", TP.FLOAT, 1.0), ("yz", TP.UINT8, 128)]]
s = session("QLinearMatMul", [("A", TP.UINT8, [m, d]), ("as", 0, None), ("az", 0, None), ("B", TP.INT8, [d, c]),
            ("bs", 0, None), ("bz", 0, None), ("ys", 0, None), ("yz", 0, None)], TP.UINT8, inits)
rows["onnxruntime QLinearMatMul u8 x s8 -> u8"] = best(lambda: s.run(None, {"A": au8, "B": bs8}))
try:
    session("MatMul", [("A", TP.BFLOAT16, [m, d]), ("B", TP.BFLOAT16, [d, c])], TP.BFLOAT16)
    rows["onnxruntime MatMul bf16"] = None  # a kernel exists: timing it needs ml_dtypes (not done)
except Exception as e:
    rows["onnxruntime MatMul bf16"] = "no CPU kernel: " + str(e).split(":")[-1].strip()[:80]
print(json.dumps({"version": ort.__version__, "rows": rows}))
"""


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def rates(args) -> float:
    """Print the block products' rates; the int8 GEMM's speed-up over numpy float32 (0: none)."""
    m, c, flops = 1024, 512, 2.0 * 1024 * args.d * 512
    python = args.ort_python or sys.executable
    done = subprocess.run([python, "-c", ORT_SNIPPET, str(m), str(args.d), str(c), str(args.reps)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print("rates: onnxruntime not measured (%s): %s" % (python, done.stderr.strip().splitlines()[-1:]))
        return 0.0
    found = json.loads(done.stdout.strip().splitlines()[-1])
    print("rates, %d x %d x %d, one thread, onnxruntime %s (%s):" % (m, args.d, c, found["version"], load()))
    for name, seconds in found["rows"].items():
        if isinstance(seconds, float):
            print("  %-45s %8.1f us  %6.1f G(FL)OPS" % (name, seconds * 1e6, flops / seconds / 1e9))
        else:
            print("  %-45s %s" % (name, seconds))
    speed = found["rows"]["numpy float32 (1 BLAS thread)"] / found["rows"]["onnxruntime MatMulInteger u8 x s8 -> int32"]
    print("  int8 (u8 x s8) over numpy float32: %.2fx" % speed, flush=True)
    return speed


def rerank_counts(unit: np.ndarray, k: int, queries: int) -> np.ndarray:
    """For `queries` evenly spaced rows of unit (N, D) float32: how many other rows an int8
    pass must re-rank (upper bound ≥ the k-th largest lower bound)."""
    from tb_embedanalysis.analysis import quant_bound

    n = unit.shape[0]
    q = quant_bound.quantise(unit)
    rows = np.linspace(0, n - 1, queries).astype(np.int64)
    counts = np.empty(rows.size, dtype=np.int64)
    for start in range(0, rows.size, 64):
        part = rows[start:start + 64]
        sub = quant_bound.Quantised(*(getattr(q, f)[part] for f in ("codes", "scales", "residual", "norm", "coded_norm")))
        ints = sub.codes.astype(np.float64) @ q.codes.astype(np.float64).T  # integers < 2⁵³: exact
        approx = quant_bound.products(sub, q, ints)
        beta = quant_bound.bound(sub, q, approx)
        lower, upper = approx - beta, approx + beta
        lower[np.arange(part.size), part] = upper[np.arange(part.size), part] = -np.inf
        floor = -np.partition(-lower, k - 1, axis=1)[:, k - 1]  # the k-th largest lower bound
        counts[start:start + part.size] = (upper >= floor[:, None]).sum(axis=1)
    return counts


def parts(prep, k: int, widths, threads: int = 1):
    """One thread: seconds of the symmetric pass's float32 products, and for each heap width
    of `widths` its folds, its exact finish and re-keying that many candidates a row."""
    from tb_embedanalysis.analysis import pair_fold, symmetric_graph
    from tb_embedanalysis.analysis.blas import one_blas_thread

    n = prep.work.shape[0]
    starts = list(range(0, n, symmetric_graph.CHUNK_ROWS))
    tiles = [t for r in symmetric_graph.rounds(len(starts)) for t in r]
    invalid, cols = ~prep.valid, symmetric_graph.BLOCK_COLUMNS
    products = 0.0
    out: Dict[int, Tuple[float, float, float]] = {}
    with one_blas_thread():
        for width in widths:
            heap_keys = np.full((n, width), np.inf, dtype=np.float32)
            heap_rows = np.full((n, width), n, dtype=np.int64)
            fold = 0.0
            for a, b in tiles:
                r0, c_start = starts[a], starts[b]
                for c0 in range(c_start, min(n, c_start + symmetric_graph.CHUNK_ROWS), cols):
                    t = time.perf_counter()
                    dots = np.ascontiguousarray(prep.work[r0:r0 + symmetric_graph.CHUNK_ROWS] @ prep.work[c0:c0 + cols].T)
                    t2 = time.perf_counter()
                    pair_fold.fold_block(dots, prep.key_scale, False, invalid, r0, c0, heap_keys, heap_rows, both=a != b)
                    fold += time.perf_counter() - t2
                    if width == widths[0]:
                        products += t2 - t
            t = time.perf_counter()
            symmetric_graph._finish(prep, k, heap_keys, heap_rows, np.flatnonzero(prep.valid), on_progress=None,
                                    threads=threads)
            finish = time.perf_counter() - t
            t = time.perf_counter()
            for s in range(0, n, 128):  # float32 keys of `width` candidates a row, from W
                gathered = prep.work[np.minimum(heap_rows[s:s + 128], n - 1)]
                np.matmul(gathered, prep.work[s:s + 128, :, None])
            out[width] = (fold, finish, time.perf_counter() - t)
    return products, out


def run_case(kind: str, args, speed: float) -> None:
    from tb_embedanalysis.analysis import neighbors, pair_fold, quant_bound, symmetric_graph

    x = make_data(kind, args.n, args.d)
    kk = neighbors.candidates(args.k)
    unit = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    counts = rerank_counts(unit, args.k, args.queries)
    p50, p90, p99 = np.percentile(counts, [50, 90, 99])
    print("%s N=%d D=%d cosine k=%d: rows to re-rank a query within the int8 bound, %d queries: median %d, "
          "90th %d, 99th %d, max %d (today K' = %d)" % (kind, args.n, args.d, args.k, counts.size, p50, p90, p99,
                                                       counts.max(), kk), flush=True)
    if args.no_parts:
        return
    wide = int(np.ceil(max(p99, kk + 1) / 8) * 8)
    prep = neighbors.prepare(x, "cosine")
    pair_fold.warm()
    t = time.perf_counter()
    symmetric_graph.knn_graph(prep, args.k)
    t_pass = time.perf_counter() - t
    print("  symmetric pass, %d threads: %.2f s (%s)" % (neighbors.GRAPH_THREADS, t_pass, load()), flush=True)
    products, got = parts(prep, args.k, [kk, wide])
    print("  one thread: float32 products %.2f s; fold / finish / re-key at K' = %d: %.2f / %.2f / %.2f s, "
          "at M = %d: %.2f / %.2f / %.2f s (%s)" % ((products, kk) + got[kk] + (wide,) + got[wide] + (load(),)))
    t = time.perf_counter()
    quantised = quant_bound.quantise(unit)
    t_quantise = time.perf_counter() - t
    starts = list(range(0, args.n, symmetric_graph.CHUNK_ROWS))
    tiles = [tile for r in symmetric_graph.rounds(len(starts)) for tile in r]
    fold_int8 = _int8_fold.fold_seconds(quantised, tiles, starts, symmetric_graph.CHUNK_ROWS,
                                        symmetric_graph.BLOCK_COLUMNS, wide)
    print("  one thread: quantising %.2f s; int8 fold (int32 products, the bound in the marking pass) at M = %d: "
          "%.2f s (%s)" % (t_quantise, wide, fold_int8, load()), flush=True)
    if speed:
        saved = products * (1 - 1 / speed)
        for name, fold in (("optimistic", got[wide][0]), ("with the int8 fold and quantising", fold_int8 + t_quantise)):
            extra = (fold - got[kk][0]) + (got[wide][1] - got[kk][1]) + got[wide][2]
            print("  projected int8 pass, 2 threads, %s: %.2f s - %.2f s (products %.1fx faster) + %.2f s (heaps "
                  "of M, finish, re-key) = %.2f s against %.2f s: %s"
                  % (name, t_pass, saved / 2, speed, extra / 2, t_pass + (extra - saved) / 2, t_pass,
                     "could win" if extra < saved else "cannot win"), flush=True)


def main():
    parser = argparse.ArgumentParser()
    add_case_args(parser)
    parser.add_argument("--queries", type=int, default=1000, help="rows whose re-rank count is measured")
    parser.add_argument("--reps", type=int, default=200, help="products per rate timing")
    parser.add_argument("--ort-python", default="", help="a python with onnxruntime, onnx and threadpoolctl")
    parser.add_argument("--no-parts", action="store_true", help="rates and the bound only")
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.queries, args.reps = 3000, 50, 3
    _support.smoke_kernels(args.smoke)
    print("uptime: %s" % load(), flush=True)
    speed = rates(args)
    for kind in args.cases.split(","):
        run_case(kind, args, speed)


if __name__ == "__main__":
    main()
