"""Demo 1, misclustered digits: the test set's logits early and late in training.

The seed tutorial's MNIST flow with today's tools: a small fully connected network is
trained with Keras, and at several global steps (100 - still confused - up to the last) the
TEST set's final-layer outputs are logged with `EmbeddingCallback`, together with a sprite
of the digits (inverted: dark on white), ``Index``/``Label`` metadata and the
cluster-quality scalars (kNN accuracy, silhouette, per-digit purity) for the Scalars tab.
In the tab, step 100 shows digits whose neighbours are mostly another digit; the last
step shows fewer, and a higher kNN accuracy. The run also gets ``train_logits``: the
training digits with planted label flips, for the history score (demo/digits_history.py).

Data: offline by default, the real handwritten digits that ship with scikit-learn
(1,797 digits of 8x8 px; thumbnails upscaled to 28x28 for legibility); with
``--mnist-dir DIR`` the real MNIST IDX files of the tutorials' ``MNIST_data/``.

    python -m tb_embedanalysis.demo.digits --logdir demo_logs [--mnist-dir MNIST_data]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from tb_embedanalysis.demo import _setup, digits_history, idx

EMBEDDING_NAME = "logits"
DEFAULT_STEPS = 2000
DEFAULT_LOG_STEPS = (100, 300, 1000)
THUMBNAIL_SIZE = 28


@dataclasses.dataclass(frozen=True)
class DigitsData:
    """Training and test digits.

    x_*: float32 (N, D) pixels in [0, 1], flattened; y_*: int64 (N,) digit labels;
    thumbnails: float32 (N_test, H, W) in [0, 1], white digit on black (the sprite
    inverts them); run: the run directory name, saying where the digits came from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    thumbnails: np.ndarray
    run: str


def sklearn_digits(*, test_fraction: float = 0.4, seed: int = 0,
                   thumbnail_size: int = THUMBNAIL_SIZE) -> DigitsData:
    """scikit-learn's 1,797 real 8x8 digits, split stratified and seeded.

    The network sees the 64 raw pixels; only the sprite thumbnails are upscaled (bicubic,
    Pillow) because 8x8 px is barely legible in the tab.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    train_images, test_images, y_train, y_test = train_test_split(
        images, digits.target, test_size=test_fraction, random_state=seed, stratify=digits.target)
    x_test = test_images.reshape(len(test_images), -1)
    return DigitsData(
        x_train=train_images.reshape(len(train_images), -1), y_train=y_train.astype(np.int64),
        x_test=x_test, y_test=y_test.astype(np.int64),
        thumbnails=thumbnails_of(x_test, size=thumbnail_size), run="digits",
    )


def thumbnails_of(x: np.ndarray, *, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """Sprite thumbnails of flattened square images x (N, side*side) in [0, 1]: float32
    (N, size, size) when side < size (upscaled, bicubic, Pillow), else (N, side, side)."""
    from PIL import Image

    side = math.isqrt(x.shape[1])
    images = x.reshape(len(x), side, side).astype(np.float32)
    if side >= size:
        return images
    # A one-pixel margin first: the 8x8 digits touch their borders, and neighbouring
    # thumbnails in the sprite would otherwise run into each other.
    thumbnails = np.stack([
        np.asarray(Image.fromarray(np.pad(image, 1)).resize((size, size), Image.Resampling.BICUBIC))
        for image in images
    ])
    return np.clip(thumbnails, 0.0, 1.0).astype(np.float32)


def mnist_digits(directory: str) -> DigitsData:
    """MNIST from its four IDX files (see `idx.load_mnist`): 60,000 train, 10,000 test."""
    mnist = idx.load_mnist(directory)
    scale = np.float32(1.0 / 255.0)
    return DigitsData(
        x_train=mnist.train_images.reshape(len(mnist.train_images), -1).astype(np.float32) * scale,
        y_train=mnist.train_labels.astype(np.int64),
        x_test=mnist.test_images.reshape(len(mnist.test_images), -1).astype(np.float32) * scale,
        y_test=mnist.test_labels.astype(np.int64),
        thumbnails=mnist.test_images.astype(np.float32) * scale,
        run="mnist",
    )


def logging_steps(steps: int, log_steps: Optional[Sequence[int]] = None) -> Tuple[int, ...]:
    """The sorted global steps to log: `log_steps` plus `steps` itself.

    None means `DEFAULT_LOG_STEPS` below `steps`; explicit steps beyond `steps` are an error.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if log_steps is None:
        log_steps = [s for s in DEFAULT_LOG_STEPS if s < steps]
    bad = [s for s in log_steps if not 0 <= int(s) <= steps]
    if bad:
        raise ValueError(f"log steps {bad} lie outside 0..{steps} (the training steps)")
    return tuple(sorted({int(s) for s in log_steps} | {int(steps)}))


