"""Soak: the long form of tests/test_live_training.py.

A writer process saves a new step every `--interval` s for `--seconds` - (a) TF1
`tf.compat.v1.train.Saver(max_to_keep=3)`, (b) `write_embedding` with increasing steps -
while `--clients` threads ask /runs, then /neighbors or /clusters at a listed step or the
latest, through the plugin's WSGI app. Every answer is checked against the step it was
asked for (the vectors are `step * base`, the writer's metadata names the step). Printed
per mode: answers checked, 404s for steps deleted by retention, problems, the worst lag of
/runs behind the writer, and this process's RSS at the start and the end (growth over
time = a leak in the store or the engine caches).

    .venv/bin/python bench/bench_soak.py [--modes tf1 writer] [--seconds 120] [--clients 8]
    .venv/bin/python bench/bench_soak.py --smoke     # writer mode, 2 s, 2 clients: does it still run?

Exit status 1 if any answer was wrong.
"""

import argparse
import pathlib
import sys
import tempfile
import time

from werkzeug import test as werkzeug_test

import _support

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))  # its helpers

from live_check import Checker, make_app, run_clients, start_writer, writer_output, written_steps


def rss_mb() -> float:
    """This process's RSS in MB (psutil, a bench peer); NaN without it (a smoke run)."""
    try:
        import psutil  # bench extra: imported where needed
    except ImportError:
        return float("nan")
    return psutil.Process().memory_info().rss / 2**20


def soak(mode: str, root: pathlib.Path, *, seconds: float, clients: int, interval: float) -> bool:
    logdir = root / mode / "logs" / "train"
    writer = start_writer(mode, logdir, seconds=seconds + 90, interval=interval)
    try:
        deadline = time.monotonic() + 90
        while len(written_steps(logdir)) < 2:
            if writer.poll() is not None or time.monotonic() > deadline:
                print(writer_output(logdir))
                return False
            time.sleep(0.1)
        checker = Checker(make_app(root / mode / "logs", root / mode / "cache"), mode, logdir)
        checker.get(werkzeug_test.Client(checker.app), "/runs")  # the tab is open: TF imported
        rss_start = rss_mb()
        first_step = written_steps(logdir)[-1][0]
        run_clients(checker, clients=clients, seconds=seconds, grace=120)
        alive = writer.poll() is None
    finally:
        writer.kill()
        writer.wait()
    steps = written_steps(logdir)
    worst_lag = 0.0
    for seen_at, latest in checker.latest_seen:
        newer = [at for step, at in steps if step > latest and at < seen_at]
        if newer:
            worst_lag = max(worst_lag, seen_at - min(newer))
    print("%-6s %d s, %d clients: %d answers checked, %d /runs, %d 404s (step deleted by retention), "
          "%d problems; steps %d..%d written; /runs lagged the writer by at most %.2f s; "
          "RSS %.0f -> %.0f MB; writer alive: %s"
          % (mode, seconds, clients, checker.ok, len(checker.latest_seen), checker.deleted_404,
             len(checker.problems), first_step, steps[-1][0] if steps else -1, worst_lag, rss_start, rss_mb(),
             alive))
    for problem in checker.problems[:10]:
        print("  PROBLEM", problem)
    return not checker.problems and alive


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["tf1", "writer"], choices=["tf1", "writer"])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--interval", type=float, default=0.5)
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:  # the writer mode only: tf1's writer spends the seconds importing TensorFlow
        args.modes, args.seconds, args.clients = ["writer"], 2.0, 2
        _support.peer("psutil", required=False, what="the RSS figures")
    else:
        _support.peer("psutil", required=True, what="the RSS figures")
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as scratch:
        for mode in args.modes:
            ok &= soak(mode, pathlib.Path(scratch), seconds=args.seconds, clients=args.clients,
                       interval=args.interval)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
