"""TF checkpoints written by real TensorFlow (TF1 Saver, TF2 Checkpoint), read back exactly."""

import builtins
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from logs_fixtures import PROJECTOR_ASSETS, vectors, write_config, write_tf1_saver_run, write_tf2_checkpoint_run
from tb_embedanalysis.logs import (
    EmbeddingStore, NeedsTensorFlowError, TensorFormatError, TensorNotFoundError, discover, find_ref,
)
from tb_embedanalysis.logs.model import TensorSource
from tb_embedanalysis.logs import tensors

pytest.importorskip("tensorflow")

EARLY, LATE = vectors(30, 10, seed=1), vectors(30, 10, seed=2)
LABELS = [i % 10 for i in range(30)]
WORDS = ["word%d" % i for i in range(12)]
TF2_MATRIX = vectors(12, 4, seed=3)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt_logs")
    write_tf1_saver_run(str(root / "mnist"), {100: EARLY, 10000: LATE}, labels=LABELS)
    write_tf1_saver_run(str(root / "mnist_with_path"), {100: EARLY, 10000: LATE}, with_path=True)
    write_tf2_checkpoint_run(str(root / "imdb"), TF2_MATRIX, words=WORDS)
    write_tf2_checkpoint_run(str(root / "imdb_short"), TF2_MATRIX, tensor_name="embedding")
    # No tensor named at all: every 2-D float variable except optimizer slots.
    write_tf1_saver_run(str(root / "auto"), {5: EARLY})
    write_config(str(root / "auto"), ProjectorConfig())
    return root


def runs_by_name(logdir):
    return {info.run: info for info in discover(str(logdir))}


def test_tf1_saver_steps_are_the_retained_checkpoints(logdir):
    run = runs_by_name(logdir)["mnist"]
    # The other 2-D variable is offered too, as the Projector does; its Adam slot is not (issue 15).
    assert [s.name for s in run.series] == ["FINAL_LOGITS", "layer1/weights"]
    assert run.series[0].steps == (100, 10000)
    store = EmbeddingStore()
    early = store.load(find_ref([run], "mnist", "FINAL_LOGITS", 100))
    late = store.load(find_ref([run], "mnist", "FINAL_LOGITS", None))
    assert early.vectors.dtype == np.float32 and early.vectors.flags.c_contiguous
    np.testing.assert_array_equal(early.vectors, EARLY)
    np.testing.assert_array_equal(late.vectors, LATE)
    assert late.ref.step == 10000 and late.label_column == "Label" and late.metadata is not None
    assert late.metadata.column("Label").tolist() == [str(label) for label in LABELS]
    assert early.fingerprint != late.fingerprint


def test_model_checkpoint_path_in_config_still_lists_the_retained_steps(logdir):
    run = runs_by_name(logdir)["mnist_with_path"]
    assert run.series[0].steps == (100, 10000) and not run.problems
    np.testing.assert_array_equal(EmbeddingStore().load(run.series[0].refs[0]).vectors, EARLY)


def test_a_copied_logdir_reads_its_own_checkpoint_while_the_original_exists(logdir, tmp_path):
    """Issue 24: model_checkpoint_path is absolute (where the logdir was written). In a copy
    whose original still exists, that path leads outside the run: the copy listed nothing.
    Like a moved logdir (original gone), the run's own checkpoint of that name is read, and
    each embedding says so."""
    copy = tmp_path / "copy"
    shutil.copytree(logdir / "mnist_with_path", copy / "mnist_with_path")
    assert (logdir / "mnist_with_path" / "model.ckpt-10000.index").exists()  # the original is there
    run = runs_by_name(copy)["mnist_with_path"]
    assert not run.problems
    assert [(s.name, s.steps) for s in run.series] == [("FINAL_LOGITS", (100, 10000)), ("layer1/weights", (100, 10000))]
    for series in run.series:
        for ref in series.refs:
            assert ref.tensor.path.startswith(os.path.realpath(copy))
            (warning,) = ref.warnings
            assert "model_checkpoint_path" in warning and "copied logdir" in warning
            assert "showing the run's own 'model.ckpt-10000'" in warning
    embedding = EmbeddingStore().load(find_ref([run], "mnist_with_path", "FINAL_LOGITS", 100))
    np.testing.assert_array_equal(embedding.vectors, EARLY)


def test_an_outside_checkpoint_without_a_copy_in_the_run_is_still_refused(logdir, tmp_path):
    copy = tmp_path / "copy" / "mnist_with_path"
    shutil.copytree(logdir / "mnist_with_path", copy)
    for path in copy.glob("model.ckpt-*"):
        path.unlink()
    run = runs_by_name(tmp_path / "copy")["mnist_with_path"]
    assert run.series == ()
    assert run.problems and all("outside the directory of run" in p.message for p in run.problems)


@pytest.mark.parametrize("run_name", ["imdb", "imdb_short"], ids=["full-tf2-key", "short-name"])
def test_tf2_checkpoint_is_shown_without_the_attributes_suffix(logdir, run_name):
    run = runs_by_name(logdir)[run_name]
    assert [(s.name, s.steps) for s in run.series] == [("embedding", (1,))]
    embedding = EmbeddingStore().load(run.series[0].refs[0])
    np.testing.assert_array_equal(embedding.vectors, TF2_MATRIX)


