"""The first answer comes first (issue 25 items 2 and 3): the sample is sized by each row's
work including k (analysis/estimate_sample.py), so a large k gets a smaller sample whose
intervals still hold, and a graph another job builds waits while an estimate computes
(analysis/estimate_jobs.py), so the estimate has the cores."""

import threading
import time

import numpy as np
import pytest

from tb_embedanalysis.analysis import clusters, estimate_sample, neighbors, pca
from tb_embedanalysis.analysis.engine import AnalysisEngine
from tb_embedanalysis.analysis.labels import encode_rows
from tb_embedanalysis.analysis.reports import Pending
from tb_embedanalysis.analysis.space import Space


def test_the_sample_is_sized_by_the_work_per_row_including_k():
    size = estimate_sample.sample_size
    # the same (N, D, k), the same size (the seeded sample depends on nothing else)
    assert size(100_000, 64, 1000) == size(100_000, 64, 1000)
    # k = 1,000 at 100,000 × 64: ~10× the work per row of k = 10, so ~1/4 of the rows (k = 10
    # is clamped at SAMPLE_MAX)
    assert size(100_000, 64, 10) == estimate_sample.SAMPLE_MAX
    assert 500 <= size(100_000, 64, 1000) <= 1200
    assert 150 <= size(1_000_000, 128, 1000) < size(1_000_000, 128, 10) <= 468
    for n, d in [(100_000, 64), (1_000_000, 128), (300_000, 32), (50_000, 512)]:
        sizes = [size(n, d, k) for k in (10, 30, 100, 300, 1000)]
        assert sizes == sorted(sizes, reverse=True), (n, d, sizes)
        for k, m in zip((10, 30, 100, 300, 1000), sizes):
            # within the budget unless clamped at SAMPLE_MIN; and using it (no more than one row short)
            work = estimate_sample.row_work(n, d, k)
            assert m == estimate_sample.SAMPLE_MIN or m * work <= estimate_sample.SAMPLE_FLOPS, (n, d, k)
            assert m == estimate_sample.SAMPLE_MAX or (m + 1) * work > estimate_sample.SAMPLE_FLOPS, (n, d, k)


