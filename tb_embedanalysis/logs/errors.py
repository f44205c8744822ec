"""Errors of the logs layer. Every message names the file (or tensor) and the problem."""

from tb_embedanalysis.errors import NotFound


class LogError(Exception):
    """Base class: a projector log could not be read as asked."""


class ConfigError(LogError):
    """projector_config.pbtxt is unreadable or says something impossible."""


class TensorNotFoundError(LogError):
    """A tensor file, checkpoint or checkpoint variable named by the config is missing."""


class TensorFormatError(LogError):
    """The tensor exists but is not a usable (N, D) matrix (rank, size, half-written...)."""


class MetadataError(LogError):
    """metadata.tsv is missing or its rows do not match the tensor."""


class SpriteError(LogError):
    """The sprite image is missing, unreadable, or cannot hold N thumbnails."""


class NeedsTensorFlowError(LogError):
    """Reading a TF checkpoint needs TensorFlow, which is an optional extra."""


class UnsafePathError(LogError):
    """A path we refuse to read: a config path leaving the config's (run's) directory
    (symlink or ``..``) or holding a NUL byte, a config symlinked out of the logdir, or a
    file that became a symlink after discovery checked it. The message never quotes the
    refused file's content nor says where it leads."""


class UnknownEmbeddingError(LogError, NotFound, LookupError):
    """A run, embedding name or step that discovery did not find (a 404, not a bad log)."""