def test_tf2_word_metadata_has_no_label_column(logdir):
    embedding = EmbeddingStore().load(runs_by_name(logdir)["imdb"].series[0].refs[0])
    assert embedding.metadata is not None
    assert embedding.metadata.columns == ("label",)
    assert embedding.metadata.column("label").tolist() == WORDS
    assert embedding.label_column is None  # every token unique: not a class label


def test_config_without_tensor_names_offers_every_2d_float_variable_but_optimizer_slots(logdir):
    run = runs_by_name(logdir)["auto"]
    assert [s.name for s in run.series] == ["FINAL_LOGITS", "layer1/weights"]
    np.testing.assert_array_equal(EmbeddingStore().load(run.series[0].refs[0]).vectors, EARLY)


def test_config_under_plugins_dir_uses_the_run_directory_checkpoints(logdir, tmp_path):
    run = tmp_path / "exp"
    shutil.copytree(logdir / "mnist", run)
    os.makedirs(run / PROJECTOR_ASSETS)
    os.rename(run / "projector_config.pbtxt", run / PROJECTOR_ASSETS / "projector_config.pbtxt")
    (info,) = discover(str(tmp_path))
    assert info.run == "exp" and not info.problems
    assert info.series[0].steps == (100, 10000)
    assert EmbeddingStore().load(info.series[0].refs[-1]).label_column == "Label"  # metadata in the run dir


def test_no_checkpoint_is_reported_once(tmp_path):
    config = ProjectorConfig()
    config.embeddings.add(tensor_name="a")
    config.embeddings.add(tensor_name="b")
    write_config(str(tmp_path), config)
    (info,) = discover(str(tmp_path))
    (problem,) = info.problems
    assert "no model_checkpoint_path" in problem.message and info.series == ()


def test_unknown_tensor_name_lists_what_the_checkpoint_has(logdir):
    prefix = str(logdir / "mnist" / "model.ckpt-100")
    with pytest.raises(TensorNotFoundError, match=r"has no tensor 'LOGITS'.*FINAL_LOGITS, layer1/weights"):
        tensors.read_vectors(TensorSource(kind="checkpoint", path=prefix, tensor_name="LOGITS"))


def test_non_2d_checkpoint_tensor_is_a_format_error_with_the_shape(logdir):
    prefix = str(logdir / "mnist" / "model.ckpt-100")
    with pytest.raises(TensorFormatError, match=r"layer1/bias .*shape \(5,\).*2-D"):
        tensors.read_vectors(TensorSource(kind="checkpoint", path=prefix, tensor_name="layer1/bias"))


def test_half_written_checkpoint_data_is_a_format_error(logdir, tmp_path):
    run = tmp_path / "half"
    shutil.copytree(logdir / "imdb", run)
    data = run / "embedding.ckpt-1.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:10])
    ref = runs_by_name(tmp_path)["half"].series[0].refs[0]
    with pytest.raises(TensorFormatError, match=r"embedding .*embedding\.ckpt-1.*half-written"):
        EmbeddingStore().load(ref)


def test_checkpoint_file_naming_an_unwritten_prefix(logdir, tmp_path):
    run = tmp_path / "racing"
    shutil.copytree(logdir / "mnist", run)
    (run / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-20000"\n'
                                    'all_model_checkpoint_paths: "model.ckpt-100"\n'
                                    'all_model_checkpoint_paths: "model.ckpt-10000"\n'
                                    'all_model_checkpoint_paths: "model.ckpt-20000"\n')
    series = runs_by_name(tmp_path)["racing"].series[0]
    assert series.steps == (100, 10000)  # 20000 appears once its files exist
    missing = TensorSource(kind="checkpoint", path=str(run / "model.ckpt-20000"), tensor_name="FINAL_LOGITS")
    with pytest.raises(TensorNotFoundError, match=r"model\.ckpt-20000 does not exist.*still being written"):
        tensors.read_vectors(missing)


def test_new_checkpoint_appearing_adds_a_step(logdir, tmp_path):
    run = tmp_path / "growing"
    shutil.copytree(logdir / "mnist", run)
    for name in os.listdir(run):
        if name.startswith("model.ckpt-10000."):
            os.rename(run / name, run / name.replace("10000", "20000"))
    assert runs_by_name(tmp_path)["growing"].series[0].steps == (100, 20000)


def test_missing_tensorflow_names_the_checkpoint_and_what_to_install(logdir, monkeypatch):
    real_import = builtins.__import__

    def no_tensorflow(name, *args, **kwargs):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("No module named 'tensorflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorflow)
    prefix = str(logdir / "imdb" / "embedding.ckpt-1")
    expected = r"reading checkpoint .*embedding\.ckpt-1 needs TensorFlow: pip install tensorflow "
    with pytest.raises(NeedsTensorFlowError, match=expected):
        tensors.read_vectors(TensorSource(kind="checkpoint", path=prefix, tensor_name="embedding"))


def test_importing_the_logs_layer_does_not_import_tensorflow():
    code = "import sys, tb_embedanalysis.logs; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
