"""tb-embedanalysis: error analysis of embeddings as a TensorBoard tab.

Importing this package never imports TensorFlow: the writer functions are loaded on first
use, and the Keras callback lives in ``tb_embedanalysis.keras``.
"""

__version__ = "0.1.0"

__all__ = ["write_embedding", "make_sprite", "log_cluster_scalars"]


def __getattr__(name):
    # Lazy re-exports keep `import tb_embedanalysis` cheap for TensorBoard's plugin loading.
    if name == "write_embedding":
        from tb_embedanalysis.writer.embedding_writer import write_embedding

        return write_embedding
    if name == "make_sprite":
        from tb_embedanalysis.writer.sprite import make_sprite

        return make_sprite
    if name == "log_cluster_scalars":
        from tb_embedanalysis.writer.scalars import log_cluster_scalars

        return log_cluster_scalars
    raise AttributeError(f"module 'tb_embedanalysis' has no attribute {name!r}")
