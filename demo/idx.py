"""Read MNIST's IDX files (the layout of the tutorials' ``MNIST_data/``) with numpy only.

IDX format (http://yann.lecun.com/exdb/mnist/): a 4-byte magic number - two zero bytes,
one type code, one byte with the number of dimensions - then one big-endian uint32 per
dimension, then the values, big-endian, row-major. MNIST uses type 0x08 (uint8):
images are ``idx3`` (N, 28, 28), labels ``idx1`` (N,). Files may be gzip-compressed (as
downloaded) or not (as unpacked); both are read.

Deliberately our own loader: ``tensorflow.examples.tutorials.mnist`` is gone from TF 2,
and ``keras.datasets.mnist`` downloads an ``.npz`` instead of reading local IDX files.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from typing import Dict, Optional

import numpy as np

# type code -> big-endian numpy dtype
_DTYPES: Dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"

#: file stem per (split, kind), as in MNIST_data/; both "-idx3-ubyte" and the
#: ".idx3-ubyte" spelling of some mirrors are accepted, with or without ".gz".
_STEMS = {
    ("train", "images"): ("train-images", "idx3-ubyte"),
    ("train", "labels"): ("train-labels", "idx1-ubyte"),
    ("test", "images"): ("t10k-images", "idx3-ubyte"),
    ("test", "labels"): ("t10k-labels", "idx1-ubyte"),
}


class IdxError(ValueError):
    """A file is missing or is not a well-formed IDX file; the message names it."""


def read_idx(path: "os.PathLike[str] | str") -> np.ndarray:
    """The array stored in one IDX file (gzip or plain), in native byte order.

    Raises IdxError naming the file when the magic number, the type code or the length
    of the data does not fit the header.
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise IdxError(f"{path}: broken gzip data ({exc})") from None
    if len(data) < 4:
        raise IdxError(f"{path}: {len(data)} bytes, too short for an IDX header")
    zero, code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in _DTYPES:
        raise IdxError(
            f"{path}: not an IDX file (magic number {data[:4].hex()}; expected 0000 then a "
            f"type code in {sorted('%02x' % c for c in _DTYPES)} then the rank)"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxError(f"{path}: header declares rank {ndim} but the file ends after {len(data)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        raise IdxError(
            f"{path}: header says shape {shape} of {dtype.name} ({expected:,} bytes of data) "
            f"but the file holds {actual:,} bytes after the header"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a native, writable copy


@dataclasses.dataclass(frozen=True)
class Mnist:
    """MNIST as arrays: images uint8 (N, 28, 28), labels uint8 (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def find_file(directory: str, split: str, kind: str) -> Optional[str]:
    """Path of e.g. ``t10k-images-idx3-ubyte.gz`` in `directory` (any accepted spelling)."""
    stem, suffix = _STEMS[(split, kind)]
    for separator in ("-", "."):
        for extension in (".gz", ""):
            path = os.path.join(directory, f"{stem}{separator}{suffix}{extension}")
            if os.path.isfile(path):
                return path
    return None


def load_mnist(directory: "os.PathLike[str] | str") -> Mnist:
    """The four MNIST files of `directory` (the tutorials' ``MNIST_data/``), checked.

    Raises IdxError listing the missing files, or naming a file whose shape or dtype is
    not MNIST-like (images must be rank 3 uint8, labels rank 1 with as many rows).
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise IdxError(f"MNIST directory {directory} does not exist")
    paths = {key: find_file(directory, *key) for key in _STEMS}
    missing = ["%s-%s.gz" % _STEMS[key] for key, path in paths.items() if path is None]
    if missing:
        raise IdxError(
            f"{directory} lacks {', '.join(missing)} (the four MNIST IDX files, gzip or "
            "unpacked, as in the tutorials' MNIST_data/ folder)"
        )
    found = {key: path for key, path in paths.items() if path is not None}  # all four, as checked above
    arrays = {}
    for split in ("train", "test"):
        images = read_idx(found[(split, "images")])
        labels = read_idx(found[(split, "labels")])
        if images.ndim != 3 or images.dtype != np.uint8:
            raise IdxError(
                f"{paths[(split, 'images')]}: expected uint8 images of rank 3, got "
                f"{images.dtype.name} with shape {images.shape}"
            )
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise IdxError(
                f"{paths[(split, 'labels')]}: expected integer labels of rank 1, got "
                f"{labels.dtype.name} with shape {labels.shape}"
            )
        if len(images) != len(labels):
            raise IdxError(
                f"{paths[(split, 'images')]} has {len(images):,} images but "
                f"{paths[(split, 'labels')]} has {len(labels):,} labels"
            )
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels.astype(np.uint8)
    return Mnist(**arrays)
