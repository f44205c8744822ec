"""`EmbeddingCallback`: log a layer's outputs on a fixed dataset as an embedding per epoch.

This is the only module of the package that imports TensorFlow; ``import tb_embedanalysis``
does not import it.

    from tb_embedanalysis.keras import EmbeddingCallback

    model.fit(x_train, y_train, epochs=10, callbacks=[
        EmbeddingCallback("logs/run1", data=x_test[:2000], labels=y_test[:2000],
                          layer="hidden", images=x_test[:2000], name="digits")])

At the end of every ``every_n_epochs``-th epoch the callback runs the model up to `layer`
on `data` (outputs of rank > 2 are flattened per point), writes the result with
`write_embedding` as a new step, and - with `labels` and ``log_scalars`` - writes the
cluster-quality scalars of `tb_embedanalysis.writer.scalars` with ``tf.summary`` under the
name scope ``embedding_quality/<name>``, flushed so that the Scalars tab shows them.

Steps: by default ``step = epoch + 1`` (1-based: epoch 0 ends at step 1, so a step 0 can
be logged before training). ``step="iterations"`` uses the optimizer's iteration count
(global step, the "step 100" style of TF1 tutorials); a callable ``step(epoch) -> int``
(epoch 0-based) gives any other numbering. Steps must increase for TensorBoard's scalars.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from tb_embedanalysis.writer.embedding_writer import write_embedding
from tb_embedanalysis.writer.images import as_images
from tb_embedanalysis.writer.metadata_rows import as_metadata
from tb_embedanalysis.writer.scalars import TAG_PREFIX, quality_scalars
from tb_embedanalysis.writer.validation import check_name, check_rows

StepOption = Union[str, Callable[[int], int]]


def _epoch_step(callback: "EmbeddingCallback", epoch: int) -> int:
    return epoch + 1


def _iterations_step(callback: "EmbeddingCallback", epoch: int) -> int:
    return int(np.asarray(callback.model.optimizer.iterations))


_STEP_RULES: Dict[str, Callable[["EmbeddingCallback", int], int]] = {
    "epoch": _epoch_step,
    "iterations": _iterations_step,
}


class EmbeddingCallback(tf.keras.callbacks.Callback):
    """Write `layer`'s outputs on `data` as embedding steps during `model.fit`.

    logdir: the run directory (the embedding config, assets and scalars go there).
    data: model inputs for the fixed point set (array, list/dict of arrays); N points.
    labels: N labels; used as single-column metadata when `metadata` is None, and for the
      cluster-quality scalars.
    layer: None (the model's output), a layer name, or a layer object of the model.
    images: N thumbnails for the sprite (see `write_embedding`), with `image_shape` for
      flat images and `invert_images` for dark-on-white digits.
    every_n_epochs: write after epochs every_n_epochs, 2*every_n_epochs, ... (1-based). For
      label errors from the history, pass the training rows and a callable `step` at doubling
      points from early on (see `write_embedding`'s `step`): memorisation often starts within
      the first epochs, and steps logged after it say little.
    step: "epoch" (epoch + 1), "iterations" (optimizer iterations) or a callable
      ``step(epoch) -> int``.
    log_scalars, k, metric: cluster-quality scalars (kNN accuracy, silhouette, per-label
      purity) with k neighbours under `metric`; needs `labels`.
    precompute: True (or a cache dir) starts `tb-embedanalysis precompute` for each step
      written, in the background, at most one at a time (see `write_embedding`); off by default.
    Everything that can be checked is checked here, before training starts.
    """

    def __init__(
        self,
        logdir: "os.PathLike[str] | str",
        *,
        data: Any,
        labels: Any = None,
        layer: Any = None,
        images: Any = None,
        image_shape: Optional[Sequence[int]] = None,
        invert_images: bool = False,
        every_n_epochs: int = 1,
        name: str = "embedding",
        metadata: Any = None,
        metadata_header: Optional[Sequence[str]] = None,
        log_scalars: bool = True,
        k: int = 10,
        metric: str = "cosine",
        step: StepOption = "epoch",
        batch_size: int = 256,
        allow_nonfinite: bool = False,
        downscale_sprite: bool = False,
        precompute: Union[bool, str] = False,
    ):
        super().__init__()
        self.logdir = os.fspath(logdir)
        self.name = check_name(name)
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be an integer >= 1, got {every_n_epochs!r}")
        if callable(step):
            self._step_rule = lambda callback, epoch: int(step(epoch))
        elif step in _STEP_RULES:
            self._step_rule = _STEP_RULES[step]
        else:
            raise ValueError(
                f"step must be one of {sorted(_STEP_RULES)} or a callable step(epoch) -> int, got {step!r}"
            )
        if log_scalars and labels is None:
            raise ValueError("log_scalars=True needs labels; pass labels=... or log_scalars=False")
        if log_scalars:  # an unknown metric must fail now, not after the first epoch
            from tb_embedanalysis.analysis.neighbors import check_metric

            check_metric(metric)
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise ValueError(f"k must be an integer >= 1, got {k!r}")
        if not (layer is None or isinstance(layer, (str, tf.keras.layers.Layer))):
            raise TypeError(f"layer must be None, a layer name or a Layer, got {type(layer).__name__}")

        n = _num_points(data)
        self.data = data
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None:
            if self.labels.ndim != 1:
                raise ValueError(f"labels must be one label per point, got shape {self.labels.shape}")
            check_rows("labels", len(self.labels), n)
        if metadata is None and self.labels is not None:
            metadata, metadata_header = list(self.labels), None
        if metadata is not None:
            as_metadata(metadata, metadata_header, n)  # refuse bad metadata before training
        self.metadata, self.metadata_header = metadata, metadata_header
        # Images are converted once; write_embedding then only tiles them.
        self.images = None if images is None else as_images(images, n, image_shape=image_shape)
        self.invert_images = invert_images
        self.downscale_sprite = downscale_sprite
        if not isinstance(precompute, (bool, str)):
            raise TypeError("precompute must be True, False or a cache directory, got %r" % (precompute,))
        self.precompute = precompute
        self.layer = layer
        self.every_n_epochs = every_n_epochs
        self.log_scalars = log_scalars
        self.k, self.metric = k, metric
        self.batch_size = batch_size
        self.allow_nonfinite = allow_nonfinite
        self._embedding_model = None
        self._summary_writer = None

    # -- Keras hooks ------------------------------------------------------------------
    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if (epoch + 1) % self.every_n_epochs:
            return
        self.write(self._step_rule(self, epoch))

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self._summary_writer is not None:
            self._summary_writer.close()
            self._summary_writer = None

    # -- work -------------------------------------------------------------------------
    def write(self, step: int) -> None:
        """Compute the embedding now and write it (and the scalars) at `step`."""
        vectors = self.embed()
        # Before write_embedding: the run then already has this events file, and the
        # writer adds none of its own (one live file per run suits every TB loader).
        scalars_writer = self._scalars_writer() if self.log_scalars else None
        write_embedding(
            self.logdir,
            vectors,
            name=self.name,
            metadata=self.metadata,
            metadata_header=self.metadata_header,
            images=self.images,
            invert_images=self.invert_images,
            step=step,
            allow_nonfinite=self.allow_nonfinite,
            downscale_sprite=self.downscale_sprite,
            precompute=self.precompute,
        )
        if scalars_writer is not None:
            self._write_scalars(scalars_writer, vectors, step)

    def embed(self) -> np.ndarray:
        """(N, D) float32 outputs of the chosen layer on `data`."""
        outputs = self._model_for_layer().predict(self.data, batch_size=self.batch_size, verbose=0)
        outputs = np.asarray(outputs)
        return outputs.reshape(outputs.shape[0], -1).astype(np.float32, copy=False)

    def _model_for_layer(self):
        if self._embedding_model is None:
            model = self.model
            if self.layer is None:
                self._embedding_model = model
            else:
                layer = model.get_layer(self.layer) if isinstance(self.layer, str) else self.layer
                self._embedding_model = tf.keras.Model(inputs=model.inputs, outputs=layer.output)
        return self._embedding_model

    def _scalars_writer(self):
        """The run's tf.summary writer, made on first use and kept until training ends."""
        if self._summary_writer is None:
            self._summary_writer = tf.summary.create_file_writer(self.logdir)
        return self._summary_writer

    def _write_scalars(self, writer, vectors: np.ndarray, step: int) -> None:
        values = quality_scalars(vectors, self.labels, name=self.name, k=self.k, metric=self.metric)
        prefix = f"{TAG_PREFIX}/{self.name}/"
        with writer.as_default(step=step), tf.name_scope(prefix):
            for tag, value in values.items():
                tf.summary.scalar(tag[len(prefix):], value)
        writer.flush()


def _num_points(data: Any) -> int:
    first = tf.nest.flatten(data)[0] if not isinstance(data, np.ndarray) else data
    shape = np.shape(first)
    if not shape:
        raise ValueError(f"data must have one entry per point, got shape {shape}")
    return int(shape[0])
