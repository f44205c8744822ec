"""A big kNN graph keeps float32 distances (issue 25.3: k = 1,000 at 100,000 rows within the
default working-memory budget); everything read from it is still the exact answer.

GRAPH_FLOAT64_MAX_BYTES is lowered so that small inputs take the big graphs' path; the
float64 path beside it (the default at this size) is the oracle, itself checked against
scikit-learn and brute force in test_analysis_clusters.py and test_exact_oracle.py.
"""

import hashlib

import numpy as np
import pytest

from tb_embedanalysis.analysis import exact, graph_form, neighbors
from tb_embedanalysis.analysis.engine import AnalysisEngine
from tb_embedanalysis.analysis.space import Space


def blobs(n=900, d=8, labels=6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, labels, n)
    x = (rng.normal(size=(n, d)) + 2.5 * rng.normal(size=(labels, d))[y]).astype(np.float32)
    x[5] = x[6]  # a duplicate pair: distance 0, a tie broken by index
    return x, [str(v) for v in y]


def answers(tmp_path, name, x, labels, metric, k):
    valid = np.ones(len(x), dtype=bool)
    valid[::50] = False  # some rows not analysed: the label context reads the graph's valid rows
    space = Space(x, hashlib.sha256(x.tobytes()).hexdigest(), valid, metric)
    engine = AnalysisEngine(cache_dir=str(tmp_path / name))
    encoded = engine.labels(space, labels)
    out = {"graph": engine.knn_graph(space, k=k), "clusters": engine.clusters(space, encoded, k=k),
           "hard": engine.hard_examples(space, encoded, k=k), "outliers": engine.outliers(space, k=k),
           "row": engine.neighbors(space, index=7, k=k)}
    # a second engine on the same cache dir reads the graph back from disk
    again = AnalysisEngine(cache_dir=str(tmp_path / name)).knn_graph(space, k=k)
    return space, out, again


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_a_float32_graph_gives_the_float64_answers(tmp_path, monkeypatch, metric):
    x, labels = blobs()
    k = 40
    _, wide, _ = answers(tmp_path, "float64", x, labels, metric, k)
    monkeypatch.setattr(graph_form, "GRAPH_FLOAT64_MAX_BYTES", 0)
    space, small, again = answers(tmp_path, "float32", x, labels, metric, k)
    assert wide["graph"].distances.dtype == np.float64 and small["graph"].distances.dtype == np.float32
    # the same neighbours in the same (exact float64) order; the distances rounded once
    np.testing.assert_array_equal(small["graph"].indices, wide["graph"].indices)
    np.testing.assert_array_equal(small["graph"].distances, wide["graph"].distances.astype(np.float32))
    np.testing.assert_array_equal(again.indices, small["graph"].indices)
    assert again.distances.dtype == np.float32
    np.testing.assert_array_equal(again.distances, small["graph"].distances)
    # statistics depend on the neighbours' labels only: identical
    assert small["clusters"].to_dict() == wide["clusters"].to_dict()
    # a /neighbors row read from the graph is the float64 search's, bit for bit
    prep = neighbors.prepare(x, metric, space.valid)
    idx, dist = neighbors.search(prep, x[7:8], k, exclude=np.array([7]))
    np.testing.assert_array_equal(small["row"].indices, idx[0])
    np.testing.assert_array_equal(small["row"].distances, dist[0])
    np.testing.assert_array_equal(small["row"].distances,
                                  exact.distances(x, metric, x[7:8], small["row"].indices[None])[0])
    # scores from distances: within float32's rounding of each distance
    np.testing.assert_allclose(small["outliers"].scores, wide["outliers"].scores, rtol=1e-6)
    np.testing.assert_allclose(small["hard"].scores, wide["hard"].scores, rtol=1e-5, atol=1e-6)
    # the hard examples' neighbour labels (now from the vote, not an (n, k) array)
    assert small["hard"].page(limit=20)[1][0]["neighbor_labels"] == wide["hard"].page(limit=20)[1][0]["neighbor_labels"]
    for pos in range(0, small["hard"].rows.size, 97):
        row = small["hard"].rows[pos]
        got = small["hard"].example(pos)["neighbor_labels"]
        codes = np.asarray(small["hard"].codes)
        position = np.full(len(x), -1)
        position[small["hard"].rows] = np.arange(small["hard"].rows.size)
        expected = np.bincount(codes[position[wide["graph"].indices[row]]], minlength=len(small["hard"].names))
        assert got == {small["hard"].names[c]: int(n) for c, n in enumerate(expected) if n}
