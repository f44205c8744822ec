"""The label-error protocol of issue 26, shared by bench/bench_label_errors.py (full size)
and tests/test_analysis_label_errors.py (small).

Fixed before any result was looked at:

* **Datasets.** scikit-learn's digits (1,797 × 64, pixels / 16), and scikit-learn's
  `make_classification` (2,000 × 40: 20 informative, 10 redundant, 10 classes of two
  Gaussian clusters each, class_sep 2.0, chosen for a clean
  leave-one-out 10-NN accuracy of 0.84 in input space, against digits' 0.95; standardised; generated from the run's seed, so
  every seed is a new dataset). Why that one: it installs with scikit-learn and needs no
  download; the other datasets bundled in scikit-learn's wheel are too small (iris 150,
  wine 178) or binary (breast cancer); its classes are multi-modal, so a point's nearest
  other class is not its class's mirror image, unlike digits.
* **Noise.** 20 % of the labels flipped, `uniform` (to any other class, uniformly) or
  `confusable` (to the nearest other-class centroid in input space).
* **Architectures.** Numpy MLPs trained with Adam (lr 1e-3, batch 64) on the noisy labels:
  `mlp256` (one hidden layer of 256 ReLU) and `mlp64x64` (two of 64). The training set's
  logits are logged at 8 doubling iterations 50 … 6,400 (LAST_STEP).
* **Seeds.** Tuning: TUNING_SEEDS. Held out: HELD_OUT_SEEDS; only their figures are quoted.
  Seeds name the flips, the initialisation, the minibatches and (make_classification) the
  data; none of them is any earlier protocol's seed.
* **Anchors, in the same run:** cleanlab's label quality (self-confidence, its default) on
  5-fold cross-validated probabilities of the same architecture trained as long, and on the
  last logged step's in-sample probabilities; AUM; cartography confidence; the mean kNN
  margin over steps; the best single step in hindsight (the step and the score, kNN margin
  or logit margin, with the highest AUROC).

Everything is seeded (np.random.default_rng) and numpy only, so a seed gives the same logits
on every run.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np

from history_protocol import log_steps, minibatches, plant_confusable

# Two held-out seeds per configuration (16 × 6 trainings, CV folds included): on 2 cores
# shared with 7 other sessions a run took 45-90 s. Cut from 3 before any result was seen.
# Tuning: seed 100 chose the first score and count, and one seed overfitted (its count was
# within 0.93-1.11 of the truth, the held-out runs' up to 1.39); seeds 101-109 were added,
# and declared here, before any result on them was looked at. Tuning runs need no CV folds
# (the choices are measured against the anchors read from the history itself).
# Seeds 200 and 201 were held out for two methods (each run once after it was frozen): seen
# twice, they are no longer held out and join the tuning seeds. Held out since: 300 and 301,
# declared here (committed alone) before any change or any run of the third method; two, not
# three, so that the single held-out run (~25 min on the shared cores) fits the session.
# Seeds 300 and 301 were run once for the third method (frozen at 5fc33e8): seen, they join the
# tuning seeds. Held out since: 400 and 401, declared here (committed alone) before any change
# or any run of the fourth method.
# Seeds 400 and 401 were run once for the fourth method (frozen at 109f2fc): seen, they join the
# tuning seeds. Held out since: 500 and 501, declared here (committed alone) before any change
# or any run of the fifth method.
# Seeds 500 and 501 were run once for the fifth method (84e70de, not merged) and the fourth
# (main, 109f2fc) in the same run: seen, they join the tuning seeds. Held out since: 600 and
# 601, declared here (committed alone) before any change or any run of the sixth round.
# Seeds 600 and 601 were run once for the sixth round (the count's interval, frozen at df554a4):
# seen, they join the tuning seeds. Held out since: 700 and 701, declared here (committed alone)
# before any change or any run of the seventh round.
# Seeds 700 and 701 were run once for the seventh round (frozen before that run): seen, they join
# the tuning seeds. Held out since: 800 and 801, declared here (committed alone) before any change
# or any run of the eighth round.
# Seeds 800 and 801 were run once for the eighth round (frozen at e87ebf7): seen, they join the
# tuning seeds. Held out since: 900 and 901, declared here (committed alone) before any change
# or any run of the ninth round (the promise and the count without logits).
TUNING_SEEDS = tuple(range(100, 110)) + (200, 201, 300, 301, 400, 401, 500, 501, 600, 601, 700, 701, 800, 801)
HELD_OUT_SEEDS = (900, 901)
DATASETS = ("digits", "classification")
NOISES = ("uniform", "confusable")
ARCHITECTURES = {"mlp256": (256,), "mlp64x64": (64, 64)}
FRACTION = 0.2
LAST_STEP = 6_400  # 50 … 6,400: the 256-wide net fits 94 % (digits) to 100 % of the noisy labels
STEP_COUNT = 8
FOLDS = 5


def plant_uniform(y: np.ndarray, *, fraction: float, seed: int):
    """(noisy labels, flipped mask): `fraction` of the rows get another label drawn uniformly."""
    rng = np.random.default_rng(seed)
    n_labels = int(y.max()) + 1
    flip = rng.choice(len(y), int(round(fraction * len(y))), replace=False)
    noisy = y.copy()
    noisy[flip] = (y[flip] + rng.integers(1, n_labels, flip.size)) % n_labels
    return noisy, np.isin(np.arange(len(y)), flip)


def dataset(name: str, seed: int, rows: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(x (N, D) float64 scaled, y (N,) int) of `name`; `rows`: a seeded subset (smoke runs)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        x = x / 16.0
    elif name == "classification":
        from sklearn.datasets import make_classification

        x, y = make_classification(n_samples=2000, n_features=40, n_informative=20, n_redundant=10, n_classes=10,
                                   n_clusters_per_class=2, class_sep=2.0, flip_y=0.0, random_state=seed)
        x = (x - x.mean(axis=0)) / x.std(axis=0)
    else:
        raise ValueError("unknown dataset %r; known: %s" % (name, ", ".join(DATASETS)))
    if rows:
        keep = np.sort(np.random.default_rng(1000 + seed).permutation(len(y))[:rows])
        x, y = x[keep], y[keep]
    return x, y.astype(np.int64)


class _MLP:
    """A ReLU MLP trained with Adam on the softmax cross-entropy (numpy, float64)."""

    def __init__(self, d: int, hidden: Sequence[int], n_labels: int, rng: np.random.Generator, lr: float = 1e-3):
        sizes = [d, *hidden, n_labels]
        self.params = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            scale = np.sqrt((2.0 if i < len(hidden) else 1.0) / a)
            self.params += [rng.normal(0, scale, (a, b)), np.zeros(b)]
        self.first = [np.zeros_like(p) for p in self.params]
        self.second = [np.zeros_like(p) for p in self.params]
        self.lr, self.it = lr, 0

    def forward(self, x: np.ndarray):
        acts = [x]
        for i in range(0, len(self.params), 2):
            z = acts[-1] @ self.params[i] + self.params[i + 1]
            acts.append(np.maximum(z, 0.0) if i + 2 < len(self.params) else z)
        return acts

    def step(self, x: np.ndarray, onehot: np.ndarray) -> None:
        acts = self.forward(x)
        z = acts[-1]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        delta = (p - onehot) / x.shape[0]
        grads = [np.empty(0)] * len(self.params)
        for i in range(len(self.params) - 2, -1, -2):
            grads[i], grads[i + 1] = acts[i // 2].T @ delta, delta.sum(axis=0)
            if i:
                delta = (delta @ self.params[i].T) * (acts[i // 2] > 0)
        self.it += 1
        for i, g in enumerate(grads):  # Adam, default betas
            self.first[i] = 0.9 * self.first[i] + 0.1 * g
            self.second[i] = 0.999 * self.second[i] + 0.001 * g * g
            self.params[i] = self.params[i] - self.lr * (self.first[i] / (1 - 0.9 ** self.it)) / (
                np.sqrt(self.second[i] / (1 - 0.999 ** self.it)) + 1e-8)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1]


def train(x: np.ndarray, labels: np.ndarray, *, hidden: Sequence[int], steps: Sequence[int], seed: int,
          n_labels: int, batch: int = 64, predict: Optional[np.ndarray] = None) -> np.ndarray:
    """(len(steps), M, L) float32 logits of `predict` (default: x itself) after each of
    `steps` Adam iterations on `labels`; minibatches without replacement per epoch."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    net = _MLP(x.shape[1], hidden, n_labels, rng)
    onehot = np.eye(n_labels)[labels]
    target = x if predict is None else predict
    out = []
    wanted = set(int(s) for s in steps)
    for it, rows in minibatches(rng, n, batch, max(wanted)):
        net.step(x[rows], onehot[rows])
        if it in wanted:
            out.append(net.logits(target).astype(np.float32))
    return np.stack(out)