def build_model(tf, input_dim: int, *, hidden: int, learning_rate: float):
    """input -> Dense(hidden, relu) -> Dense(10) logits (the tutorial's layer 1 and 2)."""
    model = tf.keras.Sequential([
        tf.keras.Input((input_dim,)),
        tf.keras.layers.Dense(hidden, activation="relu", name="hidden"),
        tf.keras.layers.Dense(10, name="logits"),
    ])
    # Plain SGD, small steps: step 100 should still be confused, which is the point.
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


@dataclasses.dataclass(frozen=True)
class DigitsResult:
    """What `run` wrote: the run directory, logged steps and the test accuracy (argmax of
    the logits) at each of them."""

    run_dir: str
    steps: Tuple[int, ...]
    test_accuracy: Dict[int, float]


def run(logdir: str, *, mnist_dir: Optional[str] = None, steps: int = DEFAULT_STEPS,
        log_steps: Optional[Sequence[int]] = None, batch_size: int = 32,
        learning_rate: float = 0.05, hidden: int = 64, seed: int = 0, threads: int = 2,
        overwrite: bool = False, history: bool = True,
        progress: _setup.Progress = print) -> Optional[DigitsResult]:
    """Train and write the digits run into ``logdir/digits`` (``logdir/mnist`` with
    `mnist_dir`). With `history`, the run also gets the training set's logits with planted
    label errors (demo/digits_history.py). Returns None (and writes nothing) when that run
    exists already, unless `overwrite`."""
    schedule = logging_steps(steps, log_steps)
    data = mnist_digits(mnist_dir) if mnist_dir else sklearn_digits(seed=seed)
    if _setup.run_exists(logdir, data.run) and not overwrite:
        progress(f"{data.run}: {os.path.join(logdir, data.run)} exists, skipped")
        return None
    tf = _setup.tensorflow(seed=seed, threads=threads)
    from tb_embedanalysis.keras import EmbeddingCallback

    progress(f"{data.run}: training a {data.x_train.shape[1]}-{hidden}-10 network on "
             f"{len(data.x_train):,} digits for {steps:,} steps; logging the logits of "
             f"{len(data.x_test):,} test digits at steps {', '.join(map(str, schedule))}")
    with _setup.staged_run(logdir, data.run, overwrite=overwrite) as run_dir:
        model = build_model(tf, data.x_train.shape[1], hidden=hidden, learning_rate=learning_rate)
        labels = [str(label) for label in data.y_test]
        embedding = EmbeddingCallback(
            run_dir, data=data.x_test, labels=data.y_test, layer=None, name=EMBEDDING_NAME,
            metadata={"Index": [str(i) for i in range(len(labels))], "Label": labels},
            images=data.thumbnails, invert_images=True, log_scalars=True, step="iterations",
        )
        at_steps = _log_at_steps(tf, embedding, schedule, run_dir, data.y_test, progress, data.run)
        epochs = math.ceil(steps / math.ceil(len(data.x_train) / batch_size))
        model.fit(data.x_train, data.y_train, batch_size=batch_size, epochs=epochs,
                  shuffle=True, verbose=0, callbacks=[at_steps])
        accuracy = dict(at_steps.accuracy)
        if history:  # a second network, on at most HISTORY_ROWS training digits
            rows = min(len(data.x_train), digits_history.HISTORY_ROWS)
            digits_history.write_history(tf, run_dir, data.x_train[:rows], data.y_train[:rows],
                                         thumbnails_of(data.x_train[:rows]), seed=seed, run_name=data.run,
                                         progress=progress)
    final_dir = os.path.join(logdir, data.run)
    progress(f"{data.run}: wrote {final_dir}")
    return DigitsResult(run_dir=final_dir, steps=schedule, test_accuracy=accuracy)


