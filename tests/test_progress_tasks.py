"""Long work is legible (issue 27.6): one percentage per computation, an ETA, and t-SNE's
neighbour stage reporting progress."""

import threading

import numpy as np
import openTSNE
import pytest

from tb_embedanalysis.analysis import certified_graph, neighbors, projection
from tb_embedanalysis.analysis.jobs import Jobs
from tb_embedanalysis.analysis.reports import Pending


def test_two_questions_waiting_on_one_graph_see_its_one_percentage():
    """/clusters mirrors the graph into [0, 0.8] of its job, /outliers into [0, 1]: before,
    the tab showed 79 % and 98 % for the same graph. Both now name the same task with the
    graph's own progress."""
    jobs = Jobs(workers=2, sync_seconds=0.05)
    halfway, release = threading.Event(), threading.Event()

    def graph(job):
        job.report(0.5, "kNN graph")
        halfway.set()
        release.wait(10)
        return "graph"

    def asker(width):
        def fn(job):
            return jobs.compute("graph", graph, message="kNN graph",
                                on_progress=lambda f, m: job.report(width * f, m))
        return fn

    try:
        first = jobs.run("clusters", asker(0.8), message="cluster statistics")
        assert halfway.wait(10)
        second = jobs.run("outliers", asker(1.0), message="outlier scores")
        for _ in range(100):  # the second job joins the graph and hears its next report
            second = jobs.run("outliers", asker(1.0))
            if isinstance(second, Pending) and second.task is not None:
                break
        first = jobs.run("clusters", asker(0.8))
        assert isinstance(first, Pending) and isinstance(second, Pending)
        assert first.task == second.task and first.task is not None
        assert first.task_progress == second.task_progress == 0.5
        assert first.task_message == second.task_message == "kNN graph"
        assert first.progress == pytest.approx(0.4)  # each job's own share still differs
    finally:
        release.set()
    assert jobs.run("clusters", asker(0.8), wait=True) == "graph"


def test_eta_is_extrapolated_from_the_progress_so_far():
    jobs = Jobs(workers=1, sync_seconds=0.01)
    started, release = threading.Event(), threading.Event()

    def slow(job):
        started.set()
        release.wait(10)
        return 1

    try:
        jobs.run("slow", slow)
        assert started.wait(10)
        job = jobs.running("slow")
        assert job is not None and job.started_at is not None and job.eta() is None  # nothing reported yet
        job.report(0.25)
        assert job.eta(now=job.started_at + 10.0) == pytest.approx(30.0)
        assert job.eta(now=job.started_at + 0.5) is None  # too early to say
        pending = jobs.run("slow", slow)
        assert isinstance(pending, Pending) and pending.task == job.task and pending.task_progress == 0.25
    finally:
        release.set()


def _clustered(n, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, d)) * 5
    return (centres[rng.integers(0, 8, n)] + rng.normal(size=(n, d))).astype(np.float32)


def test_tsne_reports_progress_while_it_finds_neighbours(monkeypatch):
    # Chunks of 100 rows, so 800 rows take 8 of them (100,000 rows take many anyway).
    monkeypatch.setattr(neighbors, "GRAPH_CHUNK_ROWS", 100)
    x = _clustered(800)
    seen = []
    projection.tsne_2d(x, np.ones(len(x), dtype=bool), seed=0, n_jobs=1,
                       on_progress=lambda f, m=None: seen.append((f, m)))
    stage = [f for f, m in seen if m and m.startswith("t-SNE neighbours") and 0 < f < projection.TSNE_GRAPH_SHARE]
    assert len(set(stage)) >= 5, seen[:10]  # before: nothing between 0 and the optimisation
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)


def test_tsne_affinities_from_the_exact_graph_are_opentsnes_exact_ones():
    """The precomputed graph gives the P matrix openTSNE's own exact (BallTree) search gives."""
    x = _clustered(400).astype(np.float64)
    k = 90
    graph = certified_graph.knn_graph_exact_fast(neighbors.prepare(x.astype(np.float32), "euclidean"), k)
    ours = openTSNE.affinity.PerplexityBasedNN(
        perplexity=30, knn_index=openTSNE.nearest_neighbors.PrecomputedNeighbors(graph.indices, graph.distances))
    theirs = openTSNE.affinity.PerplexityBasedNN(x, perplexity=30, method="exact", random_state=0)
    np.testing.assert_allclose(ours.P.toarray(), theirs.P.toarray(), rtol=1e-4, atol=1e-9)


def test_a_queued_computation_is_named_by_what_it_will_compute():
    jobs = Jobs(workers=1, sync_seconds=0.01)
    release = threading.Event()
    try:
        jobs.run("first", lambda job: release.wait(10), message="kNN graph")
        waiting = jobs.run("second", lambda job: 2, message="outlier scores")
        assert isinstance(waiting, Pending) and waiting.task_message == "outlier scores (queued)"
        assert waiting.eta_seconds is None and waiting.task_progress == 0.0
    finally:
        release.set()
