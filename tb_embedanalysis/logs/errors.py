"""Errors of the logs layer. Every message names the file (or tensor) and the problem."""


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
    """A path in a config leaves the config's directory (symlink or ``..``)."""


class UnknownEmbeddingError(LogError, LookupError):
    """A run, embedding name or step that discovery did not find (a 404, not a bad log)."""
