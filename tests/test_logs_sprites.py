"""Sprites: grid checks that degrade to warnings, and thumbnail crops."""

import io
import re

import numpy as np
import pytest
from PIL import Image

from logs_fixtures import vectors, write_bytes_run, write_sprite
from tb_embedanalysis.logs import EmbeddingStore, SpriteError, discover
from tb_embedanalysis.logs.model import SpriteSpec
from tb_embedanalysis.logs.sprites import check_sprite, grid_columns


def load(tmp_path, n=10, **kwargs):
    write_bytes_run(str(tmp_path), vectors(n, 3), name="emb", **kwargs)
    store = EmbeddingStore()
    return store, store.load(discover(str(tmp_path))[0].series[0].refs[0])


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_thumbnail_is_the_points_cell(tmp_path, fmt):
    store, embedding = load(tmp_path, sprite=4, sprite_format=fmt)
    assert embedding.sprite.columns == 4 and embedding.sprite.image_size == (16, 12)
    thumbs = write_sprite(str(tmp_path / "expected.png"), 10, size=4)
    tolerance = 0 if fmt == "png" else 3  # JPEG is lossy even at quality 100
    for index in (0, 5, 9):
        png = store.thumbnail_png(embedding, index)
        assert png.startswith(b"\x89PNG")
        got = np.asarray(Image.open(io.BytesIO(png))).astype(int)
        np.testing.assert_allclose(got, thumbs[index], atol=tolerance)


def test_grid_columns_is_exact_ceil_sqrt():
    assert [grid_columns(n) for n in (1, 2, 4, 5, 9, 10, 10_000, 10_001)] == [1, 2, 2, 3, 3, 4, 100, 101]
    assert grid_columns(10**16 + 1) == 10**8 + 1  # float sqrt would round this down


def test_missing_sprite_loads_with_a_warning_and_no_thumbnails(tmp_path):
    write_bytes_run(str(tmp_path), vectors(10, 3), name="emb", sprite=4)
    (tmp_path / "emb" / "sprite.png").unlink()
    store = EmbeddingStore()
    embedding = store.load(discover(str(tmp_path))[0].series[0].refs[0])
    assert embedding.sprite is None
    assert any("sprite.png is missing: no thumbnails" in w for w in embedding.warnings)
    with pytest.raises(SpriteError, match="no usable sprite"):
        store.thumbnail_png(embedding, 0)


@pytest.mark.parametrize("image_size, dim, reason", [
    ((12, 12), (4, 4), r"is 12x12 px, but 10 thumbnails of 4x4 px in a 4-column grid need 16x12 px"),
    ((8200, 10), (4, 4), r"is 8200x10 px, more than TensorBoard's limit of 8192 px"),
    ((16, 12), (0, 4), r"single_image_dim must be two positive sizes \(width, height\), got \[0, 4\]"),
    ((16, 12), (4, 4, 4), r"single_image_dim must be two positive sizes \(width, height\), got \[4, 4, 4\]"),
    ((16, 12), (0,), r"single_image_dim must be two positive sizes \(width, height\), got \[0\]"),
], ids=["grid-too-small", "too-large", "bad-dim", "three-dims", "one-zero"])
def test_unusable_sprite_says_why(tmp_path, image_size, dim, reason):
    path = tmp_path / "sprite.png"
    Image.new("L", image_size).save(path)
    info, warning = check_sprite(SpriteSpec(path=str(path), single_image_dim=dim), 10)
    assert info is None and warning is not None
    assert warning.startswith("sprite %s" % path) and warning.endswith("no thumbnails")
    assert re.search(reason, warning)


def test_not_an_image(tmp_path):
    path = tmp_path / "sprite.png"
    path.write_bytes(b"not a png")
    info, warning = check_sprite(SpriteSpec(path=str(path), single_image_dim=(4, 4)), 4)
    assert info is None and warning is not None and "cannot be read" in warning


def test_one_single_image_dim_means_square_thumbnails(tmp_path):
    path = tmp_path / "sprite.png"
    Image.new("L", (16, 12)).save(path)
    info, warning = check_sprite(SpriteSpec(path=str(path), single_image_dim=(4,)), 10)
    assert warning is None and info is not None
    assert info.thumbnail_size == (4, 4)
