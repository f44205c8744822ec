"""EmbeddingCallback on a tiny Keras model: steps written during fit, scalars in the events
files (read back with TensorBoard's EventAccumulator), checks before training starts."""

import os

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from tensorboard.util import tensor_util

from tb_embedanalysis import write_embedding
from tb_embedanalysis.keras import EmbeddingCallback

N = 60


def _has_cluster_statistics() -> bool:
    try:
        from tb_embedanalysis.analysis.clusters import cluster_statistics  # noqa: F401
    except ImportError:
        return False
    return True


needs_clusters = pytest.mark.skipif(
    not _has_cluster_statistics(), reason="tb_embedanalysis.analysis.clusters has not landed yet"
)


@pytest.fixture(scope="module")
def dataset():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), N // 3)
    centres = rng.normal(size=(3, 8)) * 4
    x = (centres[labels] + rng.normal(size=(N, 8))).astype(np.float32)
    images = rng.random((N, 4, 4)).astype(np.float32)
    return x, labels, images


def _model():
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input((8,)),
        tf.keras.layers.Dense(6, activation="relu", name="hidden"),
        tf.keras.layers.Dense(3, name="logits"),
    ])
    model.compile(optimizer="sgd", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _entries(logdir):
    config = ProjectorConfig()
    text_format.Parse((logdir / "projector_config.pbtxt").read_text(), config)
    return {entry.tensor_name: entry for entry in config.embeddings}


def _scalars(logdir):
    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return {
        tag: [(event.step, float(tensor_util.make_ndarray(event.tensor_proto))) for event in accumulator.Tensors(tag)]
        for tag in accumulator.Tags()["tensors"]
    }


def test_two_epochs_write_two_steps_with_sprite_and_labels(tmp_path, dataset):
    x, labels, images = dataset
    model = _model()
    callback = EmbeddingCallback(tmp_path, data=x, labels=labels, layer="hidden", images=images,
                                 invert_images=True, name="hidden", log_scalars=False)
    model.fit(x, labels, epochs=2, batch_size=30, verbose=0, callbacks=[callback])

    entries = _entries(tmp_path)
    assert list(entries) == ["hidden:00001", "hidden:00002"]
    last = entries["hidden:00002"]
    assert list(last.tensor_shape) == [N, 6]
    assert last.sprite.image_path == "hidden/00002/sprite.png"
    written = np.fromfile(tmp_path / last.tensor_path, "<f4").reshape(N, 6)
    expected = tf.keras.Model(model.inputs, model.get_layer("hidden").output).predict(x, verbose=0)
    np.testing.assert_allclose(written, expected, rtol=1e-6, atol=1e-6)  # final weights = step 2
    with open(tmp_path / last.metadata_path, encoding="utf-8") as handle:
        assert handle.read().split("\n")[:N] == [str(label) for label in labels]


@needs_clusters
def test_scalars_appear_per_step_under_the_name_scope(tmp_path, dataset):
    x, labels, _ = dataset
    model = _model()
    callback = EmbeddingCallback(tmp_path, data=x, labels=labels, name="logits", k=5)
    model.fit(x, labels, epochs=2, batch_size=30, verbose=0, callbacks=[callback])

    scalars = _scalars(tmp_path)
    assert len([f for f in os.listdir(tmp_path) if "tfevents" in f]) == 1  # the tf.summary file only
    prefix = "embedding_quality/logits/"
    assert {f"{prefix}knn_accuracy", f"{prefix}silhouette", f"{prefix}purity/0", f"{prefix}purity/2"} <= set(scalars)
    assert [step for step, _ in scalars[f"{prefix}knn_accuracy"]] == [1, 2]
    from tb_embedanalysis.analysis.clusters import cluster_statistics

    final = np.fromfile(tmp_path / _entries(tmp_path)["logits:00002"].tensor_path, "<f4").reshape(N, 3)
    report = cluster_statistics(final, labels, k=5, metric="cosine").to_dict()
    assert scalars[f"{prefix}knn_accuracy"][-1][1] == pytest.approx(report["overall"]["knn_accuracy"], abs=1e-6)


def test_iterations_step_and_every_n_epochs(tmp_path, dataset):
    x, labels, _ = dataset
    callback = EmbeddingCallback(tmp_path, data=x, labels=labels, every_n_epochs=2, step="iterations",
                                 name="out", log_scalars=False)
    _model().fit(x, labels, epochs=3, batch_size=30, verbose=0, callbacks=[callback])
    assert list(_entries(tmp_path)) == ["out:00004"]  # 2 epochs x 2 batches, written once


def test_step_callable_and_layer_object(tmp_path, dataset):
    x, labels, _ = dataset
    model = _model()
    callback = EmbeddingCallback(tmp_path, data=x, layer=model.get_layer("hidden"), log_scalars=False,
                                 step=lambda epoch: 100 * (epoch + 1), name="h")
    model.fit(x, labels, epochs=1, batch_size=60, verbose=0, callbacks=[callback])
    (entry,) = _entries(tmp_path).values()
    assert entry.tensor_name == "h:00100" and list(entry.tensor_shape) == [N, 6]
    assert not entry.metadata_path


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(labels=np.zeros(N - 1)), ValueError, r"labels has 59 rows but vectors has 60"),
    (dict(), ValueError, r"log_scalars=True needs labels"),
    (dict(log_scalars=False, step="epochs"), ValueError, r"step must be one of \['epoch', 'iterations'\]"),
    (dict(log_scalars=False, every_n_epochs=0), ValueError, r"every_n_epochs must be an integer >= 1, got 0"),
    (dict(log_scalars=False, images=np.zeros((N, 4))), ValueError, r"pass image_shape"),
    (dict(log_scalars=False, metadata=["a\tb"] * N), ValueError, r"row 0 column 'label' contains a tab"),
    (dict(log_scalars=False, layer=3), TypeError, r"layer must be None, a layer name or a Layer, got int"),
    (dict(log_scalars=False, name="a:b"), ValueError, r"contains ':'"),
    (dict(labels=np.zeros(N), metric="cosin"), ValueError, r"unknown metric 'cosin'; metrics: .*cosine"),
    (dict(labels=np.zeros(N), k=0), ValueError, r"k must be an integer >= 1, got 0"),
], ids=["labels length", "scalars need labels", "step option", "every_n_epochs", "flat images", "metadata tab",
        "layer type", "name", "metric", "k"])
