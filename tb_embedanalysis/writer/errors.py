"""The writer's errors: what a refused call raises. Nothing was written then.

Every message carries the actual values ("metadata has 9,999 rows but vectors has
10,000") so that the user can fix the call without a debugger.
"""

from __future__ import annotations


class WriterError(ValueError):
    """Base class: the input cannot be written as an embedding. Nothing was written."""


class ShapeError(WriterError):
    """An array has the wrong rank or a shape that does not fit the others."""


class LengthMismatchError(WriterError):
    """Vectors, metadata and images disagree on the number of points N."""


class NonFiniteError(WriterError):
    """The vectors contain NaN or Inf and `allow_nonfinite` is False."""


class OutOfRangeError(WriterError):
    """Finite float64 vectors hold values beyond float32's range (|x| > 3.4e38), which the
    Projector's float32 files cannot hold."""


class MetadataValueError(WriterError):
    """A metadata value or column name cannot be written to a TSV file as it is."""


class ImageValueError(WriterError):
    """Images have an unusable dtype or value range."""


class SpriteTooLargeError(WriterError):
    """N thumbnails do not fit in the Projector's largest sprite (8192 x 8192 px)."""


class LogdirError(WriterError):
    """The logdir, or a directory on its path, exists and is not a directory."""


class InvalidNameError(WriterError):
    """The embedding name or step cannot be used in a tensor name or directory."""


def fmt_int(n: int) -> str:
    """10000 -> '10,000' (numbers in messages are read by people)."""
    return f"{n:,}"
