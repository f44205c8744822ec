"""Demo 1, second part: label errors found from training history.

Besides the test set's logits (demo/digits.py), the digits run gets a second embedding,
``train_logits``: a network trained on the TRAINING digits after planting label errors -
`FLIP_FRACTION` of the training labels are replaced by the digit each image is most easily
confused with (the nearest other digit's mean image), as in tests/history_protocol.py. The
network is trained until it fits every label, planted errors included (it memorises them),
and the training set's logits are logged at log-spaced steps with `EmbeddingCallback`:
the same rows, in the same order, at every step. Early on the flipped digits sit among
their true digit; late they have been memorised into their wrong one. The history score
(Hard examples -> Score: history) reads that story and ranks them first.

The metadata looks like a user's - ``Label`` is the label the network was trained on,
wrong for the flipped rows - plus ``planted_flip`` (yes/no), so that the ranking can be
checked against the truth in the tab.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Tuple

import numpy as np

from tb_embedanalysis.demo import _setup

EMBEDDING_NAME = "train_logits"
FLIP_FRACTION = 0.15
#: Doubling Adam steps: at 50 the network generalises (flipped digits sit with their true
#: digit), by 3,200 it has memorised every planted label. (Measured on the demo's digits:
#: 6 steps from 100 put 0.870 planted flips in the top N, these 7 0.883; 10 % flips 0.889,
#: 20 % 0.917; Adam at 1e-3 needs twice the steps for the same.)
LOG_STEPS = (50, 100, 200, 400, 800, 1600, 3200)
HIDDEN = 256
LEARNING_RATE = 3e-3
BATCH_SIZE = 64
FLIP_COLUMN = "planted_flip"
#: Training digits used at most (all 1,078 of scikit-learn's split; the first 2,000 of MNIST's
#: 60,000, which keeps memorising them, and the demo, fast).
HISTORY_ROWS = 2000


def plant_confusable(x: np.ndarray, y: np.ndarray, *, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """(noisy labels, flipped mask): a seeded `fraction` of the rows take the label of their
    nearest other-label centroid in input space - their most confusable digit.

    x: (N, D) float; y: (N,) int labels. Returns int64 (N,) and bool (N,); with fewer
    than two distinct labels nothing can be flipped.
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y, dtype=np.int64)
    present, codes = np.unique(y, return_inverse=True)
    noisy = y.copy()
    flipped = np.zeros(len(y), dtype=bool)
    if present.size < 2:
        return noisy, flipped
    flip = rng.choice(len(y), int(round(fraction * len(y))), replace=False)
    centroids = np.stack([x[codes == c].mean(axis=0) for c in range(present.size)])
    distances = ((x[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    distances[np.arange(len(y)), codes] = np.inf
    noisy[flip] = present[distances.argmin(axis=1)[flip]]
    flipped[flip] = True
    return noisy, flipped


@dataclasses.dataclass(frozen=True)
class HistoryResult:
    """What `write_history` wrote: the logged steps, the planted flips (N,) bool, the noisy
    labels (N,) int64 and the fraction of training labels the network fits at the last step."""

    steps: Tuple[int, ...]
    flipped: np.ndarray
    noisy: np.ndarray
    fit_accuracy: float


def write_history(tf, run_dir: str, x_train: np.ndarray, y_train: np.ndarray, thumbnails: np.ndarray, *,
                  seed: int, run_name: str, progress: _setup.Progress = print,
                  log_steps: Tuple[int, ...] = LOG_STEPS) -> HistoryResult:
    """Plant flips in `y_train`, train a fresh network on them and log the training set's
    logits as `EMBEDDING_NAME` at `log_steps` into `run_dir`.

    x_train: float32 (N, D) in [0, 1]; y_train: int (N,); thumbnails: (N, H, W) in [0, 1],
    white on black (the sprite inverts them). TensorFlow is re-seeded with `seed` first, so
    the result does not depend on what trained before in this process.
    """
    from tb_embedanalysis.keras import EmbeddingCallback

    noisy, flipped = plant_confusable(x_train, y_train, fraction=FLIP_FRACTION, seed=seed)
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.Input((x_train.shape[1],)),
        tf.keras.layers.Dense(HIDDEN, activation="relu", name="hidden"),
        tf.keras.layers.Dense(10, name="logits"),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(LEARNING_RATE),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    metadata = {
        "Index": [str(i) for i in range(len(noisy))],
        "Label": [str(label) for label in noisy],
        FLIP_COLUMN: ["yes" if f else "no" for f in flipped],
    }
    embedding = EmbeddingCallback(
        run_dir, data=x_train, labels=noisy, layer=None, name=EMBEDDING_NAME, metadata=metadata,
        images=thumbnails, invert_images=True, log_scalars=False, step="iterations",
    )
    schedule = tuple(sorted(log_steps))
    logger = _writer_at_steps(tf, embedding, schedule)
    dataset = (tf.data.Dataset.from_tensor_slices((x_train, noisy))
               .shuffle(len(noisy), seed=seed, reshuffle_each_iteration=True)
               .batch(BATCH_SIZE).repeat())
    model.fit(dataset, steps_per_epoch=schedule[-1], epochs=1, shuffle=False, verbose=0, callbacks=[logger])
    fit = float(np.mean(embedding.embed().argmax(axis=1) == noisy))
    progress(f"{run_name}: planted {int(flipped.sum())} label errors ({FLIP_FRACTION:.0%}) in the "
             f"{len(noisy):,} training digits; '{EMBEDDING_NAME}' logs them at steps "
             f"{', '.join(map(str, schedule))} (fits {fit:.0%} of its labels at the end) - find them in "
             f"Hard examples -> Score: history (column '{FLIP_COLUMN}' says which are planted)")
    return HistoryResult(steps=schedule, flipped=flipped, noisy=noisy, fit_accuracy=fit)


def _writer_at_steps(tf, embedding, schedule):
    """A Keras callback making `embedding` write at the global steps of `schedule` (its own
    hook only knows epoch ends); the class is built here because TensorFlow is imported
    only when a demo runs."""

    keras_callback: Any = tf.keras.callbacks.Callback  # a value, as TensorFlow is: no static type

    class WriteAtSteps(keras_callback):
        def __init__(self):
            super().__init__()
            self.pending = list(schedule)

        def set_model(self, model):
            super().set_model(model)
            embedding.set_model(model)

        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            while self.pending and self.pending[0] <= step:
                self.pending.pop(0)
                embedding.write(step)
            if not self.pending:
                self.model.stop_training = True

    return WriteAtSteps()
