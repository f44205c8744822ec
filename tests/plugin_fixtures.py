"""Logdirs for the plugin tests, written by the real writer and by real TensorFlow."""

import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import history_protocol
from tb_embedanalysis import write_embedding


def digits_logits(max_iter: int):
    """Test-set style logits of a linear model trained for `max_iter` iterations (early vs late)."""
    digits = load_digits()
    x = StandardScaler().fit_transform(digits.data)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at the early step is the point
        model = LogisticRegression(max_iter=max_iter, random_state=0).fit(x, digits.target)
    return model.decision_function(x).astype(np.float32), digits


def write_digits_run(logdir: str, *, n: int = 600):
    early, digits = digits_logits(1)
    late, _ = digits_logits(200)
    labels = [str(t) for t in digits.target[:n]]
    images = (digits.images[:n] / 16.0).astype(np.float32)
    for step, vectors in ((100, early[:n]), (1500, late[:n])):
        write_embedding(
            logdir, vectors, name="logits", step=step,
            metadata={"Index": [str(i) for i in range(n)], "Label": labels},
            images=images, invert_images=True,
        )
    return {"early": early[:n], "late": late[:n], "labels": labels, "images": images}


def write_history_run(run_dir, *, seed: int, name: str = "logits"):
    """The small memorisation protocol (history_protocol.digits_run: 300 rows, 4 log-spaced
    steps up to 1,600, planted label flips) logged by write_embedding into `run_dir`;
    returns (the protocol's Run, the metadata written with every step)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        run = history_protocol.digits_run(seed=seed, rows=300, last=1600, count=4)
    labels = [str(v) for v in run.noisy]
    metadata = {"Index": [str(i) for i in range(len(labels))], "Label": labels}
    for step, logits in zip(run.steps, run.logits):
        write_embedding(run_dir, logits, name=name, step=step, metadata=metadata)
    return run, metadata


WORD_GROUPS = {
    "scary": ["nightmare", "horror", "creepy", "terrifying", "hitchcock"],
    "funny": ["comedy", "hilarious", "laugh", "witty", "joke"],
    "sad": ["tears", "tragic", "heartbreaking", "grief", "mourning"],
}


def write_words_run(logdir: str):
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(len(WORD_GROUPS), 16)).astype(np.float32) * 3
    words, rows = [], []
    for centre, group in zip(centres, WORD_GROUPS.values()):
        for word in group:
            words.append(word)
            rows.append(centre + rng.normal(scale=0.3, size=16).astype(np.float32))
    vectors = np.asarray(rows, dtype=np.float32)
    write_embedding(logdir, vectors, name="embedding", metadata=words)
    return {"vectors": vectors, "words": words}


def write_tf1_saver_run(logdir: str, vectors: np.ndarray, labels):
    """The seed tutorial's flow: a FINAL_LOGITS variable saved by tf.compat.v1.train.Saver."""
    import tensorflow as tf
    from tensorboard.plugins import projector

    os.makedirs(logdir, exist_ok=True)
    with open(os.path.join(logdir, "mnist_meta.tsv"), "w") as f:
        f.write("Index\tLabel\n")
        for i, label in enumerate(labels):
            f.write("%d\t%s\n" % (i, label))
    graph = tf.Graph()
    with graph.as_default():
        variable = tf.compat.v1.Variable(vectors, name="FINAL_LOGITS")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, os.path.join(logdir, "model.ckpt"), global_step=10000)
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = variable.name.split(":")[0]
    embedding.metadata_path = "mnist_meta.tsv"
    from google.protobuf import text_format

    with open(os.path.join(logdir, "projector_config.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(config))


def write_broken_run(logdir: str):
    """Metadata with one row too few: listed with an error, never fatal for the others."""
    vectors = np.arange(40, dtype=np.float32).reshape(10, 4)
    write_embedding(logdir, vectors, name="mismatch", metadata=[str(i % 2) for i in range(10)])
    path = os.path.join(logdir, "mismatch", "latest", "metadata.tsv")
    if not os.path.exists(path):  # the writer's layout may differ; find the file it wrote
        path = next(os.path.join(d, f) for d, _, fs in os.walk(logdir) for f in fs if f == "metadata.tsv")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines[:-1]) + "\n")
