"""The cold pass in bounded pieces (bench/bench_memory.py) gives the same numbers as at once:
smallest_k against a stable sort, vote() in row blocks against one block."""

import numpy as np
import pytest

from tb_embedanalysis.analysis import labels as label_codes, neighbors, propose


def _keys(kind, rng, m, n):
    if kind == "distinct":
        return rng.normal(size=(m, n)).astype(np.float32)
    if kind == "few-values":  # ties everywhere, also across the k-th key
        return rng.integers(0, 4, size=(m, n)).astype(np.float32)
    if kind == "inf-columns":  # invalid rows
        keys = rng.normal(size=(m, n)).astype(np.float32)
        keys[:, rng.integers(0, n, n // 2)] = np.inf
        return keys
    if kind == "signed-zeros":
        keys = np.round(rng.normal(size=(m, n)), 1)
        keys[rng.random((m, n)) < 0.2] = -0.0
        return keys
    keys = rng.normal(size=(m, n)).astype(np.float32)  # nan: fewer than k finite keys in a row
    keys[0, 1:] = np.nan
    return keys


@pytest.mark.parametrize("kind", ["distinct", "few-values", "inf-columns", "signed-zeros", "nan"])
@pytest.mark.parametrize("partition_elements", [1, 500, 1 << 20])
def test_smallest_k_is_the_stable_sort(kind, partition_elements, monkeypatch):
    monkeypatch.setattr(propose, "PARTITION_ELEMENTS", partition_elements)
    monkeypatch.setattr(propose, "TIE_CANDIDATES", 16)
    rng = np.random.default_rng(3)
    for m, n, k in [(1, 2, 1), (7, 50, 5), (40, 700, 12), (3, 300, 299)]:
        keys = _keys(kind, rng, m, n)
        expected = np.argsort(keys, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(propose.smallest_k(keys, k), expected)


@pytest.mark.parametrize("weighted", [False, True], ids=["uniform", "weighted"])
def test_vote_in_row_blocks_equals_one_block(weighted, monkeypatch):
    rng = np.random.default_rng(5)
    n, k, n_labels = 3000, 15, 9
    neighbor_codes = rng.integers(0, n_labels, (n, k))
    own = rng.integers(0, n_labels, n)
    weights = rng.random((n, k)) * np.exp(-rng.random((n, k)) ** 2) if weighted else None
    whole = label_codes.vote(neighbor_codes, own, n_labels, weights)
    for elements in (1, 37, 1000):
        monkeypatch.setattr(label_codes, "VOTE_BLOCK_ELEMENTS", elements)
        blocks = label_codes.vote(neighbor_codes, own, n_labels, weights)
        for field in ("rows", "classes", "sums", "own", "best_other", "best_other_class", "predicted", "total"):
            a, b = getattr(whole, field), getattr(blocks, field)
            assert a.dtype == b.dtype, field
            np.testing.assert_array_equal(a, b, err_msg=field)
    # and the meaning: the vote is the per-row argmax of class sums, ties to the smallest code
    w = np.ones((n, k)) if weights is None else weights
    sums = np.zeros((n, n_labels))
    np.add.at(sums, (np.repeat(np.arange(n), k), neighbor_codes.ravel()), w.ravel())
    np.testing.assert_array_equal(whole.predicted, np.argmax(sums, axis=1))


def test_graph_indices_are_int32_and_an_old_int64_cache_entry_is_refused(tmp_path):
    from tb_embedanalysis.analysis import engine as engine_module
    from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending, Space
    from tb_embedanalysis.cache import CacheKey

    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    x = (rng.normal(size=(300, 5)) + 3 * np.eye(5)[y]).astype(np.float32)
    labels = [str(v) for v in y]
    space = Space(x, "fp-int32", np.ones(300, dtype=bool), "cosine")
    fresh = AnalysisEngine(cache_dir=str(tmp_path / "fresh"))
    report = fresh.clusters(space, fresh.labels(space, labels), k=5)
    graph = fresh.knn_graph(space, k=5)
    assert not isinstance(report, Pending) and not isinstance(graph, Pending)  # wait=True by default
    expected = report.to_dict()
    assert graph.indices.dtype == np.int32
    np.testing.assert_array_equal(graph.indices, neighbors.knn_graph(neighbors.prepare(x, "cosine"), 5).indices)

    # An entry as the int64 engine wrote it, under the key this engine reads: plausible but wrong
    # (every row's neighbours shifted by one row), so reading it would change the report.
    size = engine_module.graph_k(5, 300)
    key = CacheKey.of("graph", space.ident, k=size, method="exact").as_dict()
    stale = AnalysisEngine(cache_dir=str(tmp_path / "stale"))
    right = stale.knn_graph(space, k=size)
    assert not isinstance(right, Pending)
    old = {"indices": np.roll(right.indices, 1, axis=0).astype(np.int64), "distances": right.distances}
    reader = AnalysisEngine(cache_dir=str(tmp_path / "old"))
    assert reader.disk.put(key, old)
    assert reader.disk.get(key) is not None  # the entry itself is intact: refused for its dtype only
    again, again_graph = reader.clusters(space, reader.labels(space, labels), k=5), reader.knn_graph(space, k=5)
    assert not isinstance(again, Pending) and not isinstance(again_graph, Pending)
    assert again.to_dict() == expected
    assert again_graph.indices.dtype == np.int32
