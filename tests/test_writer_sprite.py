"""make_sprite: square row-major grid, documented conversions, blank cells, size limit."""

import math

import numpy as np
import pytest
from PIL import Image

from tb_embedanalysis import make_sprite
from tb_embedanalysis.writer.sprite import sprite_layout
from tb_embedanalysis.writer.validation import SpriteTooLargeError


def _cell(sprite: np.ndarray, i: int, columns: int, h: int, w: int) -> np.ndarray:
    row, column = divmod(i, columns)
    return sprite[row * h : (row + 1) * h, column * w : (column + 1) * w]


@pytest.mark.parametrize("n", [1, 2, 5, 9, 10, 17], ids=lambda n: f"n={n}")
def test_row_major_square_grid_with_blank_cells(n):
    rng = np.random.default_rng(n)
    images = rng.integers(1, 256, size=(n, 3, 5), dtype=np.uint8)  # no zeros: blanks are visible
    sprite = np.asarray(make_sprite(images))
    columns = math.ceil(math.sqrt(n))
    assert sprite.shape == (columns * 3, columns * 5)
    for i in range(columns * columns):
        cell = _cell(sprite, i, columns, 3, 5)
        if i < n:
            np.testing.assert_array_equal(cell, images[i])
        else:
            assert not cell.any(), f"unused cell {i} must be black"


def test_float_images_scaled_and_inverted_with_white_blanks():
    images = np.array([[[0.0, 0.5], [1.0, 0.25]]] * 2, dtype=np.float32)  # 2 points, 2x2 grid
    sprite = make_sprite(images, invert=True)
    assert sprite.mode == "L" and sprite.size == (4, 4)
    pixels = np.asarray(sprite)
    expected = 255 - np.rint(images[0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels[:2, :2], expected)
    np.testing.assert_array_equal(pixels[:2, 2:], expected)
    assert (pixels[2:, :] == 255).all(), "unused cells are white when inverted"


def test_flat_images_with_image_shape_match_reshaped():
    images = np.random.default_rng(0).random((4, 784))
    flat = np.asarray(make_sprite(images, image_shape=(28, 28)))
    shaped = np.asarray(make_sprite(images.reshape(4, 28, 28)))
    np.testing.assert_array_equal(flat, shaped)


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_channels_give_modes_and_alpha_is_not_inverted(channels, mode):
    images = np.full((2, 2, 2, channels), 10, np.uint8)
    sprite = make_sprite(images, invert=True)
    assert sprite.mode == mode
    pixels = np.asarray(sprite).reshape(4, 4, -1)
    if channels == 4:
        assert (pixels[:2, :2, :3] == 245).all() and (pixels[:2, :2, 3] == 10).all()
        assert (pixels[2:, :, 3] == 0).all(), "unused RGBA cells are transparent"
    else:
        assert (pixels[:2, :2] == 245).all()


def test_bool_and_int_images():
    as_bool = np.asarray(make_sprite(np.eye(3, dtype=bool)[None]))
    np.testing.assert_array_equal(as_bool, np.eye(3, dtype=np.uint8) * 255)
    as_int = np.asarray(make_sprite(np.arange(9, dtype=np.int64).reshape(1, 3, 3)))
    np.testing.assert_array_equal(as_int, np.arange(9).reshape(3, 3))


def test_too_large_refused_with_suggestion():
    with pytest.raises(SpriteTooLargeError, match=r"100,000 thumbnails of 28 x 28 px need a 317 x 317 grid \(8,876 x 8,876 px\).*downscale=True.*25 x 25 px.*at most 85,264 points"):
        sprite_layout(100_000, 28, 28)
    with pytest.raises(SpriteTooLargeError, match=r"even at 1 px each"):
        sprite_layout(10_000, 2, 2, max_size=50, downscale=True)


def test_downscale_fits_the_limit_and_keeps_aspect():
    images = np.zeros((10, 40, 20), np.uint8)  # 4x4 grid of 20 x 40 thumbnails = 80 x 160
    images[:, :20, :] = 255  # top half white
    sprite = make_sprite(images, max_size=64, downscale=True)
    # cell = 64 // 4 = 16 px; scale = min(16/20, 16/40) = 0.4 -> 8 x 16 thumbnails.
    assert sprite.size == (32, 64)
    cell = _cell(np.asarray(sprite), 0, 4, 16, 8)
    assert (cell[:8] == 255).all() and (cell[8:] == 0).all()
    with pytest.raises(SpriteTooLargeError, match=r"larger than the Projector's limit of 64 x 64 px"):
        make_sprite(images, max_size=64)


def test_sprite_is_a_pillow_image_that_saves_as_png(tmp_path):
    sprite = make_sprite(np.zeros((3, 2, 2)))
    path = tmp_path / "s.png"
    sprite.save(path)
    with Image.open(path) as reopened:
        assert reopened.size == (4, 4)
