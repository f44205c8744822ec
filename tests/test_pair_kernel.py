"""analysis/pair_kernel.py computes the float64 oracle distances bit for bit as exact.py's numpy
code does (numpy's pairwise summation order), so a pair gets the same bits whichever path
computes it: the kernel, exact.scan, or numpy below the size where the compile pays. On the
installed numpy, for D = 1 … 300 and beyond the pairwise sum's block of 128 (its recursion),
float32 and float64 rows, magnitudes 1e-20 … 1e20, zero, −0.0 and identical rows."""

from __future__ import annotations

import numpy as np
import pytest

from tb_embedanalysis.analysis import exact, pair_kernel

DIMS = list(range(1, 300, 1)) + [383, 512, 1000, 4099]


def numpy_distances(source, metric, queries, cand):
    """exact.py's numpy path itself (what exact.distances computes without the kernel)."""
    x = source[cand].astype(np.float64)
    return exact._pair_distances(x, queries.astype(np.float64)[:, None, :], metric)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kernel_bits_equal_numpys(metric, dtype):
    rng = np.random.default_rng(7)
    for d in DIMS:
        source = (rng.normal(size=(40, d)) * 10.0 ** rng.integers(-20, 20, size=(40, 1))).astype(dtype)
        source[3] = 0.0
        source[4] = source[5]
        source[6] = -0.0
        queries = source[rng.integers(0, 40, 6)].copy()
        queries[0] = 0.0
        cand = rng.integers(0, 40, (6, 11))
        got = np.empty((6, 11))
        pair_kernel.distances(source, metric == "euclidean", queries, cand, got)
        want = numpy_distances(source, metric, queries, cand)
        assert got.view(np.int64).tolist() == want.view(np.int64).tolist(), "D = %d" % d


def test_exact_distances_takes_the_kernel_when_it_pays_with_the_same_bits(monkeypatch):
    rng = np.random.default_rng(8)
    source = rng.normal(size=(500, 64)).astype(np.float32) + 100.0  # a large offset: cancellation
    queries, cand = source[:30], rng.integers(0, 500, (30, 1250))
    for metric in ("euclidean", "cosine"):
        monkeypatch.setattr(exact, "KERNEL_COLD_MIN_ROWS", 0)
        monkeypatch.setattr(exact, "KERNEL_COLD_MIN_CANDIDATES", 0)
        kernel = exact.distances(source, metric, queries, cand)
        assert pair_kernel.compiled()
        want = numpy_distances(source, metric, queries, cand)
        np.testing.assert_array_equal(kernel.view(np.int64), want.view(np.int64))


@pytest.mark.parametrize("row", [-1, 40, 1 << 40], ids=["minus-one", "padding-row-n", "far-out"])
def test_a_candidate_outside_the_rows_is_refused_before_the_unchecked_kernel(row):
    """The kernel reads source[cand] with boundscheck=False: a padding row (N, or −1) reaching
    it is a bug upstream, refused at the boundary instead of read past the matrix."""
    rng = np.random.default_rng(9)
    source = rng.normal(size=(40, 16)).astype(np.float32)
    cand = rng.integers(0, 40, (3, 5))
    cand[1, 2] = row
    with pytest.raises(IndexError, match="outside the 40 rows"):
        pair_kernel.distances(source, True, source[:3].copy(), cand, np.empty((3, 5)))
    with pytest.raises(ValueError, match="do not fit"):  # queries of another width
        pair_kernel.distances(source, True, source[:3, :8].copy(), cand, np.empty((3, 5)))
