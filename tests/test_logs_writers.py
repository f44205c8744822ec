"""Projector logs as the writers people use leave them, read back exactly (issue 15).

Every log here is written by the real library inside the test: the Keras 2 (`tf_keras`)
and Keras 3 TensorBoard callbacks, a TF1 `Saver` writing V1 checkpoints, a TF2 Checkpoint
of a bfloat16 variable. The vectors read must equal what the writer held, float32 for
float32 (no tolerance). One module fixture writes them all: TensorFlow is slow to import.
"""

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import warnings
from typing import Dict

import numpy as np
import pytest
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from logs_fixtures import vectors, write_config, write_tsv
from tb_embedanalysis.logs import EmbeddingStore, TensorFormatError, UnsafePathError, discover, find_ref

pytest.importorskip("tensorflow")

WORDS = ["w%02d" % i for i in range(12)]
V1_STEPS = {7: vectors(6, 3, seed=11), 9: vectors(6, 3, seed=12)}
V1_OTHER = vectors(5, 2, seed=13)  # not named by the config: offered like the Projector does
BF16_SOURCE = vectors(9, 4, seed=14)


def _fit_with_callback(keras_module, log_dir, *, keras3):
    """Train a tiny Embedding model 2 epochs with TensorBoard(embeddings_freq=1); returns
    {epoch: embedding table as held right after the callback saved it}."""
    metadata = write_tsv(os.path.join(log_dir, "words.tsv"), [(w,) for w in WORDS])
    layers = keras_module.layers
    inputs = [keras_module.Input((5,))] if keras3 else []
    embedding = layers.Embedding(len(WORDS), 4) if keras3 else layers.Embedding(len(WORDS), 4, input_length=5)
    model = keras_module.Sequential(inputs + [embedding, layers.GlobalAveragePooling1D(), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    tokens = np.random.default_rng(0).integers(0, len(WORDS), size=(32, 5))
    held: Dict[int, np.ndarray] = {}
    record = keras_module.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: held.__setitem__(epoch, np.array(embedding.get_weights()[0])))
    board = keras_module.callbacks.TensorBoard(log_dir, embeddings_freq=1, embeddings_metadata=metadata)
    model.fit(tokens, (tokens[:, 0] % 2).astype("float32"), epochs=2, verbose=0, callbacks=[board, record])
    return held


TAGS = ["t%d" % i for i in range(7)]


def _fit_two_embeddings(keras_module, log_dir):
    """A model with two Embedding layers (words, tags: two inputs), each with its own
    metadata file in the callback's `embeddings_metadata`; returns {layer: table after the
    epoch}."""
    layers = keras_module.layers
    words_in, tags_in = keras_module.Input((5,)), keras_module.Input((3,))
    words = layers.Embedding(len(WORDS), 4, name="words")
    tags = layers.Embedding(len(TAGS), 2, name="tags")
    pooled = [layers.GlobalAveragePooling1D()(words(words_in)), layers.GlobalAveragePooling1D()(tags(tags_in))]
    model = keras_module.Model([words_in, tags_in], layers.Dense(1)(layers.Concatenate()(pooled)))
    rng = np.random.default_rng(1)
    data = [rng.integers(0, len(WORDS), size=(16, 5)), rng.integers(0, len(TAGS), size=(16, 3))]
    metadata = {"words": os.path.basename(write_tsv(os.path.join(log_dir, "words.tsv"), [(w,) for w in WORDS])),
                "tags": os.path.basename(write_tsv(os.path.join(log_dir, "tags.tsv"), [(t,) for t in TAGS]))}
    _fit_one_epoch(keras_module, model, data, log_dir, metadata)
    return {"words": np.array(words.get_weights()[0]), "tags": np.array(tags.get_weights()[0])}


def _fit_dense_then_embedding(keras_module, log_dir):
    """An Embedding layer that is not the model's first layer with weights (a Dense layer,
    zero outputs, feeds it indices): tf_keras still names it layer_with_weights-0."""
    layers = keras_module.layers
    words = layers.Embedding(len(WORDS), 4, name="words")
    model = keras_module.Sequential([keras_module.Input((3,)), layers.Dense(3, kernel_initializer="zeros",
                                                                            name="indices"),
                                     words, layers.GlobalAveragePooling1D(), layers.Dense(1)])
    metadata = {"words": os.path.basename(write_tsv(os.path.join(log_dir, "words.tsv"), [(w,) for w in WORDS]))}
    _fit_one_epoch(keras_module, model, [np.ones((16, 3))], log_dir, metadata)
    return {"words": np.array(words.get_weights()[0])}


def _fit_one_epoch(keras_module, model, data, log_dir, metadata):
    model.compile(optimizer="adam", loss="mse")
    board = keras_module.callbacks.TensorBoard(log_dir, embeddings_freq=1, embeddings_metadata=metadata)
    model.fit(data, np.ones(16, "float32"), epochs=1, verbose=0, callbacks=[board])


def _v1_saver_run(run_dir, *, sharded=False):
    import tensorflow as tf

    graph = tf.compat.v1.Graph()
    with graph.as_default():
        first = next(iter(V1_STEPS.values()))
        var1 = tf.compat.v1.Variable(np.zeros_like(first), name="var1")
        tf.compat.v1.Variable(V1_OTHER, name="var2")
        tf.compat.v1.Variable(np.ones_like(first), name="var1/Adam")  # an optimizer slot: not offered
        tf.compat.v1.Variable(np.ones(3, np.float32), name="bias")  # 1-D: not an embedding
        value = tf.compat.v1.placeholder(tf.float32, first.shape)
        assign = var1.assign(value)
        saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1, sharded=sharded)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for step, matrix in V1_STEPS.items():
                session.run(assign, {value: matrix})
                saver.save(session, os.path.join(run_dir, "model.ckpt"), global_step=step)
    config = ProjectorConfig()
    entry = config.embeddings.add()
    entry.tensor_name = "var1:0"
    entry.metadata_path = write_tsv(os.path.join(run_dir, "labels.tsv"), [(str(i % 2),) for i in range(6)])
    write_config(run_dir, config)


