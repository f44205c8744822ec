"""Stopping TensorBoard (SIGTERM, or Ctrl+C: its handler for both calls sys.exit) does not
wait for a running analysis: the job stops at its next progress report (analysis/jobs.py).
Before, Python waited for the pool's thread to finish the whole cold pass."""

import json
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from tensorboard_process import running_tensorboard

from tb_embedanalysis import write_embedding

ROUTE = "/data/plugin/embedanalysis/"


@pytest.mark.slow
def test_sigterm_during_a_cold_pass_exits_within_seconds(tmp_path):
    # Unclustered 120,000 x 128: the certified cells cannot prune, so the kNN graph is the
    # plain N^2 D product, about a minute on 2 cores: far longer than the bound below.
    rng = np.random.default_rng(0)
    vectors = rng.random((120_000, 128), dtype=np.float32)
    labels = [str(v) for v in rng.integers(0, 10, size=int(vectors.shape[0]))]
    write_embedding(str(tmp_path / "logs"), vectors, name="noise", metadata=labels)
    url = ROUTE + "hard_examples?run=.&embedding=noise&metric=cosine"
    with running_tensorboard(tmp_path / "logs", with_process=True) as (base, process):
        deadline = time.monotonic() + 120
        while True:  # until the graph is being computed
            with urllib.request.urlopen(base + url, timeout=60) as answer:
                body = json.loads(answer.read())
            assert answer.status == 202, "the pass finished before it could be interrupted"
            if "kNN graph" in (body.get("message") or "") and body.get("progress", 0) > 0.05:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.5)
        started = time.monotonic()
        process.terminate()
        process.wait(timeout=60)
        took = time.monotonic() - started
    assert took < 15, "TensorBoard took %.1f s to exit during a cold pass" % took


EXITING_CHILD = textwrap.dedent("""
    import time
    from tb_embedanalysis.analysis.jobs import Jobs

    def long_job(job):  # a minute of work that reports its progress, as the passes do
        for i in range(6000):
            time.sleep(0.01)
            job.report(i / 6000)

    Jobs(workers=1, sync_seconds=0.0).run("pass", long_job)
    time.sleep(0.5)  # the job is running; the interpreter now exits
""")


def test_the_interpreter_exits_without_waiting_for_a_running_job():
    # In a fresh interpreter, where nothing else imported concurrent.futures first: the job
    # must stop before the pool's threads are joined, whatever the import order.
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", EXITING_CHILD], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20, "exit waited for the job"
