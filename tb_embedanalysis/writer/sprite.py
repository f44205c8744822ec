"""Sprite images: all thumbnails of an embedding tiled into one PNG (Pillow only).

Layout (what the Projector and our reader expect): a square grid of
``columns = ceil(sqrt(N))`` by ``columns`` cells, each ``single_image_dim = (w, h)`` pixels,
filled row-major (point i sits in row ``i // columns``, column ``i % columns``). Cells
after the last point are left blank: black, or white when ``invert=True`` (the colour of
the background of the digits in either case); for RGBA images they are also fully
transparent. The Projector refuses sprites larger than 8192 x 8192 px.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from tb_embedanalysis.writer.errors import SpriteTooLargeError, fmt_int
from tb_embedanalysis.writer.images import as_images

#: The largest sprite the Projector's WebGL texture accepts, per side.
MAX_SPRITE_SIZE = 8192

def sprite_layout(
    n: int, width: int, height: int, *, max_size: int = MAX_SPRITE_SIZE, downscale: bool = False
) -> Tuple[int, int, int]:
    """(columns, thumbnail width, thumbnail height) for n thumbnails of width x height.

    Raises SpriteTooLargeError when the grid exceeds ``max_size`` px on a side, unless
    ``downscale`` - then thumbnails shrink (aspect ratio kept) until they fit.
    """
    if isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer)) or max_size < 1:
        raise ValueError(f"max_size must be a positive integer, got {max_size!r}")
    columns = math.ceil(math.sqrt(n))
    if columns * width <= max_size and columns * height <= max_size:
        return columns, width, height
    cell = max_size // columns  # the largest square cell that fits
    if cell < 1:  # even 1-px thumbnails cannot fit
        raise SpriteTooLargeError(
            f"{fmt_int(n)} thumbnails need a {fmt_int(columns)} x {fmt_int(columns)} grid, "
            f"more than {fmt_int(max_size)} px even at 1 px each; log fewer points"
        )
    scale = min(cell / width, cell / height)
    small_w, small_h = max(1, int(width * scale)), max(1, int(height * scale))
    if downscale:
        return columns, small_w, small_h
    fit_columns = min(max_size // width, max_size // height)
    raise SpriteTooLargeError(
        f"{fmt_int(n)} thumbnails of {width} x {height} px need a {fmt_int(columns)} x "
        f"{fmt_int(columns)} grid ({fmt_int(columns * width)} x {fmt_int(columns * height)} px), "
        f"larger than the Projector's limit of {fmt_int(max_size)} x {fmt_int(max_size)} px. "
        f"Pass downscale_sprite=True (make_sprite: downscale=True) to shrink the thumbnails "
        f"to {small_w} x {small_h} px, or log at most {fmt_int(fit_columns * fit_columns)} "
        f"points at {width} x {height} px"
    )


def make_sprite(
    images: Any,
    *,
    image_shape: Optional[Sequence[int]] = None,
    invert: bool = False,
    max_size: int = MAX_SPRITE_SIZE,
    downscale: bool = False,
) -> Image.Image:
    """Tile N images into one square sprite (a Pillow image, mode L, RGB or RGBA).

    images: (N, H, W), (N, H, W, 1|3|4), or flat (N, P) with ``image_shape`` (H, W) or
      (H, W, C); uint8, or floats in [0, 1] (converted as ``rint(x * 255)``).
    invert: write ``255 - v`` (colour channels only, not alpha): MNIST's white digits on
      black become dark digits on white.
    downscale: when the grid would exceed ``max_size`` px, shrink every thumbnail
      (box filter, aspect ratio kept) instead of raising SpriteTooLargeError.

    The thumbnail size actually used is ``sprite.width // columns`` by
    ``sprite.height // columns`` with ``columns = ceil(sqrt(N))``; see `sprite_layout`.
    """
    pixels = as_images(images, None, image_shape=image_shape)
    n, height, width, _ = pixels.shape
    columns, thumb_w, thumb_h = sprite_layout(
        n, width, height, max_size=max_size, downscale=downscale
    )
    if invert:
        pixels = pixels.copy()  # never change the caller's array
        pixels[..., :3] = 255 - pixels[..., :3]
    if (thumb_w, thumb_h) != (width, height):
        pixels = _resize_all(pixels, thumb_w, thumb_h)
    return Image.fromarray(_tile(pixels, columns, invert))


def _resize_all(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.empty((pixels.shape[0], height, width, pixels.shape[-1]), np.uint8)
    for i, image in enumerate(pixels):
        small = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        small = small.resize((width, height), Image.Resampling.BOX)
        out[i] = np.asarray(small).reshape(height, width, -1)
    return out


def _tile(pixels: np.ndarray, columns: int, invert: bool) -> np.ndarray:
    """(N, h, w, C) -> (columns*h, columns*w[, C]) row-major, blank cells filled."""
    n, h, w, c = pixels.shape
    background = np.full((c,), 255 if invert else 0, np.uint8)
    if c == 4:
        background[3] = 0  # unused cells are transparent
    cells = np.empty((columns * columns, h, w, c), np.uint8)
    cells[:n] = pixels
    cells[n:] = background
    grid = cells.reshape(columns, columns, h, w, c).transpose(0, 2, 1, 3, 4).reshape(columns * h, columns * w, c)
    return grid[..., 0] if c == 1 else grid