def _bf16_run(run_dir):
    import tensorflow as tf

    variable = tf.Variable(tf.cast(tf.constant(BF16_SOURCE), tf.bfloat16))
    tf.train.Checkpoint(embedding=variable).save(os.path.join(run_dir, "ckpt"))
    config = ProjectorConfig()
    config.embeddings.add().tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    write_config(run_dir, config)
    return variable.numpy().astype(np.float32)  # bf16 -> f32 is exact: what must be read


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """{case: (logdir, what the writer held)} for every writer of this module."""
    import keras
    import tf_keras

    root = tmp_path_factory.mktemp("writers")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the writers' deprecation chatter is not under test
        for case, module, keras3 in (("keras2", tf_keras, False), ("keras3", keras, True)):
            log_dir = str(root / case)
            out[case] = (log_dir, _fit_with_callback(module, log_dir, keras3=keras3))
            for variant, fit in (("two", _fit_two_embeddings), ("dense_first", _fit_dense_then_embedding)):
                log_dir = str(root / ("%s_%s" % (case, variant)))
                os.makedirs(log_dir)
                out["%s_%s" % (case, variant)] = (log_dir, fit(module, log_dir))
        for case, sharded in (("v1", False), ("v1_sharded", True)):
            os.makedirs(root / case)
            _v1_saver_run(str(root / case), sharded=sharded)
            out[case] = (str(root / case), V1_STEPS)
        os.makedirs(root / "bf16")
        out["bf16"] = (str(root / "bf16"), _bf16_run(str(root / "bf16")))
    return out


def _runs(logdir):
    return {info.run: info for info in discover(logdir)}


@pytest.mark.parametrize("case, name", [
    ("keras2", "layer_with_weights-0/embeddings"),
    ("keras3", "layers/embedding/vars/0"),
], ids=["tf_keras", "keras3-weights.h5"])
def test_keras_callback_epochs_are_steps_of_run_train_with_metadata(written, case, name):
    log_dir, held = written[case]
    runs = _runs(log_dir)
    assert list(runs) == ["train"]  # where the callback's checkpoints (and scalars) are
    assert runs["train"].problems == ()
    series = {s.name: s for s in runs["train"].series}
    assert series[name].steps == (0, 1)
    store = EmbeddingStore()
    for epoch, table in held.items():
        embedding = store.load(find_ref(list(runs.values()), "train", name, epoch))
        assert embedding.vectors.dtype == np.float32
        np.testing.assert_array_equal(embedding.vectors, table)
        assert embedding.metadata is not None
        assert list(embedding.metadata.column("label")) == WORDS
        assert embedding.warnings == ()
    assert not np.array_equal(held[0], held[1])  # the steps are really different epochs


