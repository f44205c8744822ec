"""Projector logs for the logs-layer tests, each written by the library users write them with.

TensorFlow is imported inside the functions that need it, so test modules that only use
TSV logs do not pay for it.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Sequence

import numpy as np
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

PROJECTOR_ASSETS = os.path.join("plugins", "org_tensorflow_tensorboard_projector")


def vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    """float32 (n, d) with values that are not round in decimal (exercises exact parsing)."""
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def write_config(directory: str, config: ProjectorConfig) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "projector_config.pbtxt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text_format.MessageToString(config))
    return path


def write_tsv(path: str, rows: Sequence[Sequence[str]]) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("".join("\t".join(row) + "\n" for row in rows))
    return path


def write_sprite(path: str, n: int, size: int = 4, columns: Optional[int] = None) -> np.ndarray:
    """A sprite whose thumbnail i is filled with grey value 20 * i % 256; returns the thumbnails.

    The format follows the file name (PNG, JPEG at quality 100).
    """
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    canvas = np.zeros((rows * size, columns * size), dtype=np.uint8)
    thumbs = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n):
        thumbs[i] = 20 * i % 256
        r, c = divmod(i, columns)
        canvas[r * size:(r + 1) * size, c * size:(c + 1) * size] = thumbs[i]
    Image.fromarray(canvas).save(path, quality=100)  # uint8 2-D: mode "L"
    return thumbs


def write_tf1_saver_run(run_dir: str, steps: Dict[int, np.ndarray], *, labels=None, with_path: bool = False,
                        extra_variables: bool = True) -> str:
    """The seed MNIST flow: FINAL_LOGITS saved by tf.compat.v1.train.Saver at several steps."""
    import tensorflow as tf

    os.makedirs(run_dir, exist_ok=True)
    graph = tf.compat.v1.Graph()
    with graph.as_default():
        first = next(iter(steps.values()))
        logits = tf.compat.v1.Variable(np.zeros_like(first), name="FINAL_LOGITS")
        if extra_variables:  # a hidden layer and its Adam slot: not embeddings of interest
            tf.compat.v1.Variable(np.ones((7, 5), np.float32), name="layer1/weights")
            tf.compat.v1.Variable(np.ones((7, 5), np.float32), name="layer1/weights/Adam")
            tf.compat.v1.Variable(np.ones((5,), np.float32), name="layer1/bias")
        assign = tf.compat.v1.placeholder(tf.float32, first.shape)
        assign_op = logits.assign(assign)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for step, value in steps.items():
                session.run(assign_op, {assign: value})
                saver.save(session, os.path.join(run_dir, "model.ckpt"), global_step=step)
    config = ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = logits.name  # "FINAL_LOGITS:0", as the tutorial does
    if labels is not None:
        write_tsv(os.path.join(run_dir, "mnist_meta.tsv"), [("Index", "Label")]
                  + [(str(i), str(label)) for i, label in enumerate(labels)])
        embedding.metadata_path = "mnist_meta.tsv"
    if with_path:
        config.model_checkpoint_path = os.path.join(run_dir, "model.ckpt-%d" % max(steps))
    write_config(run_dir, config)
    return run_dir


def write_tf2_checkpoint_run(run_dir: str, matrix: np.ndarray, *, tensor_name: Optional[str] = "embedding/.ATTRIBUTES/VARIABLE_VALUE",
                             words=None) -> str:
    """The seed IMDB flow: tf.train.Checkpoint(embedding=tf.Variable(weights))."""
    import tensorflow as tf

    os.makedirs(run_dir, exist_ok=True)
    checkpoint = tf.train.Checkpoint(embedding=tf.Variable(matrix))
    checkpoint.save(os.path.join(run_dir, "embedding.ckpt"))
    config = ProjectorConfig()
    embedding = config.embeddings.add()
    if tensor_name:
        embedding.tensor_name = tensor_name
    if words is not None:
        write_tsv(os.path.join(run_dir, "metadata.tsv"), [(w,) for w in words])
        embedding.metadata_path = "metadata.tsv"
    write_config(run_dir, config)
    return run_dir


def write_tensorboardx_run(logdir: str, steps: Dict[int, Dict[str, np.ndarray]], *, metadata=None,
                           metadata_header=None, label_img=None) -> str:
    """torch.utils.tensorboard / tensorboardX add_embedding: <step>/<tag>/tensors.tsv."""
    from tensorboardX import SummaryWriter

    with SummaryWriter(logdir) as writer:
        for step, by_tag in steps.items():
            for tag, matrix in by_tag.items():
                writer.add_embedding(matrix, metadata=metadata, metadata_header=metadata_header,
                                     label_img=label_img, global_step=step, tag=tag)
    return logdir


def write_bytes_run(run_dir: str, matrix: np.ndarray, *, name: str = "emb", step: Optional[int] = None,
                    metadata_rows=None, sprite=None, sprite_format: str = "png") -> str:
    """Our writer's convention: <name>/<step>/tensor.bytes + tensor_shape, "name:00010"."""
    sub = os.path.join(name, "%05d" % step if step is not None else "")
    os.makedirs(os.path.join(run_dir, sub), exist_ok=True)
    config = ProjectorConfig()
    config_path = os.path.join(run_dir, "projector_config.pbtxt")
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as handle:
            text_format.Parse(handle.read(), config)
    embedding = config.embeddings.add()
    embedding.tensor_name = name if step is None else "%s:%05d" % (name, step)
    embedding.tensor_path = os.path.join(sub, "tensor.bytes")
    embedding.tensor_shape.extend(matrix.shape)
    np.ascontiguousarray(matrix, dtype="<f4").tofile(os.path.join(run_dir, embedding.tensor_path))
    if metadata_rows is not None:
        embedding.metadata_path = os.path.join(sub, "metadata.tsv")
        write_tsv(os.path.join(run_dir, embedding.metadata_path), metadata_rows)
    if sprite is not None:
        embedding.sprite.image_path = os.path.join(sub, "sprite." + sprite_format)
        write_sprite(os.path.join(run_dir, embedding.sprite.image_path), len(matrix), size=sprite)
        embedding.sprite.single_image_dim.extend([sprite, sprite])
    write_config(run_dir, config)
    return run_dir
