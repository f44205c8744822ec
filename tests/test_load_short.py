"""Short form of bench/bench_load.py: a real `tensorboard`, 8 keep-alive clients, ~5 s, cold start.

The long form (100,000 points, 32 clients, ≥ 30 s, peak RSS) is bench/bench_load.py; its
figures are in bench/README.md. Here: every answer is a 200 or a 202 (still computing),
never a 5xx, a 4xx, a wrong body or a dropped connection, and the server keeps up.
"""

import http_load
import load_logs
from tensorboard_process import running_tensorboard

N = 5000


def test_concurrent_clients_get_no_errors_from_a_cold_start(tmp_path):
    logdir = tmp_path / "logs"
    load_logs.write_clustered(str(logdir / "run"), n=N, d=32)
    target = http_load.Target(run="run", embedding="features", n=N)
    args = ["--embedanalysis_cache_dir", str(tmp_path / "cache"), "--embedanalysis_max_memory_mb", "64"]
    with running_tensorboard(logdir, extra_args=args) as base:
        report = http_load.run_load(base, target, clients=8, seconds=5.0, seed=1)
    print(report.table())
    assert report.errors == 0, "\n".join(report.error_samples)
    for route in ("/neighbors", "/thumbnail", "/clusters", "/hard_examples", "/projection"):
        assert report.routes[route].latencies, "%s never answered 200 in 5 s" % route
    assert report.answered >= 100
