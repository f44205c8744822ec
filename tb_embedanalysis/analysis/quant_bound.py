"""int8 codes of float rows and a rigorous bound on a product computed from them (issue 25:
could int8 products propose candidates that a float re-rank then makes exact?
bench/bench_lowprec.py measures it with this bound; bench/README.md has the verdict).

Each row x (D,) finite float32 (or float64 holding float32 values) gets a scale s > 0 and
codes q ∈ {−127 … 127}^D, x̂ = s·q, residual e = x − x̂. For two rows x, y:

    x·y = (x̂ + e_x)·y = x̂·y + e_x·y = x̂·(ŷ + e_y) + e_x·y = x̂·ŷ + x̂·e_y + e_x·y

so, by Cauchy–Schwarz,  |x·y − x̂·ŷ| ≤ ‖x̂‖·‖e_y‖ + ‖e_x‖·‖y‖.       (1)

x̂·ŷ = s_x·s_y·I with I = q_x·q_y an integer, |I| ≤ 127²·D < 2³¹ up to D = 133,152: what an
int8 GEMM accumulating in int32 returns exactly (one that saturates, e.g. AVX2's pairwise
int16 sums of u8 × s8, does not; the caller must use one that does not). The rest is float64:

* s is m / 127 (m = max |x_t|) with its significand rounded to 24 bits, so s·q_t (≤ 32 bits)
  and e_t = x_t − s·q_t (≤ 33 significant bits: x_t's 24 bits and s's, 8 binades apart at
  most when q_t ≠ 0; e_t = x_t when q_t = 0) are exact in float64.
* A norm computed in float64 from D squares errs by at most γ = (D + 1)·u/(1 − (D + 1)·u),
  u = 2⁻⁵³ (Higham, Accuracy and Stability, §3.1; numpy's pairwise or BLAS sums are within
  it), and the square root adds u: the upper bounds below take ‖·‖·(1 + 2·(D + 4)·u).
* s_x·s_y (24 + 24 bits) is exact; ·I rounds once: the product is within u·|p| of x̂·ŷ.
* The bound (1) plus that, from non-negative terms in four roundings: ×(1 + 8u) (1 + u
  itself rounds to 1 in float64: every inflation factor here is at least 1 + 4u).

float32 rows span 2⁻¹⁴⁹ … 2¹²⁸; their squares and products (2⁻²⁹⁸ … 2²⁵⁶, residuals down to
2⁻³⁶⁰) are normal float64 numbers, so no step overflows or underflows: the bound holds for
any finite float32 input, huge, tiny or offset (tests/test_quant_bound.py checks it
against rational arithmetic with Hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

U = 2.0 ** -53
CODE_MAX = 127


@dataclass(frozen=True)
class Quantised:
    """Rows' int8 codes (N, D) int8, scales (N,) float64 (24-bit significands), and upper
    bounds (N,) float64 of ‖e‖ (residual), ‖x‖ and ‖x̂‖ = s·‖q‖."""

    codes: np.ndarray
    scales: np.ndarray
    residual: np.ndarray
    norm: np.ndarray
    coded_norm: np.ndarray


def norm_upper(v: np.ndarray) -> np.ndarray:
    """An upper bound of each row's Euclidean norm: v (N, D) float64, exact values."""
    d = v.shape[1]
    return np.sqrt(np.einsum("ij,ij->i", v, v)) * (1.0 + 2.0 * (d + 4) * U)


def quantise(x: np.ndarray) -> Quantised:
    """Per-row symmetric int8 codes of x (N, D) finite float32 (module docstring)."""
    x64 = np.asarray(x, dtype=np.float32).astype(np.float64)
    if not np.isfinite(x64).all():
        raise ValueError("quantise needs finite rows")
    peak = np.abs(x64).max(axis=1) if x64.shape[1] else np.zeros(x64.shape[0])
    mant, expo = np.frexp(np.where(peak > 0, peak / CODE_MAX, 1.0))
    scales = np.ldexp(np.round(mant * 2.0 ** 24) / 2.0 ** 24, expo)  # 24-bit significand: s·q exact
    codes = np.clip(np.rint(x64 / scales[:, None]), -CODE_MAX, CODE_MAX)
    residual = x64 - scales[:, None] * codes  # exact (module docstring)
    return Quantised(codes.astype(np.int8), scales, norm_upper(residual), norm_upper(x64),
                     scales * norm_upper(codes) * (1.0 + 4.0 * U))


def products(a: Quantised, b: Quantised, ints: np.ndarray) -> np.ndarray:
    """x̂·ŷ of every pair, (m, c) float64, from ints (m, c) = q_a · q_bᵀ exactly (an int8 GEMM's
    int32 output, or int64)."""
    return (a.scales[:, None] * b.scales[None, :]) * ints.astype(np.float64)


def bound(a: Quantised, b: Quantised, approx: np.ndarray) -> np.ndarray:
    """β (m, c) float64 with |x_i·y_j − approx_ij| ≤ β_ij for rows x_i of a and y_j of b, where
    approx = products(a, b, q_a · q_bᵀ): (1) of the module docstring and its roundings."""
    cross = a.coded_norm[:, None] * b.residual[None, :] + a.residual[:, None] * b.norm[None, :]
    return (cross + 2.0 * U * np.abs(approx)) * (1.0 + 8.0 * U)
