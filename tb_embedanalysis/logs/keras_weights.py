"""Read the Keras 3 weights files (``*.weights.h5``) the TensorBoard callback saves embeddings to.

Keras 3's ``TensorBoard(embeddings_freq=...)`` saves ``train/keras_embedding.ckpt-<epoch>.weights.h5``
with ``model.save_weights`` (HDF5, not a TF checkpoint), while its projector config still
names the TF checkpoint key ``layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE``
(one such entry per Embedding layer, all with that very name). In the file, a layer's
variables are ``layers/<snake_case class name>[_<k>]/vars/<i>``, the k-th layer of a class
getting the suffix ``_k``; an Embedding layer's table is its variable 0. So entry j of the
config (the j-th Embedding layer of the model) is ``layers/embedding[_j]/vars/0``
(`dataset_for`); the standard Projector reads none of this.

Keras 2's callback (tf_keras) writes TF checkpoints, but its config has the same flaw:
every entry is named ``layer_with_weights-0/embeddings/...`` whatever the layer, so a second
Embedding layer's entry (and its metadata) would land on the first layer's table. Entry j is
then the j-th Embedding table of the checkpoint (`checkpoint_table`).

h5py is what Keras itself writes these files with (a Keras dependency). It opens a file
object we hand it (its "fileobj" driver), so the file is opened through
`paths.open_regular` like every other file and HDF5 never opens anything by name; HDF5
features that would (external links, external raw storage, virtual datasets) are refused.
"""

from __future__ import annotations

import os
import re
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

from tb_embedanalysis.logs import paths
from tb_embedanalysis.logs.errors import (
    LogError, NeedsTensorFlowError, TensorFormatError, TensorNotFoundError, UnsafePathError,
)
from tb_embedanalysis.quoting import clipped, excerpt

SUFFIX = ".weights.h5"
_KERAS_EMBEDDING_KEY = re.compile(r"^layer_with_weights-\d+/embeddings(/\.ATTRIBUTES/VARIABLE_VALUE)?(:\d+)?$")
_TF_EMBEDDING_TABLE = re.compile(r"^layer_with_weights-(\d+)/embeddings/\.ATTRIBUTES/VARIABLE_VALUE$")


def is_weights_file(path: str) -> bool:
    return path.endswith(SUFFIX)


def dataset_for(tensor_name: str, ordinal: int) -> str:
    """The dataset a config's tensor_name means in a Keras 3 weights file.

    `ordinal`: how many config entries before this one carry a Keras embedding key (the
    callback writes one per Embedding layer, in model order). Any other name is taken as a
    dataset path (``layers/dense/vars/0``), so a hand-written config can name one.
    """
    if is_keras_embedding_key(tensor_name):
        return "layers/embedding%s/vars/0" % ("_%d" % ordinal if ordinal else "")
    return tensor_name


def checkpoint_table(ordinal: int, keys: Iterable[str]) -> Optional[str]:
    """The `ordinal`-th Embedding table of a Keras 2 TF checkpoint: its
    ``layer_with_weights-<N>/embeddings`` variables in order of N (the checkpoint numbers
    layers with weights in model order, as the callback writes its entries); None past the
    last. For config entries the callback misnamed (config_refs.py decides which)."""
    tables = sorted((int(match.group(1)), key) for key in keys for match in [_TF_EMBEDDING_TABLE.match(key)] if match)
    return tables[ordinal][1] if ordinal < len(tables) else None


def is_keras_embedding_key(tensor_name: str) -> bool:
    """True for the TF checkpoint key Keras' callback names embedding layers by."""
    return bool(_KERAS_EMBEDDING_KEY.match(tensor_name))


def variables(path: str) -> Dict[str, Tuple[Tuple[int, ...], str]]:
    """{dataset path: (shape, dtype name)} of every dataset reachable by hard links."""
    with _open(path) as (h5py, handle, _):
        try:
            return _listing(h5py, handle)
        except Exception as error:  # noqa: BLE001 - h5py raises KeyError, RuntimeError... on a damaged file
            raise TensorFormatError("weights file %s cannot be listed (half-written or corrupt?): %s"
                                    % (path, clipped(str(error)))) from None