@pytest.mark.parametrize("case", ["v1", "v1_sharded"])
def test_v1_saver_checkpoints_are_read_at_every_retained_step(written, case):
    log_dir, steps = written[case]
    runs = _runs(log_dir)
    assert runs["."].problems == ()
    series = {s.name: s for s in runs["."].series}
    assert series["var1"].steps == (7, 9)
    store = EmbeddingStore()
    for step, matrix in steps.items():
        embedding = store.load(find_ref(list(runs.values()), ".", "var1", step))
        np.testing.assert_array_equal(embedding.vectors, matrix)
        assert embedding.metadata is not None and embedding.label_column == "label"


def test_bfloat16_variable_is_cast_to_float32(written):
    log_dir, expected = written["bf16"]
    runs = _runs(log_dir)
    embedding = EmbeddingStore().load(find_ref(list(runs.values()), ".", "embedding"))
    assert embedding.vectors.dtype == np.float32
    np.testing.assert_array_equal(embedding.vectors, expected)
    np.testing.assert_allclose(embedding.vectors, BF16_SOURCE, rtol=2 ** -8)  # bf16 keeps 8 bits


def test_two_d_variables_the_config_does_not_name_are_offered_too(written):
    log_dir, _ = written["v1"]
    runs = _runs(log_dir)
    # var1 named; var2 offered (the Projector does); the Adam slot and the 1-D bias are not.
    assert [s.name for s in runs["."].series] == ["var1", "var2"]
    var2 = find_ref(list(runs.values()), ".", "var2")
    assert var2.metadata_path is None  # the named entry's labels belong to var1 only
    np.testing.assert_array_equal(EmbeddingStore().load(var2).vectors, V1_OTHER)


@pytest.mark.parametrize("case, names", [
    ("keras2_two", {"words": "layer_with_weights-0/embeddings", "tags": "layer_with_weights-1/embeddings"}),
    ("keras3_two", {"words": "layers/embedding/vars/0", "tags": "layers/embedding_1/vars/0"}),
    ("keras2_dense_first", {"words": "layer_with_weights-1/embeddings"}),
    ("keras3_dense_first", {"words": "layers/embedding/vars/0"}),
], ids=["tf_keras", "keras3", "tf_keras, a Dense layer first", "keras3, a Dense layer first"])
def test_keras_callback_gives_each_embedding_layer_its_own_metadata(written, case, names):
    """Issue 24: tf_keras names every Embedding layer layer_with_weights-0 in its config, so
    the second layer's entry (and its metadata) fell on the first table, and the second
    table was listed without metadata; an Embedding layer after a Dense one was named by a
    variable the checkpoint does not have. Each table must come with its own file."""
    log_dir, held = written[case]
    runs = _runs(log_dir)
    assert runs["train"].problems == ()
    store = EmbeddingStore()
    for layer, expected in (("words", WORDS), ("tags", TAGS))[:len(names)]:
        embedding = store.load(find_ref(list(runs.values()), "train", names[layer], 0))
        np.testing.assert_array_equal(embedding.vectors, held[layer])
        assert embedding.metadata is not None, layer
        assert list(embedding.metadata.column("label")) == expected


def test_keras_callback_runs_offer_the_other_layers_but_no_optimizer_state(written):
    for case, expected in (("keras2", {"layer_with_weights-0/embeddings", "layer_with_weights-1/kernel"}),
                           ("keras3", {"layers/embedding/vars/0", "layers/dense/vars/0"})):
        runs = _runs(written[case][0])
        assert {s.name for s in runs["train"].series} == expected, case