@dataclasses.dataclass(frozen=True)
class Run:
    """One protocol run: logits (S, N, L) at `steps`, noisy labels (N,), flipped mask (N,),
    and cv_probs (N, L), the 5-fold cross-validated softmax of the same training."""

    dataset: str
    noise: str
    architecture: str
    seed: int
    steps: tuple
    logits: np.ndarray
    noisy: np.ndarray
    flipped: np.ndarray
    cv_probs: np.ndarray


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def make_run(dataset_name: str, noise: str, architecture: str, seed: int, *, rows: int = 0,
             last: int = LAST_STEP, count: int = STEP_COUNT, folds: int = FOLDS) -> Run:
    """The protocol's run (see the module docstring); rows/last/count shrink it for smoke runs;
    folds=0: no cross-validated probabilities (cv_probs all NaN)."""
    x, y = dataset(dataset_name, seed, rows)
    if noise == "uniform":
        noisy, flipped = plant_uniform(y, fraction=FRACTION, seed=seed)
    elif noise == "confusable":
        noisy, flipped = plant_confusable(x, y, fraction=FRACTION, seed=seed)
    else:
        raise ValueError("unknown noise %r; known: %s" % (noise, ", ".join(NOISES)))
    hidden = ARCHITECTURES[architecture]
    n_labels = int(y.max()) + 1
    steps = log_steps(last, count)
    logits = train(x, noisy, hidden=hidden, steps=steps, seed=seed, n_labels=n_labels)
    fold_of = np.random.default_rng(2000 + seed).permutation(len(y)) % max(folds, 1)
    cv = np.full((len(y), n_labels), np.nan)
    for fold in range(folds):  # cleanlab's cross-validated probabilities: same network, same length
        held = fold_of == fold
        cv[held] = softmax(train(x[~held], noisy[~held], hidden=hidden, steps=(steps[-1],), seed=seed + 7 * fold,
                                 n_labels=n_labels, predict=x[held])[0].astype(np.float64))
    return Run(dataset_name, noise, architecture, seed, steps, logits, noisy, flipped, cv)
