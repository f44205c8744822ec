"""PCA (analysis/pca.py) against scikit-learn, with every row valid (blocks are views of the
matrix) and with invalid rows (blocks gathered): the same components, ratios and coordinates,
NaN for the rows left out."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from tb_embedanalysis.analysis import pca


@pytest.mark.parametrize("invalid_share", [0.0, 0.1])
def test_pca_matches_scikit_learn_with_and_without_invalid_rows(monkeypatch, invalid_share):
    monkeypatch.setattr(pca, "BLOCK", 1000)  # several blocks, a partial last one
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4500, 12)) * np.linspace(0.5, 4.0, 12) + 1e4).astype(np.float32)
    valid = rng.random(4500) >= invalid_share
    x[~valid, 3] = np.nan
    fitted = pca.fit(x, valid)
    coords = pca.project(x, valid, fitted.mean, fitted.axes[:, :3])
    reference = PCA(n_components=10, svd_solver="full").fit(x[valid].astype(np.float64))
    np.testing.assert_allclose(fitted.ratios, reference.explained_variance_ratio_, rtol=1e-9, atol=1e-12)
    expected = reference.transform(x[valid].astype(np.float64))[:, :3]
    signs = np.sign(np.sum(expected * coords[valid], axis=0))  # scikit-learn's signs are its own
    np.testing.assert_allclose(coords[valid], expected * signs, rtol=1e-5, atol=1e-4)
    assert np.isnan(coords[~valid]).all() and coords.dtype == np.float32


def test_the_view_and_the_gathered_blocks_give_the_same_bits(monkeypatch):
    monkeypatch.setattr(pca, "BLOCK", 700)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3000, 9)).astype(np.float32)
    every = np.ones(3000, dtype=bool)
    mean, scatter = pca.scatter_matrix(x, every)
    padded = np.vstack([x, np.full((5, 9), np.nan, dtype=np.float32)])  # the same rows, gathered
    some = np.concatenate([every, np.zeros(5, dtype=bool)])
    mean2, scatter2 = pca.scatter_matrix(padded, some)
    assert np.array_equal(mean, mean2) and np.array_equal(scatter, scatter2)
    axes = pca.fit(x, every).axes[:, :2]
    assert np.array_equal(pca.project(x, every, mean, axes), pca.project(padded, some, mean, axes)[:3000])


def test_progress_after_each_block_rising_to_one_and_the_same_bits(monkeypatch):
    monkeypatch.setattr(pca, "BLOCK", 1000)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4500, 6)).astype(np.float32)
    valid = np.ones(4500, dtype=bool)
    seen: list = []
    coords, ratios = pca.pca_map(x, valid, on_progress=seen.append)
    assert len(seen) == 3 * 5 and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)  # 2 fit passes, 1 projection
    plain = pca.pca_map(x, valid)
    assert np.array_equal(coords, plain[0]) and np.array_equal(ratios, plain[1])
