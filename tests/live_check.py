"""Client side of the live-training checks: a writer process, and clients that verify every
answer against the step it claims (see tests/live_writer.py). Used by
tests/test_live_training.py and bench/bench_soak.py.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time

from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

import live_writer
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"
HERE = os.path.dirname(os.path.abspath(__file__))


def start_writer(mode, logdir, seconds, interval):
    """The writer process; its output goes to <logdir>/../writer.log (read it on failure)."""
    os.makedirs(os.path.dirname(str(logdir)), exist_ok=True)
    with open(writer_log(logdir), "wb") as log:
        return subprocess.Popen([sys.executable, os.path.join(HERE, "live_writer.py"), mode, str(logdir),
                                 "--interval", str(interval), "--seconds", str(seconds)],
                                stdout=log, stderr=subprocess.STDOUT)


def writer_log(logdir):
    return os.path.join(os.path.dirname(str(logdir)), "writer.log")


def writer_output(logdir):
    with open(writer_log(logdir), errors="replace") as handle:
        return handle.read()[-3000:]


def written_steps(logdir):
    """[(step, time.time() when its save completed)] from the writer's log."""
    path = os.path.join(os.path.dirname(str(logdir)), "steps.log")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [(int(step), float(at)) for step, at in (line.split() for line in handle if line.strip())]


def make_app(logdir, cache_dir, max_memory_mb=64.0):
    flags = argparse.Namespace(embedanalysis_cache_dir=str(cache_dir), embedanalysis_max_memory_mb=max_memory_mb)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=flags))
    return application.TensorBoardWSGI([plugin])


class Checker:
    """Runs client loops and collects what was wrong with any answer."""

    def __init__(self, app, mode, logdir):
        self.app, self.mode, self.logdir = app, mode, logdir
        self.unit = live_writer.unit_distance()
        self.lock = threading.Lock()
        self.problems, self.deleted_404, self.ok = [], 0, 0
        self.spread_per_step = {}  # label index -> spread / step, must be one value
        self.latest_seen = []  # (time.time(), latest step listed by /runs)

    def problem(self, text):
        with self.lock:
            if len(self.problems) < 30:
                self.problems.append(text)

    def get(self, client, route, **query):
        response = client.get(PREFIX + route, query_string=query)
        body = response.get_data()
        if response.headers.get("X-Content-Type-Options") != "nosniff":
            self.problem("%s: no nosniff" % route)
        return response.status_code, (json.loads(body) if body else None)

    def expected_404(self, status, body, step):
        # Retention (max_to_keep) may delete a step between /runs and the query: a 404 is
        # the honest answer then, if it says that the step is gone.
        if status == 404 and step is not None and "no step %d" % step in body["error"]:
            with self.lock:
                self.deleted_404 += 1
            return True
        return False

    def step_of_distance(self, distance):
        step = distance / self.unit
        if abs(step - round(step)) > 1e-3:
            return None
        return int(round(step))

    def check_neighbors(self, client, step):
        query = {"run": "train", "embedding": self.name, "index": "0", "k": "3", "metric": "euclidean"}
        if step is not None:
            query["step"] = str(step)
        status, body = self.get(client, "/neighbors", **query)
        if self.expected_404(status, body, step):
            return
        if status != 200:
            self.problem("neighbors %s: HTTP %d %s" % (query, status, body))
            return
        served = self.step_of_distance(body["neighbors"][0]["distance"])
        if served is None or (step is not None and served != step):
            self.problem("neighbors asked step %s, vectors are of step %s" % (step, served))
        if self.mode == "writer":
            meta_steps = {n["metadata"]["Step"] for n in body["neighbors"]} | {body["query"]["metadata"]["Step"]}
            if meta_steps != {str(served)}:
                self.problem("neighbors: vectors of step %s, metadata of steps %s" % (served, meta_steps))
        with self.lock:
            self.ok += 1

    def check_clusters(self, client, step):
        query = {"run": "train", "embedding": self.name, "k": "3", "metric": "euclidean"}
        if step is not None:
            query["step"] = str(step)
        status, body = self.get(client, "/clusters", **query)
        for _ in range(99):  # 202 while computing: poll, boundedly
            if status != 202:
                break
            time.sleep(0.05)
            status, body = self.get(client, "/clusters", **query)
        if self.expected_404(status, body, step) or status == 202:
            return
        if status != 200:
            self.problem("clusters %s: HTTP %d %s" % (query, status, body))
            return
        labels = {row["label"]: row for row in body["labels"]}
        if self.mode == "writer":
            prefixes = {label.split("-")[0] for label in labels}
            if len(prefixes) != 1 or (step is not None and prefixes != {"s%d" % step}):
                self.problem("clusters asked step %s, labels %s" % (step, sorted(labels)))
                return
            served = int(next(iter(prefixes))[1:])
        else:
            served = step
        if served is None:
            return
        with self.lock:
            for label, row in labels.items():
                ratio = row["spread"] / served
                known = self.spread_per_step.setdefault(label[-1], ratio)
                if abs(known - ratio) > 1e-6 * max(1.0, known):
                    self.problem("clusters of step %d: spread %r is not %d x the unit spread %r (vectors of "
                                 "another step?)" % (served, row["spread"], served, known))
            self.ok += 1

    def client_loop(self, number, deadline):
        rng = random.Random(number)
        client = werkzeug_test.Client(self.app)
        while time.monotonic() < deadline:
            status, body = self.get(client, "/runs")
            if status != 200:
                self.problem("runs: HTTP %d %s" % (status, body))
                continue
            runs = {run["run"]: run for run in body["runs"]}
            if "train" not in runs:
                time.sleep(0.05)
                continue
            (entry,) = runs["train"]["embeddings"]
            if entry["error"]:
                self.problem("runs lists an error: %s" % entry["error"])
                continue
            with self.lock:
                self.latest_seen.append((time.time(), entry["step"]))
            step = rng.choice(entry["steps"] + [None])
            (self.check_neighbors if rng.random() < 0.6 else self.check_clusters)(client, step)

    @property
    def name(self):
        return "FINAL_LOGITS" if self.mode == "tf1" else "emb"


def run_clients(checker: "Checker", *, clients: int, seconds: float, grace: float) -> None:
    """`clients` threads running `checker.client_loop` for `seconds`, joined (with `grace`)."""
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=checker.client_loop, args=(i, stop)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + grace)

