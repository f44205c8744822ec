"""Tensor files: tensorboardX/torch add_embedding TSVs and our writer's raw float32 .bytes."""

import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from logs_fixtures import vectors, write_bytes_run, write_config, write_tensorboardx_run, write_tsv
from tb_embedanalysis.logs import EmbeddingStore, TensorFormatError, TensorNotFoundError, discover, find_ref
from tb_embedanalysis.logs import embedding_reader, tensors
from tb_embedanalysis.logs.model import TensorSource

pytest.importorskip("tensorboardX")


def only_run(logdir):
    (run,) = discover(str(logdir))
    return run


def test_tensorboardx_steps_and_tags_become_series(tmp_path):
    data = {0: {"features": vectors(9, 3, 0), "layer/out": vectors(9, 4, 1)},
            10: {"features": vectors(9, 3, 2), "layer/out": vectors(9, 4, 3)}}
    write_tensorboardx_run(str(tmp_path), data, metadata=[str(i % 3) for i in range(9)])
    assert (tmp_path / "00010" / "layer%2fout" / "tensors.tsv").exists()  # the escaped tag dir
    run = only_run(tmp_path)
    assert run.run == "." and not run.problems
    assert [(s.name, s.steps) for s in run.series] == [("features", (0, 10)), ("layer/out", (0, 10))]
    store = EmbeddingStore()
    for step, by_tag in data.items():
        for tag, expected in by_tag.items():
            embedding = store.load(find_ref([run], ".", tag, step))
            np.testing.assert_array_equal(embedding.vectors, expected)  # exact float32 round trip
            assert embedding.label_column == "label"


def test_tensorboardx_metadata_header_and_sprite(tmp_path):
    n = 16  # a full square grid: tensorboardX leaves the padding rows of others uninitialised
    images = np.stack([np.full((3, 5, 5), i / n, dtype=np.float32) for i in range(n)])
    write_tensorboardx_run(str(tmp_path), {3: {"default": vectors(n, 2)}},
                           metadata=[[str(i), "even" if i % 2 == 0 else "odd"] for i in range(n)],
                           metadata_header=["index", "parity"], label_img=images)
    store = EmbeddingStore()
    embedding = store.load(only_run(tmp_path).series[0].refs[0])
    assert embedding.metadata is not None and embedding.sprite is not None
    assert embedding.metadata.columns == ("index", "parity") and embedding.label_column == "parity"
    assert embedding.sprite.columns == 4 and embedding.sprite.thumbnail_size == (5, 5)
    thumbnail = Image.open(io.BytesIO(store.thumbnail_png(embedding, 7)))
    assert thumbnail.size == (5, 5)
    assert (np.asarray(thumbnail.convert("RGB")) == np.uint8(7 / n * 255)).all()


@pytest.mark.parametrize("step", [None, 7], ids=["no-step", "step"])
def test_writer_bytes_convention(tmp_path, step):
    matrix = vectors(20, 6)
    write_bytes_run(str(tmp_path), matrix, name="logits", step=step, metadata_rows=[(str(i % 4),) for i in range(20)])
    (series,) = only_run(tmp_path).series
    assert (series.name, series.steps) == ("logits", (step,))
    embedding = EmbeddingStore().load(series.refs[0])
    np.testing.assert_array_equal(embedding.vectors, matrix)
    assert not embedding.vectors.flags.writeable and embedding.vectors.flags.c_contiguous


def test_bytes_file_of_the_wrong_size_says_so(tmp_path):
    write_bytes_run(str(tmp_path), vectors(10, 4), name="emb")
    path = tmp_path / "emb" / "tensor.bytes"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(TensorFormatError, match=r"tensor\.bytes is 156 bytes but tensor_shape \[10, 4\] needs 160"):
        EmbeddingStore().load(only_run(tmp_path).series[0].refs[0])


def test_missing_tensor_file_fails_only_that_embedding(tmp_path):
    write_bytes_run(str(tmp_path), vectors(5, 2), name="kept")
    write_bytes_run(str(tmp_path), vectors(5, 2), name="gone")
    (tmp_path / "gone" / "tensor.bytes").unlink()
    run = only_run(tmp_path)
    assert [s.name for s in run.series] == ["gone", "kept"]
    store = EmbeddingStore()
    with pytest.raises(TensorNotFoundError, match=r"gone/tensor\.bytes does not exist"):
        store.load(find_ref([run], ".", "gone"))
    assert store.load(find_ref([run], ".", "kept")).shape == (5, 2)


def test_tsv_with_crlf_and_trailing_blank_lines(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes(b"1.5\t-2\r\n3e-3\t4\r\n\r\n")
    got = tensors.read_vectors(TensorSource(kind="tsv", path=str(path)))
    np.testing.assert_array_equal(got, np.array([[1.5, -2], [3e-3, 4]], dtype=np.float32))


@pytest.mark.parametrize("content, message", [
    ("1\t2\n3\n", r"line 2 has 1 values but line 1 has 2"),
    ("1\t2\n3\tabc\n", r"line 2 column 2 is 'abc', not a number"),
    ("", r"has no rows"),
], ids=["ragged", "not-a-number", "empty"])
def test_bad_tsv_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "t.tsv"
    path.write_text(content)
    with pytest.raises(TensorFormatError, match=message):
        tensors.read_vectors(TensorSource(kind="tsv", path=str(path)))


def test_nan_rows_load_with_a_warning_and_a_finite_mask(tmp_path):
    matrix = vectors(8, 3)
    matrix[[1, 4, 6], [0, 2, 1]] = [np.nan, np.inf, -np.inf]
    write_bytes_run(str(tmp_path), matrix, name="emb")
    embedding = EmbeddingStore().load(only_run(tmp_path).series[0].refs[0])
    assert embedding.finite.tolist() == [True, False, True, True, False, True, False, True]
    assert embedding.nonfinite_rows == 3
    assert "3 rows contain NaN or Inf and are excluded from analysis" in embedding.warnings


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=9),
                  elements=st.floats(width=32) | st.sampled_from([3.0e38, -3.0e38, np.inf, -np.inf, np.nan])))
def test_finite_rows_are_rows_without_nan_or_inf(matrix):
    # Rows whose sum overflows (finite values near float32's maximum) are finite all the same.
    assert embedding_reader._finite_rows(matrix).tolist() == np.isfinite(matrix).all(axis=1).tolist()


def test_tensor_path_and_checkpoint_less_config_mix(tmp_path):
    write_tsv(str(tmp_path / "a.tsv"), [("1", "2"), ("3", "4")])
    config = ProjectorConfig()
    config.embeddings.add(tensor_path="a.tsv")  # no tensor_name: named after the file
    config.embeddings.add(tensor_name="from_checkpoint")  # but there is no checkpoint
    write_config(str(tmp_path), config)
    run = only_run(tmp_path)
    assert [s.name for s in run.series] == ["a.tsv"]
    (problem,) = run.problems
    assert "no model_checkpoint_path" in problem.message and problem.config_path.endswith("projector_config.pbtxt")