def test_the_estimate_samples_by_its_own_k(monkeypatch):
    """estimate() without a size takes sample_size(N, D, k) rows: fewer for a larger k."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3000, 8)).astype(np.float32)
    engine = AnalysisEngine(cache_dir=None)
    space = Space(x, "sized-by-k", np.ones(3000, dtype=bool), "cosine")
    encoded = engine.labels(space, [str(v) for v in rng.integers(0, 4, 3000)])
    budget = 400.5 * estimate_sample.row_work(3000, 8, 5)  # 400 rows at k = 5
    monkeypatch.setattr(estimate_sample, "SAMPLE_FLOPS", budget)
    try:
        small_k = engine.estimates.run(space, encoded, k=5)
        large_k = engine.estimates.run(space, encoded, k=200)
        assert isinstance(small_k, estimate_sample.SampleEstimate) and isinstance(large_k, estimate_sample.SampleEstimate)
    finally:
        engine.jobs.shutdown()
    assert small_k.sample_size == 400
    assert large_k.sample_size == max(estimate_sample.SAMPLE_MIN, int(budget // estimate_sample.row_work(3000, 8, 200)))
    assert large_k.sample_size < 300


def test_the_smaller_sample_of_a_large_k_keeps_honest_intervals():
    """k = 100 and 120 sampled rows of 8,000 (≈ 20 per label, as a large k's sample at 50
    labels): over 400 seeds every Wilson interval holds the exact full pass's value at about
    its nominal rate (the estimates from the exact pass's own rows, which sample_neighbors
    gives them: test_estimate_sample.test_estimate_matches_the_sample_search)."""
    rng = np.random.default_rng(8)
    n_labels, k, m = 6, 100, 120
    centres = rng.standard_normal((n_labels, 12))
    labels = rng.integers(0, n_labels, 8000)
    x = (centres[labels] + 1.1 * rng.standard_normal((8000, 12))).astype(np.float32)
    flipped = rng.random(8000) < 0.1
    labels[flipped] = rng.integers(0, n_labels, int(flipped.sum()))
    prep = neighbors.prepare(x, "euclidean")
    ctx = clusters.label_context(prep, neighbors.knn_graph(prep, k), encode_rows([str(v) for v in labels],
                                                                                 np.arange(8000)))
    report = clusters.statistics(ctx)
    exact_labels = {s.label: s for s in report.labels}
    counts = np.bincount(ctx.codes, minlength=ctx.n_labels)
    hits: dict = {"knn_accuracy": [], "knn_recall": [], "knn_precision": [], "purity": []}
    for seed in range(400):
        at = estimate_sample.sample_positions(ctx.rows.size, m, seed)
        out = estimate_sample.Outcomes(ctx.codes[at], ctx.votes.predicted[at], ctx.votes.own[at],
                                       ctx.votes.best_other[at], ctx.neighbor_codes[at])
        est = estimate_sample.SampleEstimate(ctx.encoded.names, counts, k, "euclidean", ctx.rows[at], out).to_dict()
        low, high = est["overall"]["intervals"]["knn_accuracy"]
        hits["knn_accuracy"].append(low <= report.overall["knn_accuracy"] <= high)
        for row in est["labels"]:
            for key in ("knn_recall", "knn_precision", "purity"):
                low, high = row["intervals"][key]
                if low is not None:
                    hits[key].append(low <= getattr(exact_labels[row["label"]], key) <= high)
    coverage = {key: float(np.mean(value)) for key, value in hits.items()}
    print("coverage", coverage)
    assert min(coverage.values()) >= 0.92, coverage


@pytest.mark.parametrize("graph_first", [True, False], ids=["graph-running", "graph-starting"])
def test_a_graph_waits_while_an_estimate_computes(graph_first):
    """A graph job running when an estimate starts makes no progress until the estimate ends
    (its threads wait at their next report), and one that starts meanwhile waits before its
    first step (its pilot, its first chunk); then it goes on."""
    rng = np.random.default_rng(5)
    n = 25_000
    x = rng.standard_normal((n, 32)).astype(np.float32)  # unclustered: the plain blocked search
    engine = AnalysisEngine(cache_dir=None, sync_seconds=0.01)
    space = Space(x, "pause-for-estimate", np.ones(n, dtype=bool), "euclidean")
    encoded = engine.labels(space, [str(v) for v in rng.integers(0, 10, n)])

    def graph_progress() -> float:
        pending = engine.knn_graph(space, k=100, wait=False)
        return pending.progress if isinstance(pending, Pending) else 1.0

    try:
        deadline = time.monotonic() + 120
        while graph_first and graph_progress() <= 0.0:  # the graph is under way
            assert time.monotonic() < deadline
            time.sleep(0.01)
        done = threading.Event()

        def estimate():
            engine.estimates.run(space, encoded, k=100, size=8000 if graph_first else 16_000)
            done.set()

        thread = threading.Thread(target=estimate)
        thread.start()
        while engine.estimates.computing == 0 and not done.is_set():
            time.sleep(0.002)
        time.sleep(0.05)  # a report already past the check when the estimate started
        first = graph_progress()  # graph-starting: the graph's job starts here
        start, last, window = time.monotonic(), first, 0.0
        while True:
            seen = graph_progress()
            if engine.estimates.computing == 0:
                break
            last, window = seen, time.monotonic() - start
        thread.join()
        assert done.is_set() and window >= 0.3, window  # long enough for a running graph to report
        assert last == first, (first, last)
        graph = engine.knn_graph(space, k=100)  # and then it goes on to the end
        assert isinstance(graph, neighbors.KnnGraph) and graph.k == 100
    finally:
        engine.jobs.shutdown()


def test_a_poll_answers_as_soon_as_the_estimate_is_there():
    """A /clusters poll waits up to sync_seconds for the exact answer, but answers (202 with
    the estimate) as soon as the sample's estimate ends, not after the whole wait: here a wait
    of 120 s that, without the news, would run to the exact answer's end."""
    from tb_embedanalysis.queries.quick import clusters_pending

    rng = np.random.default_rng(11)
    n = estimate_sample.QUICK_MIN_ROWS + 5_000
    x = rng.standard_normal((n, 32)).astype(np.float32)  # unclustered: a full exact pass
    engine = AnalysisEngine(cache_dir=None, sync_seconds=120.0)
    space = Space(x, "poll-news", np.ones(n, dtype=bool), "euclidean")
    encoded = engine.labels(space, [str(v) for v in rng.integers(0, 10, n)])
    try:
        first = engine.clusters(space, encoded, k=10, wait=False)
        assert isinstance(first, Pending), "the poll waited for the exact pass instead of the estimate"
        answered = clusters_pending(engine, space, encoded, 10, first, column="label", choice=None)
        assert answered.estimate is not None and answered.estimate["sample_size"] > 0
        exact = engine.clusters(space, encoded, k=10)  # and the exact answer still comes
        assert not isinstance(exact, Pending)
    finally:
        engine.jobs.shutdown()