def read(path: str, dataset: str) -> np.ndarray:
    """The 2-D dataset `dataset` of `path`, as float32. Raises TensorNotFoundError /
    TensorFormatError naming the file and the dataset, UnsafePathError for HDF5 features
    that read other files."""
    if not dataset.strip("/"):
        raise TensorNotFoundError("weights file %s: no dataset named" % path)
    with _open(path) as (h5py, handle, size):
        try:
            return _read(h5py, handle, size, path, dataset)
        except LogError:
            raise
        except Exception as error:  # noqa: BLE001 - h5py raises KeyError, RuntimeError... on a damaged file
            raise TensorFormatError("dataset %s in %s cannot be read (half-written or corrupt?): %s"
                                    % (excerpt(dataset), path, clipped(str(error)))) from None


def _read(h5py, handle, size: int, path: str, dataset: str) -> np.ndarray:
    """read() on the opened file: follow hard links only, refuse what would read elsewhere."""
    item = handle
    for part in dataset.strip("/").split("/"):
        link = item.get(part, getlink=True) if isinstance(item, h5py.Group) else None
        if link is None:
            found = sorted(name for name, (shape, _) in _listing(h5py, handle).items() if len(shape) == 2)
            raise TensorNotFoundError("weights file %s has no dataset %s; 2-D datasets it has: %s"
                                      % (path, excerpt(dataset), ", ".join(found[:8]) or "none"))
        if not isinstance(link, h5py.HardLink):
            raise UnsafePathError("weights file %s: %s is a link to another location (%s); refusing to follow it"
                                  % (path, excerpt(dataset), type(link).__name__))
        item = item[part]
    if not isinstance(item, h5py.Dataset):
        raise TensorNotFoundError("weights file %s: %s is a group, not a dataset" % (path, excerpt(dataset)))
    if item.external or item.is_virtual:
        raise UnsafePathError("weights file %s: dataset %s keeps its values in other files; refusing to read them"
                              % (path, excerpt(dataset)))
    if item.ndim != 2:
        raise TensorFormatError("dataset %s in %s has shape %s; an embedding must be 2-D (N, D)"
                                % (dataset, path, tuple(item.shape)))
    if item.dtype.kind not in "fiu":
        raise TensorFormatError("dataset %s in %s has dtype %s; an embedding must be numeric"
                                % (dataset, path, item.dtype))
    # Keras stores weights uncompressed; a dataset declaring more bytes than the file
    # holds is compressed or unwritten (fill values), and reading it could allocate
    # far more memory than the file's size suggests.
    if item.nbytes > size:
        raise TensorFormatError("dataset %s in %s declares %s bytes but the file holds %s; not a Keras weights "
                                "file (compressed or unwritten data is not read)"
                                % (dataset, path, format(item.nbytes, ","), format(size, ",")))
    value = item[()]  # errors: see read()
    return np.asarray(value).astype(np.float32, copy=False)


def _listing(h5py, handle) -> Dict[str, Tuple[Tuple[int, ...], str]]:
    found: Dict[str, Tuple[Tuple[int, ...], str]] = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            found[name] = (tuple(item.shape), item.dtype.name)

    handle.visititems(visit)  # follows hard links only: an external link is never opened here
    return found


class _open:
    """with _open(path) as (h5py, file, size): the HDF5 file read through a checked file object."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        try:
            import h5py  # optional: only Keras 3 logs need it
        except ImportError:
            raise NeedsTensorFlowError("reading the Keras weights file %s needs h5py (installed with Keras): "
                                       "pip install h5py" % self.path) from None
        try:
            self.raw = paths.open_regular(self.path)
        except FileNotFoundError:
            raise TensorNotFoundError("weights file %s does not exist" % self.path) from None
        except OSError as error:
            raise TensorNotFoundError("weights file %s cannot be read: %s" % (self.path, error.strerror)) from None
        try:
            self.file = h5py.File(self.raw, "r")
        except Exception as error:  # noqa: BLE001 - h5py raises OSError, ValueError...: all mean "not HDF5"
            self.raw.close()
            raise TensorFormatError("weights file %s cannot be read as HDF5: %s" % (self.path, error)) from None
        return h5py, self.file, os.fstat(self.raw.fileno()).st_size

    def __exit__(self, *exc_info):
        try:
            self.file.close()
        finally:
            self.raw.close()
        return False
