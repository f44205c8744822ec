"""The logs layer: find projector logs, read embeddings from them (TensorFlow optional).

Importing this package never imports TensorFlow; only reading a TF checkpoint does.
"""

from tb_embedanalysis.logs.discovery import discover, find_ref, find_series, has_projector_config
from tb_embedanalysis.logs.errors import (
    ConfigError, LogError, MetadataError, NeedsTensorFlowError, SpriteError, TensorFormatError,
    TensorNotFoundError, UnknownEmbeddingError, UnsafePathError,
)
from tb_embedanalysis.logs.model import (
    ConfigProblem, Embedding, EmbeddingRef, EmbeddingSeries, Metadata, RunInfo, SpriteInfo, SpriteSpec,
    TensorSource,
)
from tb_embedanalysis.logs.store import EmbeddingStore

__all__ = [
    "discover", "find_ref", "find_series", "has_projector_config", "EmbeddingStore",
    "ConfigProblem", "Embedding", "EmbeddingRef", "EmbeddingSeries", "Metadata", "RunInfo", "SpriteInfo",
    "SpriteSpec", "TensorSource",
    "LogError", "ConfigError", "MetadataError", "NeedsTensorFlowError", "SpriteError", "TensorFormatError",
    "TensorNotFoundError", "UnknownEmbeddingError", "UnsafePathError",
]