# -- Keras weights files are read through the same containment checks as every file ---------
def test_a_keras_weights_file_swapped_for_an_outside_symlink_is_refused(written, tmp_path):
    log_dir = tmp_path / "logs"
    shutil.copytree(written["keras3"][0], log_dir)
    runs = list(discover(str(log_dir)))
    ref = find_ref(runs, "train", "layers/embedding/vars/0")
    outside = tmp_path / "outside.weights.h5"
    shutil.move(ref.tensor.path, outside)
    os.symlink(outside, ref.tensor.path)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        EmbeddingStore().load(ref)
    # Discovered afresh, the symlinked epoch is not offered at all.
    assert find_ref(list(discover(str(log_dir))), "train", "layers/embedding/vars/0").step == 0


def _keras3_like_logdir(log_dir, build):
    """A Keras 3 callback's layout whose weights file `build(h5file)` fills."""
    import h5py

    os.makedirs(log_dir / "train")
    with h5py.File(log_dir / "train" / "keras_embedding.ckpt-0.weights.h5", "w") as handle:
        build(handle)
    config = ProjectorConfig()
    config.embeddings.add().tensor_name = "layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE"
    write_config(str(log_dir), config)
    return find_ref(list(discover(str(log_dir))), "train", "layers/embedding/vars/0")


@pytest.mark.parametrize("kind", ["external-link", "external-storage", "compressed-bomb"])
def test_hdf5_features_that_read_other_files_or_balloon_are_refused(tmp_path, kind):
    import h5py

    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as handle:
        handle["data"] = np.ones((3, 2), np.float32)
    raw = tmp_path / "secret.raw"
    np.ones((3, 2), np.float32).tofile(raw)

    def build(handle):
        group = handle.create_group("layers/embedding/vars")
        if kind == "external-link":
            group["0"] = h5py.ExternalLink(str(secret), "/data")
        elif kind == "external-storage":
            group.create_dataset("0", shape=(3, 2), dtype="<f4", external=[(str(raw), 0, 24)])
        else:  # 400 MB of zeros in a file of a few kB
            group.create_dataset("0", shape=(100_000, 1000), dtype="<f4", chunks=(1000, 1000),
                                 compression="gzip", fillvalue=0)

    ref = _keras3_like_logdir(tmp_path / "logs", build)
    expected = {"external-link": (UnsafePathError, "link to another location"),
                "external-storage": (UnsafePathError, "in other files"),
                "compressed-bomb": (TensorFormatError, "declares 400,000,000 bytes")}[kind]
    # Loaded in a child under RLIMIT_AS and a timeout: a regression that inflates the bomb
    # fails this test instead of taking pytest (or the machine) down.
    pickled = tmp_path / "ref.pickle"
    pickled.write_bytes(pickle.dumps(ref))
    child = subprocess.run([sys.executable, "-c", _LOAD_CAPPED, str(pickled)], capture_output=True, text=True,
                           timeout=120, cwd=os.path.dirname(os.path.abspath(__file__)))
    assert child.returncode == 0, child.stderr[-2000:]
    raised, message = json.loads(child.stdout.strip().splitlines()[-1])
    assert raised == expected[0].__name__ and re.search(expected[1], message), (raised, message)


_LOAD_CAPPED = """
import json, pickle, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from tb_embedanalysis.logs import EmbeddingStore
try:
    EmbeddingStore().load(pickle.loads(open(sys.argv[1], "rb").read()))
    print(json.dumps([None, "loaded"]))
except Exception as error:
    print(json.dumps([type(error).__name__, str(error)]))
"""


def test_a_half_written_keras_weights_file_is_an_error_of_that_step_only(written, tmp_path):
    log_dir = tmp_path / "logs"
    shutil.copytree(written["keras3"][0], log_dir)
    latest = log_dir / "train" / "keras_embedding.ckpt-1.weights.h5"
    with open(latest, "r+b") as handle:
        handle.truncate(os.path.getsize(latest) // 2)
    runs = list(discover(str(log_dir)))  # never raises: the listing of the damaged file is a problem
    series = {s.name: s for info in runs for s in info.series}["layers/embedding/vars/0"]
    assert series.steps == (0, 1)
    store = EmbeddingStore()
    np.testing.assert_array_equal(store.load(series.refs[0]).vectors, written["keras3"][1][0])
    with pytest.raises((TensorFormatError,), match="keras_embedding.ckpt-1.weights.h5"):
        store.load(series.refs[1])
