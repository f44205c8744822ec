"""On-disk cache of numpy arrays: authenticated, bounded in bytes, written atomically.

An entry is named by the SHA-256 of its key (a dict of what determines the content: kind,
fingerprint, metric, k, ...). Its file holds::

    MAGIC | HMAC-SHA256 (32 bytes) | header length (4 bytes, LE) | JSON header | raw arrays

The header lists each array's name, dtype (an allow-list of little-endian numeric types)
and shape; the arrays follow, uncompressed. Nothing in an entry is trusted until it passes:

* the HMAC, keyed with a secret made on first use in the cache directory (mode 0600) and
  computed over the key's digest and everything after it: a forged entry, or one copied
  under another key's name, is a miss;
* its size: the file must be exactly what the header says, and at most `max_entry_bytes`
  (no decompression exists, so a small file can't inflate);
* the caller's `expect`: each array's dtype, shape and (for indices) value range.

Files are opened without following symlinks, non-blocking, and only if regular (a FIFO in
the cache dir must not hang a job). Writes go to a temporary file renamed into place, so
readers never see half an entry. The directory is kept under `max_bytes` by deleting the
least recently used entries (a read touches the entry's mtime). A failed write (a full
disk, a removed directory) loses only that entry: the next one is tried again.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import math
import os
import tempfile
import threading
from typing import Callable, Dict, Optional

import numpy as np

from tb_embedanalysis.analysis import cache_files

logger = logging.getLogger(__name__)
MAGIC = b"tb-embedanalysis-cache-v2\n"
SUFFIX = ".entry"
SECRET_NAME = cache_files.SECRET_NAME  # the HMAC key file in the cache dir (made in cache_files.py)
#: Bump when the meaning of cached arrays changes; it is part of every key.
VERSION = 3  # 3: graphs and maps from the float64 oracle (exact.py); 2 ranked by float32 keys
DEFAULT_MAX_BYTES = 4 * 1024 ** 3
_DTYPES = ("<f4", "<f8", "<i4", "<i8", "|b1", "|u1")
_HEADER_MAX = 64 * 1024

Expect = Dict[str, Callable[[np.ndarray], bool]]


def array_of(dtype, shape, *, index_below: Optional[int] = None) -> Callable[[np.ndarray], bool]:
    """An `expect` check: exactly this dtype and shape (and, for row indices, every value
    in [-1, index_below): -1 pads a row with fewer neighbours)."""
    def check(a: np.ndarray) -> bool:
        if a.dtype != np.dtype(dtype) or a.shape != tuple(shape):
            return False
        return index_below is None or bool(((a >= -1) & (a < index_below)).all())
    return check


def key_digest(key: dict) -> str:
    """Hex SHA-256 of the canonical JSON of `key` plus VERSION."""
    text = json.dumps(dict(key, cache_version=VERSION), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class DiskCache:
    """get(key, expect) -> dict of arrays or None; put(key, arrays). Thread-safe; a no-op
    when `directory` is None or can't be used."""

    def __init__(self, directory: Optional[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_entry_bytes: Optional[int] = None):
        self.directory = directory
        self.max_bytes = int(max_bytes)
        self.max_entry_bytes = int(max_entry_bytes if max_entry_bytes is not None else max_bytes)
        self._lock = threading.Lock()
        self._failing = False
        self._secret = self._open(directory) if directory is not None else None
        self.enabled = self._secret is not None

    # -- set-up ----------------------------------------------------------------------------
    def _open(self, directory: str) -> Optional[bytes]:
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            return cache_files.secret(directory)
        except OSError as error:
            logger.warning("embedanalysis: cache dir %s is not usable (%s); caching in memory only",
                           directory, error.strerror or error)
            return None

    def path(self, key: dict) -> str:
        """The file that holds (or would hold) the entry of `key`."""
        if self.directory is None:
            raise ValueError("this disk cache has no directory, so no entry has a path")
        return os.path.join(self.directory, key_digest(key) + SUFFIX)

    # -- reading ---------------------------------------------------------------------------
    def get(self, key: dict, expect: Optional[Expect] = None) -> Optional[Dict[str, np.ndarray]]:
        """The arrays stored under `key`, or None (missing, damaged, forged or unexpected).

        Read straight into the arrays (the HMAC computed as they fill): a 1.2 GB kNN graph
        took 3.6 GB to read when the file was read whole, sliced and copied out."""
        if not self.enabled:
            return None
        path = self.path(key)
        found = cache_files.open_regular(path, self.max_entry_bytes + len(MAGIC) + 36 + _HEADER_MAX)
        if found is None:
            return None
        fd, size = found
        try:
            with os.fdopen(fd, "rb", closefd=False) as f:
                arrays = self._read_entry(f, size, key_digest(key))
        except OSError:
            arrays = None
        finally:
            os.close(fd)
        if arrays is not None and expect is not None:
            if set(arrays) != set(expect) or not all(expect[name](arrays[name]) for name in expect):
                arrays = None
        if arrays is None:
            logger.warning("embedanalysis: damaged cache entry %s; recomputing", os.path.basename(path))
            cache_files.remove(path)
            return None
        try:
            os.utime(path)  # most recently used: evicted last
        except OSError:
            pass
        return arrays

    def decode(self, blob: bytes, digest: str) -> Optional[Dict[str, np.ndarray]]:
        """The arrays of an entry (its whole file, `blob`) stored under key digest `digest`,
        or None if it is not authentic, truncated, oversized or malformed."""
        return self._read_entry(io.BytesIO(blob), len(blob), digest)

    def _read_entry(self, f, size: int, digest: str) -> Optional[Dict[str, np.ndarray]]:
        """decode() of the `size` bytes of file `f`, each array read into its own buffer;
        nothing larger than the file is ever allocated, and nothing is returned unless the
        HMAC over all of it holds."""
        head = len(MAGIC) + 32 + 4
        if size < head or self._secret is None:
            return None
        start = f.read(head)
        if len(start) != head or not start.startswith(MAGIC):
            return None
        mac, length = start[len(MAGIC):len(MAGIC) + 32], start[-4:]
        header_size = int.from_bytes(length, "little")
        if header_size > _HEADER_MAX or head + header_size > size:
            return None
        raw = f.read(header_size)
        running = hmac.new(self._secret, digest.encode("ascii"), hashlib.sha256)
        running.update(length)
        running.update(raw)
        try:
            header = json.loads(raw.decode("utf-8"))
            layout = []
            for name, dtype, shape in header:
                if dtype not in _DTYPES or not all(isinstance(n, int) and n >= 0 for n in shape):
                    return None
                layout.append((str(name), dtype, tuple(shape)))
        except (ValueError, TypeError, UnicodeDecodeError):
            return None
        # Python integers: a forged shape must not wrap around int64 into the file's size.
        total = sum(math.prod(shape) * np.dtype(dtype).itemsize for _, dtype, shape in layout)
        if head + header_size + total != size:
            return None  # checked before anything that big is allocated
        arrays = {}
        for name, dtype, shape in layout:
            array = np.empty(shape, dtype=dtype)
            view = array.reshape(-1).view(np.uint8).data  # its bytes (a view), filled in place
            filled = 0
            while filled < len(view):
                got = f.readinto(view[filled:])
                if not got:
                    return None  # shorter than its header said (truncated while we read)
                filled += got
            running.update(view)
            arrays[name] = array
        if f.read(1) or not hmac.compare_digest(mac, running.digest()):
            return None
        return arrays

    # -- writing ---------------------------------------------------------------------------
    def put(self, key: dict, arrays: Dict[str, np.ndarray]) -> bool:
        """Store `arrays` under `key`; False (with a warning) if it could not be written."""
        secret = self._secret
        if secret is None:  # not enabled
            return False
        header, chunks = [], []
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            if array.dtype.str not in _DTYPES:
                raise TypeError("cannot cache %s arrays (%s)" % (array.dtype, name))
            header.append([name, array.dtype.str, list(array.shape)])
            # contiguous: its bytes, no copy (an empty array, e.g. no duplicate pairs: none)
            chunks.append(array.data.cast("B") if array.size else memoryview(b""))
        head = json.dumps(header).encode("utf-8")
        body_size = 4 + len(head) + sum(len(c) for c in chunks)
        if body_size > self.max_entry_bytes:
            return False  # bigger than the whole cache may hold: keep it in memory only
        body_head = len(head).to_bytes(4, "little") + head
        mac = _mac(secret, key_digest(key), body_head, *chunks)
        try:
            self._make_room(body_size)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=SUFFIX)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(MAGIC + mac + body_head)
                    for chunk in chunks:
                        f.write(chunk)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path(key))
            except BaseException:
                cache_files.remove(tmp)
                raise
        except OSError as error:
            with self._lock:
                if not self._failing:  # one warning per failing spell, not one per entry
                    logger.warning("embedanalysis: cannot write cache dir %s (%s); caching in memory only "
                                   "until it is writable again", self.directory, error.strerror or error)
                self._failing = True
            return False
        with self._lock:
            self._failing = False
        return True

    def _make_room(self, incoming: int) -> None:
        """Delete least recently used entries until `incoming` more bytes fit."""
        entries = []
        with os.scandir(self.directory) as listing:
            for entry in listing:
                if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    entries.append((info.st_mtime_ns, info.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total + incoming <= self.max_bytes:
                break
            cache_files.remove(path)
            total -= size

    def size_bytes(self) -> int:
        """Bytes the entries take now."""
        if not self.enabled:
            return 0
        total = 0
        with os.scandir(self.directory) as listing:
            for entry in listing:
                if entry.name.endswith(SUFFIX):
                    total += entry.stat(follow_symlinks=False).st_size
        return total


def _mac(secret: bytes, digest: str, *parts) -> bytes:
    mac = hmac.new(secret, digest.encode("ascii"), hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()