@pytest.mark.parametrize("ask", ["clusters", "hard_examples"])
def test_the_estimate_is_not_queued_behind_jobs_holding_every_permit(ask):
    """As the tab opens, the map's job and /outliers' graph hold the engine's two permits; a
    /clusters or /hard_examples job queued behind them still makes the sample's estimate at
    once (Jobs.run's `first`), and its 202 carries it while both permits stay taken; the exact
    answer comes once they are given back. Without `first`, no estimate until then."""
    from tb_embedanalysis.queries.quick import clusters_pending

    rng = np.random.default_rng(12)
    n = estimate_sample.QUICK_MIN_ROWS + 2_000
    x = rng.standard_normal((n, 16)).astype(np.float32)
    engine = AnalysisEngine(cache_dir=None, sync_seconds=0.05)
    space = Space(x, "estimate-not-queued", np.ones(n, dtype=bool), "euclidean")
    encoded = engine.labels(space, [str(v) for v in rng.integers(0, 10, n)])
    release, holding = threading.Event(), threading.Semaphore(0)

    def hold(job):  # a long computation on a permit (the map, a graph)
        holding.release()
        release.wait(120)
        return "held"

    try:
        for name in ("map", "graph"):
            assert isinstance(engine.jobs.run(("hold", name), hold, wait=False), Pending)
        for _ in range(2):
            assert holding.acquire(timeout=60), "the holding jobs did not start"
        question = getattr(engine, ask)
        deadline, estimate = time.monotonic() + 120, None
        while estimate is None:
            assert time.monotonic() < deadline, "no estimate while both permits are taken"
            pending = question(space, encoded, k=10, wait=False)
            assert isinstance(pending, Pending), "answered exactly with no permit free"
            estimate = clusters_pending(engine, space, encoded, 10, pending, column="label", choice=None).estimate
        assert estimate["sample_size"] > 0 and not release.is_set()
        release.set()
        assert not isinstance(question(space, encoded, k=10), Pending)  # then the exact answer
    finally:
        release.set()
        engine.jobs.shutdown()


def test_a_map_waits_while_an_estimate_computes():
    """A PCA map asked for while an estimate computes makes no progress until the estimate
    ends (it waits at its next block), then goes on to the same map as without it."""
    rng = np.random.default_rng(6)
    n = 200_000
    x = rng.standard_normal((n, 16)).astype(np.float32)
    engine = AnalysisEngine(cache_dir=None, sync_seconds=0.01)
    space = Space(x, "map-waits", np.ones(n, dtype=bool), "euclidean")
    encoded = engine.labels(space, [str(v) for v in rng.integers(0, 10, n)])

    def map_progress() -> float:
        pending = engine.maps.projection(space, wait=False)
        return pending.progress if isinstance(pending, Pending) else 1.0

    try:
        done = threading.Event()

        def estimate():
            engine.estimates.run(space, encoded, k=50, size=4000)
            done.set()

        thread = threading.Thread(target=estimate)
        thread.start()
        while engine.estimates.computing == 0 and not done.is_set():
            time.sleep(0.002)
        start, seen, window = time.monotonic(), [], 0.0
        while True:
            progress = map_progress()  # the first call starts the map's job
            if engine.estimates.computing == 0:  # read before the estimate ended: counted
                break
            seen.append(progress)
            window = time.monotonic() - start
            time.sleep(0.005)
        thread.join()
        assert done.is_set() and window >= 0.3, window  # long enough for the map's 50 blocks
        assert max(seen) <= 1 / 75, seen[-5:]  # at most its first block (of 2 × 25 + 25)
        result = engine.maps.projection(space)
        expected = pca.pca_map(x, np.ones(n, dtype=bool))[0]
        assert not isinstance(result, Pending) and np.array_equal(result.coords, expected)
    finally:
        engine.jobs.shutdown()
