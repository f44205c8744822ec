"""A training process that keeps saving new steps of one embedding, for the live-training tests.

    python live_writer.py tf1|writer LOGDIR --interval 0.5 --seconds 20

Every step s writes vectors that carry s, so a client can tell which step it was served:
the vectors are ``s * base`` (`vectors_for`), so every euclidean distance is s times its
value at step 1 (`unit_distance`: row 0 to its nearest neighbour, row 1). With `writer` (`write_embedding`, step s) the
metadata carries s too: column ``Step`` is ``s`` and labels are ``s<s>-<i mod 4>``. With
`tf1` (`tf.compat.v1.train.Saver`, max_to_keep=3, FINAL_LOGITS + projector config, the
seed tutorial's flow) all checkpoints share one metadata file, as in TensorBoard.

After each completed save the process appends ``<step> <time.time()>`` to LOGDIR/../steps.log,
so the test knows what exists and since when. It stops by itself after `--seconds`.
"""

import argparse
import os
import sys
import time

import numpy as np

N, D = 200, 8
LABELS = 4


def vectors_for(step: int) -> np.ndarray:
    base = np.zeros((N, D), dtype=np.float32)
    base[:, 0] = np.arange(N)
    base[:, 1 + np.arange(N) % (D - 1)] += 0.5  # not all collinear: cosine has something to rank
    return base * np.float32(step)


def unit_distance() -> float:
    """Euclidean distance of rows 0 and 1 at step 1; at step s it is s times this."""
    base = vectors_for(1).astype(np.float64)
    return float(np.linalg.norm(base[0] - base[1]))


def labels_for(step: int, *, with_step: bool):
    return ["s%d-%d" % (step, i % LABELS) if with_step else str(i % LABELS) for i in range(N)]


def _log_step(logdir: str, step: int) -> None:
    with open(os.path.join(os.path.dirname(os.path.abspath(logdir)), "steps.log"), "a") as handle:
        handle.write("%d %.6f\n" % (step, time.time()))


def run_writer(logdir: str, interval: float, seconds: float) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    from tb_embedanalysis import write_embedding

    deadline = time.monotonic() + seconds
    step = 1
    while time.monotonic() < deadline:
        write_embedding(logdir, vectors_for(step), name="emb", step=step,
                        metadata={"Step": [str(step)] * N, "Label": labels_for(step, with_step=True)})
        _log_step(logdir, step)
        step += 1
        time.sleep(interval)


def run_tf1(logdir: str, interval: float, seconds: float) -> None:
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    os.makedirs(logdir, exist_ok=True)
    with open(os.path.join(logdir, "meta.tsv"), "w") as handle:
        handle.write("Index\tLabel\n" + "".join("%d\t%s\n" % (i, label)
                                                 for i, label in enumerate(labels_for(0, with_step=False))))
    graph = tf.Graph()
    with graph.as_default():
        logits = tf.compat.v1.Variable(np.zeros((N, D), np.float32), name="FINAL_LOGITS")
        value = tf.compat.v1.placeholder(tf.float32, (N, D))
        assign = logits.assign(value)
        saver = tf.compat.v1.train.Saver(max_to_keep=3)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            config = projector.ProjectorConfig()
            entry = config.embeddings.add()
            entry.tensor_name = "FINAL_LOGITS"
            entry.metadata_path = "meta.tsv"
            deadline = time.monotonic() + seconds
            step = 1
            while time.monotonic() < deadline:
                session.run(assign, {value: vectors_for(step)})
                saver.save(session, os.path.join(logdir, "model.ckpt"), global_step=step)
                if step == 1:  # the tutorial writes the config once, after the first save
                    with open(os.path.join(logdir, "projector_config.pbtxt"), "w") as handle:
                        handle.write(text_format.MessageToString(config))
                _log_step(logdir, step)
                step += 1
                time.sleep(interval)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["tf1", "writer"])
    parser.add_argument("logdir")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    {"tf1": run_tf1, "writer": run_writer}[args.mode](args.logdir, args.interval, args.seconds)


if __name__ == "__main__":
    main()
