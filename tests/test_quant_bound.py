"""quant_bound's bound holds for any finite float32 rows: |x·y − x̂·ŷ| ≤ β, checked in exact
rational arithmetic (each float is a Fraction), on Hypothesis rows with huge and tiny
magnitudes, offsets, zeros and D = 1; and it is tight enough to mean something."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from tb_embedanalysis.analysis import quant_bound

FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def rows(draw):
    """(N, D) float32 rows: any finite values, or offset + scale · N(0, 1) rows at 10⁻⁴⁵…10³⁸."""
    n = draw(st.integers(1, 5))
    d = draw(st.integers(1, 24))
    if draw(st.booleans()):
        return np.array(draw(st.lists(st.lists(FLOAT32, min_size=d, max_size=d), min_size=n, max_size=n)),
                        dtype=np.float32)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    scale = 10.0 ** draw(st.floats(-45, 37))
    offset = draw(st.sampled_from([0.0, 1.0, 1e4, 1e8])) * scale
    with np.errstate(over="ignore", under="ignore"):
        x = (offset + scale * rng.standard_normal((n, d))).astype(np.float32)
    return np.where(np.isfinite(x), x, np.float32(1.0))


def exact_dot(x: np.ndarray, y: np.ndarray) -> Fraction:
    return sum((Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, y)), Fraction(0))


@given(rows(), rows())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_bound_holds_for_any_finite_rows(x, y):
    if x.shape[1] != y.shape[1]:
        y = np.resize(y, (y.shape[0], x.shape[1]))
    a, b = quant_bound.quantise(x), quant_bound.quantise(y)
    ints = a.codes.astype(np.int64) @ b.codes.astype(np.int64).T
    approx = quant_bound.products(a, b, ints)
    beta = quant_bound.bound(a, b, approx)
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            error = abs(exact_dot(x[i], y[j]) - Fraction(float(approx[i, j])))
            assert error <= Fraction(float(beta[i, j])), (i, j, float(error), beta[i, j])


@given(rows())
@settings(max_examples=200, deadline=None)
def test_codes_and_residual_rebuild_each_row_exactly(x):
    q = quant_bound.quantise(x)
    assert np.abs(q.codes.astype(np.int64)).max() <= quant_bound.CODE_MAX
    for i in range(x.shape[0]):
        residual = [Fraction(float(v)) - Fraction(float(q.scales[i])) * int(c) for v, c in zip(x[i], q.codes[i])]
        norm2 = sum((r * r for r in residual), Fraction(0))
        assert norm2 <= Fraction(float(q.residual[i])) ** 2
        assert sum((Fraction(float(v)) ** 2 for v in x[i]), Fraction(0)) <= Fraction(float(q.norm[i])) ** 2


def test_the_bound_is_tight_on_gaussian_rows():
    """On N(0, 1) unit rows in 128-D, β is about 2·(s/2)·√D/√3 per unit norm (uniform rounding):
    around 0.01, not a vacuous number; and the error it bounds really is below it."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 128))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    q = quant_bound.quantise(x)
    approx = quant_bound.products(q, q, q.codes.astype(np.int64) @ q.codes.astype(np.int64).T)
    beta = quant_bound.bound(q, q, approx)
    error = np.abs(x.astype(np.float64) @ x.astype(np.float64).T - approx)
    assert (error <= beta).all()
    assert 0.004 < np.median(beta) < 0.02
    assert np.median(error) < np.median(beta) / 3


def test_zero_rows_and_infinite_input():
    q = quant_bound.quantise(np.zeros((2, 3), dtype=np.float32))
    assert (q.codes == 0).all() and (q.residual == 0).all()
    try:
        quant_bound.quantise(np.array([[np.inf, 1.0]], dtype=np.float32))
    except ValueError as e:
        assert "finite" in str(e)
    else:
        raise AssertionError("an infinite row was quantised")