def test_refused_at_construction(tmp_path, dataset, kwargs, error, match):
    with pytest.raises(error, match=match):
        EmbeddingCallback(tmp_path, data=dataset[0], **kwargs)
    assert not any(tmp_path.iterdir())


def test_tf_tensors_and_variables_are_accepted(tmp_path):
    values = np.arange(12, dtype=np.float32).reshape(4, 3) + 0.25
    for kind, vectors in (("tensor", tf.constant(values)), ("variable", tf.Variable(values))):
        written = write_embedding(tmp_path, vectors, name=kind, step=tf.constant(5))
        assert written.tensor_name == f"{kind}:00005"
        np.testing.assert_array_equal(np.fromfile(written.tensor_path, "<f4").reshape(4, 3), values)


def test_precompute_leaves_the_step_warm_for_the_tab(tmp_path, dataset):
    from tb_embedanalysis import queries
    from tb_embedanalysis.writer import precompute_launch

    x, labels, _ = dataset
    cache = str(tmp_path / "cache")
    callback = EmbeddingCallback(tmp_path / "run", data=x, labels=labels, layer="hidden", name="hidden",
                                 log_scalars=False, precompute=cache)
    _model().fit(x, labels, epochs=1, batch_size=30, verbose=0, callbacks=[callback])
    child = precompute_launch.running()
    assert child is not None, "fit returned before the precompute finished: it runs in the background"
    assert child.wait(timeout=120) == 0, open(precompute_launch.log_path()).read()[-2000:]
    workspace = queries.Workspace.open(str(tmp_path / "run"), cache_dir=cache)
    answer = queries.clusters(workspace.engine, workspace.load(".", "hidden", 1), wait=True)
    assert isinstance(answer, dict) and answer["provenance"]["engine"] == "local"
