"""Where precompute writes: the tab's cache directory, a shared path, or an fsspec URL.

A path (or a `file://` URL, which is one) is used as it is: a DiskCache there, so entries are
signed with that directory's secret and kept within its byte budget, exactly as TensorBoard
keeps them. Any other URL (`s3://bucket/cache`, `gcs://…`, `memory://…`; fsspec comes with
Dask) is staged: the pass writes into a private local directory holding the URL's secret
(read from `<URL>/secret.key`, or made there if the URL has none), and the finished entries
are uploaded under the same names. TensorBoard reads a local directory, so an object store
is for a cache synced to (or mounted at) its `--embedanalysis_cache_dir`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Optional

from tb_embedanalysis.analysis import disk_cache
from tb_embedanalysis.errors import InvalidArgument
from tb_embedanalysis.quoting import clipped, excerpt


def is_url(where: str) -> bool:
    return "://" in where


class CacheTarget:
    """`local_dir`: the directory to open the workspace's cache in; `finish()` uploads the
    staged entries of a URL (nothing for a path). Use as a context manager: a failed pass
    uploads nothing, and the staging directory is removed either way."""

    def __init__(self, where: str):
        self.where = where
        self._fs: Any = None
        self._root = ""
        self._stage: Optional[str] = None
        if not is_url(where):
            self.local_dir = where
            return
        try:
            import fsspec
        except ImportError:
            raise InvalidArgument("a cache URL needs fsspec: pip install 'tb-embedanalysis[dask]'") from None
        try:
            fs, root = fsspec.core.url_to_fs(where)
        except (ImportError, ValueError) as error:  # an unknown protocol, or its package missing
            raise InvalidArgument("cannot use the cache URL %s: %s" % (excerpt(where), clipped(str(error)))) from None
        from fsspec.implementations.local import LocalFileSystem

        if isinstance(fs, LocalFileSystem):
            self.local_dir = root
            return
        self._fs, self._root = fs, root.rstrip("/")
        self._stage = tempfile.mkdtemp(prefix="tb-embedanalysis-precompute-")
        self.local_dir = self._stage
        self._fetch_secret()

    def _remote(self, name: str) -> str:
        return "%s/%s" % (self._root, name)

    def _fetch_secret(self) -> None:
        fs, secret = self._fs, self._remote(disk_cache.SECRET_NAME)
        local = os.path.join(self.local_dir, disk_cache.SECRET_NAME)
        try:
            if fs.exists(secret):
                with fs.open(secret, "rb") as f:
                    key = f.read(1025)
                if not 32 <= len(key) <= 1024:
                    raise InvalidArgument("%s is not a key file of this cache" % excerpt(self._remote(disk_cache.SECRET_NAME)))
                fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(key)
            else:  # a new cache: its secret is made here and uploaded first
                disk_cache.DiskCache(self.local_dir)
                fs.makedirs(self._root, exist_ok=True)
                fs.put_file(local, secret)
        except OSError as error:
            raise InvalidArgument("cannot use the cache URL %s: %s" % (excerpt(self.where), clipped(str(error)))) from None

    def finish(self) -> int:
        """Upload the staged entries (a URL); how many."""
        if self._fs is None or self._stage is None:
            return 0
        names = sorted(n for n in os.listdir(self._stage)
                       if n.endswith(disk_cache.SUFFIX) and not n.startswith("."))
        for name in names:
            self._fs.put_file(os.path.join(self._stage, name), self._remote(name))
        return len(names)

    def __enter__(self) -> "CacheTarget":
        return self

    def __exit__(self, *exc) -> None:
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
