"""Check a sprite image against the tensor, and crop one point's thumbnail from it.

A sprite is a square grid of equally sized thumbnails in row-major order, with
``ceil(sqrt(N))`` thumbnails per row (TensorBoard's convention; the last rows may be
padding). A bad sprite never stops an embedding from loading: it only loses its thumbnails,
and the warning says why.
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Callable, ContextManager, Optional, Tuple

from PIL import Image

from tb_embedanalysis.logs import paths
from tb_embedanalysis.quoting import clipped
from tb_embedanalysis.logs.errors import SpriteError, UnsafePathError
from tb_embedanalysis.logs.model import SpriteInfo, SpriteSpec

# TensorBoard's projector (WebGL texture) refuses larger sprites; so do we, since a sprite
# the projector cannot show is almost certainly a writer bug, and it costs memory to hold.
MAX_SPRITE_PIXELS = 8192

# How Pillow says "this file is not a (whole) image": OSError (UnidentifiedImageError, "image
# file is truncated"), SyntaxError (a PNG chunk's bad checksum), EOFError and ValueError from
# some decoders, DecompressionBombError (a header claiming billions of pixels).
UNREADABLE = (OSError, SyntaxError, EOFError, ValueError, Image.DecompressionBombError)


def refusal_warning(error: Exception) -> str:
    """The warning shown when a sprite is refused but the vectors stay usable: which file, why."""
    return "sprite refused, no thumbnails: %s" % error


def unreadable_warning(name: str, error: BaseException) -> str:
    """The warning of a sprite Pillow cannot read or decode (at listing, loading or cropping)."""
    return "sprite %s cannot be read (%s): no thumbnails" % (name, _reason(error))


def _reason(error: BaseException) -> str:
    return clipped(str(error)) or type(error).__name__


def check_sprite(spec: SpriteSpec, num_rows: int) -> Tuple[Optional[SpriteInfo], Optional[str]]:
    """(SpriteInfo, None) if the sprite can hold `num_rows` thumbnails, else (None, warning)."""
    name = spec.path
    dim = spec.single_image_dim * 2 if len(spec.single_image_dim) == 1 else spec.single_image_dim  # one: square
    if len(dim) != 2 or min(dim) <= 0:
        return None, ("sprite %s: single_image_dim must be two positive sizes (width, height), got %s: "
                      "no thumbnails" % (name, list(spec.single_image_dim)))
    width, height = dim
    try:
        with paths.open_regular(spec.path) as handle, Image.open(handle) as image:  # reads the header
            size = image.size
            if image.format == "PNG" and max(size) <= MAX_SPRITE_PIXELS:
                # Every chunk's checksum, without decoding: finds a truncated or damaged PNG
                # (our writer's format) now, in the listing, not at the first thumbnail.
                # Reads the file once (CRC32: ~1 GB/s), at load or listing only.
                image.verify()
    except FileNotFoundError:
        return None, "sprite %s is missing: no thumbnails" % name
    except UnsafePathError as error:  # costs the thumbnails, not the vectors (issue 15)
        return None, refusal_warning(error)
    except UNREADABLE as error:
        return None, unreadable_warning(name, error)
    if max(size) > MAX_SPRITE_PIXELS:
        return None, "sprite %s is %dx%d px, more than TensorBoard's limit of %d px: no thumbnails" % (
            name, size[0], size[1], MAX_SPRITE_PIXELS)
    columns = grid_columns(num_rows)
    grid_rows = math.ceil(num_rows / columns)
    needed = (columns * width, grid_rows * height)
    if needed[0] > size[0] or needed[1] > size[1]:
        return None, (
            "sprite %s is %dx%d px, but %s thumbnails of %dx%d px in a %d-column grid need %dx%d px: "
            "no thumbnails" % (name, size[0], size[1], format(num_rows, ","), width, height, columns, *needed)
        )
    return SpriteInfo(path=spec.path, thumbnail_size=(width, height), image_size=size, columns=columns), None


def grid_columns(num_rows: int) -> int:
    """Thumbnails per sprite row: ceil(sqrt(N)), exactly (no float rounding for big N)."""
    root = math.isqrt(num_rows)
    return root if root * root == num_rows else root + 1


#: Pillow's allocation block for image pixels while we decode sprites: above glibc's largest
#: mmap threshold (32 MB), so a freed sprite's pixels go back to the OS at once. With
#: Pillow's 16 MB blocks they stayed in each request thread's malloc arena: eight requests
#: decoding one sprite at a time still grew the server by +1.1 GB (one sprite is 256 MB).
PIXEL_BLOCK_BYTES = 64 * 1024 * 1024
#: Modes Pillow holds in fewer than 4 bytes a pixel (every other mode takes 4: RGB, LA, I, F...).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
#: Modes served as they are; the others are converted to RGBA (see open_sprite).
_SERVED_MODES = ("RGB", "RGBA", "L", "LA")


def decode_bytes(image: Image.Image) -> int:
    """Bytes that decoding `image` (opened, header only) holds at its peak: its pixels as
    Pillow stores them, plus the RGBA copy open_sprite makes of a mode it does not serve
    as is (an 8192² RGB sprite: 256 MB; the same in palette mode: 64 + 256 MB)."""
    pixels = image.width * image.height
    converted = 0 if image.mode in _SERVED_MODES else 4 * pixels
    return _PIXEL_BYTES.get(image.mode, 4) * pixels + converted


def open_sprite(path: str, *, reserve: Optional[Callable[[int], ContextManager]] = None) -> Image.Image:
    """Decode the whole sprite once (the store caches it); cropping then costs microseconds.

    reserve(nbytes), if given, is entered with decode_bytes of the header before a pixel is
    decoded and left once the image is complete: the store bounds the bytes of the decodes
    in flight with it (it may wait, or raise a SpriteError for a sprite that can never fit).
    The decoded pixels are returned as they are, not copied: once loaded, an image no longer
    needs its file, and a copy of an 8192² RGB sprite is another 256 MB.
    """
    if Image.core.get_block_size() < PIXEL_BLOCK_BYTES:  # process-wide; only changes how big pixels are split
        Image.core.set_block_size(PIXEL_BLOCK_BYTES)
    try:
        with paths.open_regular(path) as handle:
            image = Image.open(handle)  # the header only
            with (reserve(decode_bytes(image)) if reserve is not None else contextlib.nullcontext()):
                image.load()  # every pixel is in memory now: closing `handle` is safe
                if image.mode not in _SERVED_MODES:
                    return image.convert("RGBA")  # P, CMYK, I;16...: make PNG-friendly and crop-safe
                return image
    except UNREADABLE as error:
        raise SpriteError("sprite %s cannot be read (%s); no thumbnails until it is rewritten"
                          % (path, _reason(error))) from None


def crop(image: Image.Image, info: SpriteInfo, index: int) -> Image.Image:
    """Thumbnail `index` (row-major in a grid of `info.columns` per row)."""
    width, height = info.thumbnail_size
    left = (index % info.columns) * width
    top = (index // info.columns) * height
    return image.crop((left, top, left + width, top + height))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
