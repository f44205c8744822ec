"""The tensor file write_embedding writes: raw float32 `.bytes` where TensorBoard's Projector
reads them as binary, else TSV text (which it always reads right)."""

from __future__ import annotations

import numpy as np


def write_tsv(handle, array: np.ndarray) -> None:
    # %.9g: nine significant digits identify every float32 exactly.
    np.savetxt(handle, array, fmt="%.9g", delimiter="\t")


def standard_projector_misreads(array: np.ndarray) -> bool:
    """True if TensorBoard's Projector would take these raw float32 bytes for TSV text.

    It reads the tensor file line by line as UTF-8 and switches to binary only on
    UnicodeDecodeError; blank lines are skipped. So the raw bytes are safe iff their
    first non-empty line (split at b"\\n") is not valid UTF-8.
    """
    data = array.reshape(-1).view(np.uint8)
    newline = 10
    start = 0
    while start < data.size and data[start] == newline:
        start += 1
    end = start
    chunk = 1 << 16
    while end < data.size:
        hits = np.flatnonzero(data[end : end + chunk] == newline)
        if hits.size:
            end += int(hits[0])
            break
        end = min(end + chunk, data.size)
    if start == data.size:
        return True
    try:
        data[start:end].tobytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
