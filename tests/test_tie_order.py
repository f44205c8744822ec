"""analysis/tie_order.py orders exactly as np.lexsort by (value, row) would, on the inputs
that make packed and tie-fixed sorts go wrong: exact ties, −0.0 beside +0.0, NaN, +inf,
padding rows (−1 and n), float64 values equal only in their last bits."""

from __future__ import annotations

import numpy as np
import pytest

from tb_embedanalysis.analysis import tie_order


def awkward_keys(rng, shape):
    keys = rng.integers(-3, 4, shape).astype(np.float32) * rng.choice([1.0, 0.5, 1e-30], size=shape).astype(np.float32)
    keys[rng.random(shape) < 0.1] = -0.0
    keys[rng.random(shape) < 0.05] = np.inf
    return keys


@pytest.mark.parametrize("seed", range(4))
def test_sorted_pairs_is_lexsort_by_key_then_row(seed):
    rng = np.random.default_rng(seed)
    for _ in range(100):
        m, c = rng.integers(1, 20), rng.integers(1, 50)
        keys = awkward_keys(rng, (m, c))
        rows = np.array([rng.permutation(300)[:c] for _ in range(m)]) - 1  # −1: a list's padding
        want = np.lexsort((rows, keys), axis=1)
        got_rows, got_keys = tie_order.sorted_pairs(keys, rows)
        np.testing.assert_array_equal(got_rows, np.take_along_axis(rows, want, axis=1))
        np.testing.assert_array_equal(got_keys, np.take_along_axis(keys, want, axis=1))  # −0.0 == +0.0


@pytest.mark.parametrize("seed", range(4))
def test_first_k_is_lexsort_by_distance_then_row(seed):
    rng = np.random.default_rng(seed)
    for _ in range(100):
        m, c = rng.integers(1, 20), rng.integers(1, 50)
        values = awkward_keys(rng, (m, c)).astype(np.float64)
        values[rng.random((m, c)) < 0.05] = np.nan
        values[rng.random((m, c)) < 0.1] += 2.0 ** -50  # equal to a neighbour in float32, not in float64
        rows = np.array([rng.permutation(300)[:c] for _ in range(m)])
        k = int(rng.integers(1, c + 1))
        np.testing.assert_array_equal(tie_order.first_k(values, rows, k), np.lexsort((rows, values), axis=1)[:, :k])


@pytest.mark.parametrize("seed", range(4))
def test_by_group_key_row_is_lexsort(seed):
    rng = np.random.default_rng(seed)
    for size in (0, 1, 7, 500, 3000):
        group = rng.integers(0, 70_000 if seed % 2 else 5, size)  # beyond 16 bits: no radix sort
        keys = awkward_keys(rng, (size,))
        keys[rng.random(size) < 0.05] = np.nan
        rows = rng.integers(-1, 1000, size)
        order = tie_order.by_group_key_row(group, keys, rows)
        want = np.lexsort((rows, keys, group))
        for array in (group, rows):
            np.testing.assert_array_equal(array[order], array[want])
        np.testing.assert_array_equal(keys[order], keys[want])


def test_rows_beyond_32_bits_and_float64_keys_fall_back_to_lexsort():
    keys = np.array([[1.0, 1.0, 0.5]], dtype=np.float32)
    rows = np.array([[2 ** 33, 5, 2 ** 32]])
    assert not tie_order.fits(rows)
    np.testing.assert_array_equal(tie_order.sorted_pairs(keys, rows)[0], [[2 ** 32, 5, 2 ** 33]])
    wide = np.array([1.0, 1.0 + 2.0 ** -40, 1.0])  # equal as float32, not as float64
    np.testing.assert_array_equal(tie_order.by_group_key_row(np.zeros(3, dtype=np.int64), wide, np.array([0, 1, 2])),
                                  [0, 2, 1])
