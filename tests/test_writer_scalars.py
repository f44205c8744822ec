"""log_cluster_scalars: planted clusters give the expected figures, the figures are the
analysis engine's, and they land in an events file TensorBoard reads as scalars."""

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from tb_embedanalysis import log_cluster_scalars
from tb_embedanalysis.analysis.clusters import cluster_statistics
from tb_embedanalysis.writer.scalars import quality_scalars

PREFIX = "embedding_quality/emb/"


def _clusters(per_label=20, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], per_label)
    centres = np.eye(3, 8) * 10
    vectors = (centres[labels] + rng.normal(scale=0.3, size=(labels.size, 8))).astype(np.float32)
    return vectors, labels


def _read_scalars(logdir):
    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    out = {}
    for tag in accumulator.Tags()["tensors"]:
        events = accumulator.Tensors(tag)
        assert accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"
        out[tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events]
    return out


def test_separated_clusters_score_perfectly():
    vectors, labels = _clusters()
    values = quality_scalars(vectors, labels, name="emb", k=5)
    assert values[PREFIX + "knn_accuracy"] == 1.0
    assert {values[f"{PREFIX}purity/{label}"] for label in (0, 1, 2)} == {1.0}
    assert values[PREFIX + "silhouette"] > 0.8


def test_planted_mislabel_lowers_accuracy_and_its_labels_purity():
    vectors, labels = _clusters()
    labels = labels.copy()
    labels[3] = 2  # a point of cluster 0 labelled 2
    values = quality_scalars(vectors, labels, name="emb", k=5)
    assert values[PREFIX + "knn_accuracy"] == pytest.approx(59 / 60)
    assert values[PREFIX + "purity/2"] < 1.0
    assert values[PREFIX + "purity/1"] == 1.0


def test_values_are_the_engines_and_are_written_per_step(tmp_path):
    vectors, labels = _clusters()
    moved = vectors + np.random.default_rng(1).normal(scale=5, size=vectors.shape).astype(np.float32)
    first = log_cluster_scalars(tmp_path, moved, labels, step=1, name="emb", k=5, metric="euclidean")
    second = log_cluster_scalars(tmp_path, vectors, labels, step=2, name="emb", k=5, metric="euclidean")

    report = cluster_statistics(moved, [str(label) for label in labels], k=5, metric="euclidean").to_dict()
    assert first[PREFIX + "knn_accuracy"] == report["overall"]["knn_accuracy"]
    assert first[PREFIX + "silhouette"] == report["overall"]["silhouette"]
    assert {row["label"]: row["purity"] for row in report["labels"]} == {
        tag.rsplit("/", 1)[1]: value for tag, value in first.items() if "/purity/" in tag
    }
    scalars = _read_scalars(tmp_path)
    assert set(scalars) == set(first)
    for tag in first:
        assert scalars[tag] == [(1, pytest.approx(first[tag])), (2, pytest.approx(second[tag]))]


def test_nonfinite_rows_are_left_out():
    vectors, labels = _clusters()
    with_nan = np.concatenate([vectors, np.full((1, 8), np.nan, np.float32)])
    values = quality_scalars(with_nan, np.append(labels, 0), name="emb", k=5)
    assert values == quality_scalars(vectors, labels, name="emb", k=5)


def test_undefined_silhouette_is_not_written():
    vectors, _ = _clusters()
    values = quality_scalars(vectors, ["same"] * len(vectors), name="emb", k=5)
    assert PREFIX + "silhouette" not in values
    assert values[PREFIX + "purity/same"] == 1.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(labels=[0] * 59), r"labels has 59 rows but vectors has 60"),
    (dict(labels=np.zeros((60, 2))), r"one label per point, got shape \(60, 2\)"),
    (dict(step=None), r"step is required"),
    (dict(step=-3), r"step must be an integer >= 0"),
    (dict(name="a:b"), r"contains ':'"),
], ids=["labels length", "labels rank", "no step", "negative step", "name"])
def test_refused(tmp_path, kwargs, match):
    vectors, labels = _clusters()
    arguments = {"labels": labels, "step": 1, "name": "emb", **kwargs}
    with pytest.raises(ValueError, match=match):
        log_cluster_scalars(tmp_path, vectors, arguments.pop("labels"), **arguments)
    assert not any(tmp_path.iterdir())