def _log_at_steps(tf, embedding, schedule, run_dir, y_test, progress, run_name):
    """A Keras callback (the class is built here because TensorFlow is imported only when
    a demo runs) that makes `embedding` (an EmbeddingCallback) write at the given
    global steps - its own hooks only know epoch ends - and stops training after the
    last one. It also logs ``train/loss`` every 10 steps and ``test/accuracy`` at each
    logged step, so the Scalars tab shows the quality figures next to the loss."""

    keras_callback: Any = tf.keras.callbacks.Callback  # a value, as TensorFlow is: no static type

    class LogAtSteps(keras_callback):
        def __init__(self):
            super().__init__()
            self.pending = list(schedule)
            self.accuracy: Dict[int, float] = {}
            self.writer: Any = None  # a tf.summary writer from on_train_begin on

        def set_model(self, model):
            super().set_model(model)
            embedding.set_model(model)

        def on_train_begin(self, logs=None):
            self.writer = tf.summary.create_file_writer(run_dir)
            self._log_due(0, None)

        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            loss = None if logs is None or "loss" not in logs else float(logs["loss"])
            if loss is not None and step % 10 == 0:
                with self.writer.as_default(step=step):
                    tf.summary.scalar("train/loss", loss)
            self._log_due(step, loss)
            if not self.pending:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            embedding.on_train_end(logs)
            self.writer.close()

        def _log_due(self, step, loss):
            while self.pending and self.pending[0] <= step:
                self.pending.pop(0)
                embedding.write(step)
                accuracy = float(np.mean(embedding.embed().argmax(axis=1) == y_test))
                self.accuracy[step] = accuracy
                with self.writer.as_default(step=step):
                    tf.summary.scalar("test/accuracy", accuracy)
                self.writer.flush()
                running = "" if loss is None else f"  loss {loss:.3f}"
                progress(f"{run_name}: step {step:>5}{running}  test accuracy {accuracy:.3f}  (logits logged)")

    return LogAtSteps()


def _int_list(text: str) -> Tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tb_embedanalysis.demo.digits", description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="demo_logs", help="where the run is written (default demo_logs)")
    parser.add_argument("--mnist-dir", metavar="DIR",
                        help="read the four MNIST IDX files (train-images-idx3-ubyte.gz, ...) from DIR "
                        "instead of using scikit-learn's 8x8 digits")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps (default %(default)s)")
    parser.add_argument("--log-steps", type=_int_list, metavar="S1,S2,...",
                        help="global steps at which the test logits are logged, besides the last "
                        "(default: those of %s below --steps)" % ",".join(map(str, DEFAULT_LOG_STEPS)))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (the tutorial uses 500)")
    parser.add_argument("--no-history", dest="history", action="store_false",
                        help="skip the training-set embedding with planted label errors")
    _setup.add_run_arguments(parser, seed=0)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args.logdir, mnist_dir=args.mnist_dir, steps=args.steps, log_steps=args.log_steps,
            batch_size=args.batch_size, learning_rate=args.learning_rate, hidden=args.hidden, seed=args.seed,
            threads=args.threads, overwrite=args.overwrite, history=args.history)
    except (idx.IdxError, ValueError) as error:
        print(f"digits demo: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
