"""Content-addressed on-disk cache of numpy arrays: atomic writes, checksummed reads.

An entry is named by the SHA-256 of its key (a dict of what determines the content:
kind, fingerprint, metric, k, method, version, ...). The file holds a magic line, the
SHA-256 of the payload and the payload (an uncompressed `.npz`, no pickles). Writes go to
a temporary file in the same directory and are renamed into place, so readers never see a
half-written entry; a payload whose checksum does not match is deleted and reported as a
miss, so a damaged entry is recomputed, never served. If the directory cannot be created
or written, the cache turns itself off (one warning) and callers keep working in memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import threading
from typing import Dict, Optional

import numpy as np

logger = logging.getLogger(__name__)
MAGIC = b"tb-embedanalysis-cache-v1\n"
#: Bump when the meaning of cached arrays changes; it is part of every key.
VERSION = 1


def key_digest(key: dict) -> str:
    """Hex SHA-256 of the canonical JSON of `key` plus VERSION."""
    text = json.dumps(dict(key, cache_version=VERSION), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class DiskCache:
    """get(key) -> dict of arrays or None; put(key, arrays). Thread-safe; no-op if disabled."""

    def __init__(self, directory: Optional[str]):
        self.directory = directory
        self._lock = threading.Lock()
        self.enabled = directory is not None and self._usable(directory)

    def _usable(self, directory: str) -> bool:
        try:
            os.makedirs(directory, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
                pass
        except OSError as error:
            logger.warning("embedanalysis: cache dir %s is not writable (%s); caching in memory only",
                           directory, error)
            return False
        return True

    def path(self, key: dict) -> str:
        return os.path.join(self.directory, key_digest(key) + ".npz")

    def get(self, key: dict) -> Optional[Dict[str, np.ndarray]]:
        if not self.enabled:
            return None
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError:
            return None
        arrays = _decode(blob)
        if arrays is None:
            logger.warning("embedanalysis: damaged cache entry %s; recomputing", path)
            try:
                os.remove(path)
            except OSError:
                pass
        return arrays

    def put(self, key: dict, arrays: Dict[str, np.ndarray]) -> bool:
        """Store `arrays`; False (and the cache disabled) when the directory is unwritable."""
        if not self.enabled:
            return False
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        payload = buffer.getvalue()
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".npz")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(MAGIC + hashlib.sha256(payload).digest() + payload)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path(key))
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as error:
            with self._lock:
                if self.enabled:
                    logger.warning("embedanalysis: cannot write cache dir %s (%s); caching in memory only",
                                   self.directory, error)
                self.enabled = False
            return False
        return True


def _decode(blob: bytes) -> Optional[Dict[str, np.ndarray]]:
    """The arrays of an entry, or None if it is truncated or its checksum does not match."""
    head = len(MAGIC) + 32
    if len(blob) < head or not blob.startswith(MAGIC):
        return None
    digest, payload = blob[len(MAGIC):head], blob[head:]
    if hashlib.sha256(payload).digest() != digest:
        return None
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError):
        return None
