"""A step that breaks the series (other rows, other metadata) warns at the write, and the
history built from those logs leaves it out and says why: write_embedding (and the Keras
callback, which writes through it) -> files -> queries.history."""

import warnings

import numpy as np
import pytest

from tb_embedanalysis import queries, write_embedding
from tb_embedanalysis.analysis.engine import AnalysisEngine
from tb_embedanalysis.catalog import Catalog
from tb_embedanalysis.logs.store import EmbeddingStore
from tb_embedanalysis.writer.step_rows import StepRowsWarning

NAME = "train_logits"


def vectors(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)


def metadata(n, shift=0):
    return {"Index": [str(i) for i in range(n)], "Label": [str((i + shift) % 3) for i in range(n)]}


def test_same_rows_at_every_step_do_not_warn(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in (30, 10, 20, 40):  # any order
            write_embedding(tmp_path, vectors(50, step), name=NAME, step=step, metadata=metadata(50))
        write_embedding(tmp_path / "fresh", vectors(60), name=NAME, step=40, metadata=metadata(60))  # no series yet
        write_embedding(tmp_path, vectors(60), name="other", step=10, metadata=metadata(60))  # another name
        write_embedding(tmp_path, vectors(70), name=NAME, metadata=metadata(70))  # no step: never in a history


def test_rewriting_a_step_with_other_rows_warns(tmp_path):
    for step in (10, 20):
        write_embedding(tmp_path, vectors(50), name=NAME, step=step, metadata=metadata(50))
    with pytest.warns(StepRowsWarning, match="step 20 has 40 rows but step 10 has 50"):
        write_embedding(tmp_path, vectors(40), name=NAME, step=20, metadata=metadata(40))


def test_changed_row_count_warns_with_both_steps_and_counts(tmp_path):
    write_embedding(tmp_path, vectors(60), name=NAME, step=10, metadata=metadata(60))
    with pytest.warns(StepRowsWarning) as caught:
        write_embedding(tmp_path, vectors(50), name=NAME, step=20, metadata=metadata(50))
    message = str(caught[0].message)
    assert message.startswith("embedding 'train_logits': step 20 has 50 rows but step 10 has 60; ")
    assert "needs the same rows" in message and str(tmp_path) in message
    assert caught[0].filename == __file__  # points at the caller's line
    with pytest.warns(StepRowsWarning, match="step 5 has 50 rows but step 10 has 60"):  # first step: next one
        write_embedding(tmp_path, vectors(50), name=NAME, step=5, metadata=metadata(50))


@pytest.mark.parametrize("before, after, words", [
    (metadata(50), metadata(50, shift=1), "the metadata of step 20 differs from step 10's (50 rows each)"),
    (metadata(50), None, "step 20 has no metadata but step 10 has"),
    (None, metadata(50), "step 20 has metadata but step 10 has none"),
], ids=["other-labels", "metadata-dropped", "metadata-added"])
def test_changed_metadata_warns(tmp_path, before, after, words):
    write_embedding(tmp_path, vectors(50), name=NAME, step=10, metadata=before)
    with pytest.warns(StepRowsWarning, match=words.replace("(", r"\(").replace(")", r"\)")):
        write_embedding(tmp_path, vectors(50), name=NAME, step=20, metadata=after)


def test_history_leaves_out_the_steps_that_differ_and_says_why(tmp_path):
    write_embedding(tmp_path / "run", vectors(60), name=NAME, step=10, metadata=metadata(60))
    with pytest.warns(StepRowsWarning, match="step 20 has 50 rows but step 10 has 60"):
        write_embedding(tmp_path / "run", vectors(50, 1), name=NAME, step=20, metadata=metadata(50, shift=1))
    with pytest.warns(StepRowsWarning, match="the metadata of step 30 differs from step 20's"):
        write_embedding(tmp_path / "run", vectors(50, 2), name=NAME, step=30, metadata=metadata(50))
    write_embedding(tmp_path / "run", vectors(50, 3), name=NAME, step=40, metadata=metadata(50))
    workspace = queries.Workspace(Catalog(str(tmp_path)), EmbeddingStore(), AnalysisEngine(cache_dir=None))
    body = queries.history(workspace, "run", NAME, k=5, wait=True)
    assert isinstance(body, dict)  # wait=True: never Pending
    assert body["steps"] == [30, 40]
    assert body["left_out"] == [
        {"step": 10, "reason": "step 10 has 60 rows, step 40 has 50"},
        {"step": 20, "reason": "the metadata of step 20 differs from step 40's"},
    ]


def test_keras_callback_writing_other_rows_under_the_same_name_warns(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from tb_embedanalysis.keras import EmbeddingCallback

    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    first = EmbeddingCallback(tmp_path, data=vectors(30), labels=np.arange(30) % 3, name=NAME, log_scalars=False)
    first.set_model(model)
    first.write(1)
    again = EmbeddingCallback(tmp_path, data=vectors(20), labels=np.arange(20) % 3, name=NAME, log_scalars=False)
    again.set_model(model)
    with pytest.warns(StepRowsWarning, match="step 2 has 20 rows but step 1 has 30"):
        again.write(2)
