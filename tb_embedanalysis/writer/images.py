"""Images in any accepted form and value range -> uint8 (N, H, W, C) thumbnails."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from tb_embedanalysis.writer.errors import ImageValueError, ShapeError, fmt_int
from tb_embedanalysis.writer.validation import check_rows


def as_images(
    images: Any, n: Optional[int], *, image_shape: Optional[Sequence[int]] = None
) -> np.ndarray:
    """Images -> uint8 (N, H, W, C) with C in {1, 3, 4}.

    Accepted: (N, H, W), (N, H, W, 1|3|4), or flat (N, P) with ``image_shape`` (H, W) or
    (H, W, C). Values: uint8 as is; bool as 0/255; other integers in [0, 255]; floats in
    [0, 1] scaled as ``rint(x * 255)``. ``n`` (if given) is the number of vectors.
    """
    array = np.asarray(images)
    if array.dtype.kind not in "biuf":
        raise ImageValueError(f"images must be numeric, got dtype {array.dtype}")
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) not in (2, 3) or any(s <= 0 for s in shape):
            raise ShapeError(f"image_shape must be (H, W) or (H, W, C), got {tuple(image_shape)}")
        if array.ndim < 1:
            raise ShapeError(f"images must have one entry per point, got shape {array.shape}")
        size = int(np.prod(array.shape[1:]))
        if size != int(np.prod(shape)):
            raise ShapeError(
                f"images have {fmt_int(size)} values per image (shape {array.shape}) but "
                f"image_shape {shape} needs {fmt_int(int(np.prod(shape)))}"
            )
        array = array.reshape((array.shape[0],) + shape)
    elif array.ndim == 2:
        raise ShapeError(
            f"images are flat with shape {array.shape}; pass image_shape=(H, W) or "
            "(H, W, C), e.g. image_shape=(28, 28) for 784 values"
        )
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise ShapeError(
            f"images must be (N, H, W), (N, H, W, C) with C in 1, 3, 4, or flat (N, P) "
            f"with image_shape; got shape {array.shape}"
        )
    if n is not None:
        check_rows("images", array.shape[0], n)
    if array.shape[0] == 0 or array.shape[1] == 0 or array.shape[2] == 0:
        raise ShapeError(f"images must not be empty, got shape {array.shape}")
    return _to_uint8(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ImageValueError(
                f"integer images must be in [0, 255], got values from {low} to {high}"
            )
        return array.astype(np.uint8)
    if not np.isfinite(array).all():
        raise ImageValueError(
            f"images contain {fmt_int(int(np.count_nonzero(~np.isfinite(array))))} NaN/Inf values"
        )
    lowest, highest = float(array.min()), float(array.max())
    if lowest < 0.0 or highest > 1.0:
        hint = " (looks like 0-255: pass images.astype('uint8'))" if highest <= 255 and lowest >= 0 else ""
        raise ImageValueError(
            f"float images must be in [0, 1], got values from {lowest:g} to {highest:g}{hint}"
        )
    return np.rint(array * 255.0).astype(np.uint8)
