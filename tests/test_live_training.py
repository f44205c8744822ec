"""The tab while training writes: a writer *process* saves a new step every ~0.5 s.

(a) TF1 `tf.compat.v1.train.Saver(max_to_keep=3)` saving FINAL_LOGITS (+ projector config):
    old checkpoints are deleted while clients may still ask for them.
(b) `write_embedding(..., step=s)` with increasing steps (what the Keras callback does).

Clients keep asking /runs, then /neighbors and /clusters at a listed step or the latest.
Every step's vectors are `s * base` (tests/live_writer.py), so an answer tells which step's
vectors it came from; in (b) the metadata names the step too. Asserted: no 5xx and no
unexpected 4xx (a 404 for a step that retention deleted after /runs listed it is fine,
if it says so); the vectors and metadata of one answer are of the step asked for; the
latest step /runs lists lags the writer by at most `MAX_LAG_S`; and nothing breaks.
The long form is bench/bench_soak.py.
"""

import time

import pytest
from werkzeug import test as werkzeug_test

from live_check import Checker, make_app, run_clients, start_writer, writer_output, written_steps

CLIENTS = 4
QUERY_SECONDS = 5.0
INTERVAL_S = 0.5
MAX_LAG_S = 1.5  # a step saved this long ago must be listed by /runs


@pytest.mark.parametrize("mode", ["tf1", "writer"])
def test_answers_stay_consistent_while_training_writes(tmp_path, mode):
    logdir = tmp_path / "logs" / "train"
    writer = start_writer(mode, logdir, seconds=60, interval=INTERVAL_S)
    try:
        deadline = time.monotonic() + 60  # TensorFlow's import is slow on a busy machine
        while len(written_steps(logdir)) < 2:
            assert writer.poll() is None, writer_output(logdir)
            assert time.monotonic() < deadline, "the writer saved nothing"
            time.sleep(0.1)
        checker = Checker(make_app(tmp_path / "logs", tmp_path / "cache"), mode, logdir)
        # The tab is open before the clock starts: the first checkpoint read imports TensorFlow.
        status, _ = checker.get(werkzeug_test.Client(checker.app), "/runs")
        assert status == 200
        run_clients(checker, clients=CLIENTS, seconds=QUERY_SECONDS, grace=60)
        assert writer.poll() is None, "the writer died: %s" % writer_output(logdir)
    finally:
        writer.kill()
        writer.wait()
    print("%s: %d answers checked, %d 404s for deleted steps, %d /runs, %d steps written"
          % (mode, checker.ok, checker.deleted_404, len(checker.latest_seen), len(written_steps(logdir))))
    assert not checker.problems, "\n".join(checker.problems)
    assert checker.ok > 20
    steps = written_steps(logdir)
    assert len(steps) >= QUERY_SECONDS / INTERVAL_S / 2, "the writer was too slow to test anything"
    lags = []
    for seen_at, latest in checker.latest_seen:
        due = [step for step, at in steps if at < seen_at - MAX_LAG_S]
        if due and latest < max(due):
            lags.append((latest, max(due)))
    assert not lags, "/runs listed an old latest step (listed, saved ≥ %.1f s before): %s" % (MAX_LAG_S, lags[:5])
    # Retention deletes steps, so some 404s are expected in (a); they must stay a minority.
    assert checker.deleted_404 <= checker.ok
