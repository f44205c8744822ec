"""Every refusal of the writer: the right error type, a message with the actual values, and
an untouched log directory (validation happens before the first byte is written)."""

import os

import numpy as np
import pytest

from tb_embedanalysis import write_embedding
from tb_embedanalysis.writer.config_file import ExistingConfigError
from tb_embedanalysis.writer.validation import (
    ImageValueError,
    InvalidNameError,
    LengthMismatchError,
    MetadataValueError,
    NonFiniteError,
    ShapeError,
    SpriteTooLargeError,
    WriterError,
)

N = 10


def _vectors(n=N, d=3):
    return np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)


def _nan_rows():
    v = _vectors()
    v[3, 1] = np.nan
    v[7, 0] = np.inf
    return v


CASES = [
    ("rank 1", dict(vectors=np.zeros(5)), ShapeError, r"rank 2 \(N, D\), got rank 1 with shape \(5,\).*vectors\[None, :\]"),
    ("rank 3", dict(vectors=np.zeros((2, 3, 4))), ShapeError, r"got rank 3 with shape \(2, 3, 4\)"),
    ("empty", dict(vectors=np.zeros((0, 3))), ShapeError, r"at least one row.*\(0, 3\)"),
    ("strings", dict(vectors=np.array([["a", "b"]])), ShapeError, r"must be numeric, got dtype <U1"),
    ("ragged", dict(vectors=[[1.0, 2.0], [3.0]]), ShapeError, r"could not be converted"),
    ("nan", dict(vectors=_nan_rows()), NonFiniteError, r"2 of 10 rows with NaN or Inf \(rows 3, 7\).*allow_nonfinite=True"),
    ("metadata short", dict(metadata=[str(i) for i in range(N - 1)]), LengthMismatchError, r"^metadata has 9 rows but vectors has 10$"),
    ("metadata thousands", dict(vectors=np.ones((10_000, 2)), metadata=["x"] * 9_999), LengthMismatchError, r"metadata has 9,999 rows but vectors has 10,000"),
    ("column short", dict(metadata={"a": ["x"] * N, "b": ["y"] * 4}), LengthMismatchError, r"metadata column 'b' has 4 rows but vectors has 10"),
    ("tab", dict(metadata=["ok"] * 4 + ["a\tb"] + ["ok"] * 5), MetadataValueError, r"row 4 column 'label' contains a tab.*'a\\tb'.*escape_metadata=True"),
    ("newline", dict(metadata={"id": list(range(N)), "text": ["x"] * 9 + ["two\nlines"]}), MetadataValueError, r"row 9 column 'text' contains a newline"),
    ("unicode line separator", dict(metadata=["x"] * 9 + ["a\u2028b"]), MetadataValueError, r"row 9 column 'label' contains a line separator"),
    ("tab in column name", dict(metadata={"a\tb": ["x"] * N, "c": ["y"] * N}), MetadataValueError, r"column name 'a\\tb' contains a tab"),
    ("blank column name", dict(metadata={" ": ["x"] * N, "c": ["y"] * N}), MetadataValueError, r"column names must not be blank"),
    ("duplicate column", dict(metadata=[["a", "b"]] * N, metadata_header=["x", "x"]), MetadataValueError, r"unique, got duplicates \['x'\]"),
    ("rows without header", dict(metadata=[["a", "b"]] * N), MetadataValueError, r"rows of 2 values; pass metadata_header"),
    ("row too short", dict(metadata=[["a", "b"]] * 9 + [["a"]], metadata_header=["x", "y"]), ShapeError, r"row 9 has 1 values but metadata_header has 2 names"),
    ("header without metadata", dict(metadata_header=["x"]), MetadataValueError, r"metadata_header was given without metadata"),
    ("header for one column", dict(metadata=["a"] * N, metadata_header=["x", "y"]), MetadataValueError, r"single column but metadata_header has 2 names"),
    ("metadata string", dict(metadata="abc"), MetadataValueError, r"got str"),
    ("surrogate", dict(metadata=["x"] * 9 + ["\ud800"]), MetadataValueError, r"row 9 column 'label' is not valid unicode"),
    ("images count", dict(images=np.zeros((N + 1, 4, 4))), LengthMismatchError, r"images has 11 rows but vectors has 10"),
    ("flat images", dict(images=np.zeros((N, 784))), ShapeError, r"flat with shape \(10, 784\); pass image_shape.*\(28, 28\)"),
    ("image_shape size", dict(images=np.zeros((N, 784)), image_shape=(27, 28)), ShapeError, r"784 values per image .* image_shape \(27, 28\) needs 756"),
    ("channels", dict(images=np.zeros((N, 4, 4, 2))), ShapeError, r"C in 1, 3, 4.*\(10, 4, 4, 2\)"),
    ("float range", dict(images=np.full((N, 4, 4), 200.0)), ImageValueError, r"\[0, 1\], got values from 200 to 200 \(looks like 0-255"),
    ("int range", dict(images=np.full((N, 4, 4), 300)), ImageValueError, r"\[0, 255\], got values from 300 to 300"),
    ("nan image", dict(images=np.full((N, 4, 4), np.nan)), ImageValueError, r"160 NaN/Inf values"),
    ("image_shape alone", dict(image_shape=(2, 2)), ShapeError, r"image_shape was given without images"),
    ("sprite too large", dict(vectors=np.ones((3, 2)), images=np.zeros((3, 4100, 10), np.uint8)), SpriteTooLargeError, r"3 thumbnails of 10 x 4100 px need a 2 x 2 grid \(20 x 8,200 px\).*downscale_sprite=True.*at most 1 points"),
    ("name colon", dict(name="a:1"), InvalidNameError, r"contains ':'.*'a_1'"),
    ("name empty", dict(name=" "), InvalidNameError, r"must not be empty"),
    ("name type", dict(name=3), InvalidNameError, r"must be a str, got int"),
    ("step negative", dict(step=-1), InvalidNameError, r"integer >= 0 or None, got -1"),
    ("step float", dict(step=1.5), InvalidNameError, r"got 1.5"),
    ("step bool", dict(step=True), InvalidNameError, r"got True"),
]


@pytest.mark.parametrize("kwargs, error, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_before_anything_is_written(tmp_path, kwargs, error, match):
    logdir = tmp_path / "run"
    arguments = {"vectors": _vectors(), "name": "emb", **kwargs}
    vectors = arguments.pop("vectors")
    with pytest.raises(error, match=match):
        write_embedding(logdir, vectors, **arguments)
    assert not logdir.exists()
    assert issubclass(error, WriterError) and issubclass(error, ValueError)


def test_broken_existing_config_is_not_clobbered(tmp_path):
    config = tmp_path / "projector_config.pbtxt"
    config.write_text("embeddings { tensor_name: ")
    with pytest.raises(ExistingConfigError, match=r"projector_config.pbtxt exists but is not a valid ProjectorConfig.*refusing to overwrite"):
        write_embedding(tmp_path, _vectors(), name="emb")
    assert os.listdir(tmp_path) == ["projector_config.pbtxt"]
    assert config.read_text() == "embeddings { tensor_name: "


def test_nonfinite_allowed_by_flag(tmp_path):
    written = write_embedding(tmp_path, _nan_rows(), name="emb", allow_nonfinite=True)
    back = np.fromfile(written.tensor_path, dtype="<f4").reshape(written.shape)
    np.testing.assert_array_equal(back, _nan_rows())


def test_escape_metadata_writes_visible_escapes(tmp_path):
    values = ["plain", "tab\there", "new\nline", "cr\rhere", "ls\u2028x"] + ["v"] * 5
    written = write_embedding(tmp_path, _vectors(), name="emb", metadata=values, escape_metadata=True)
    with open(written.metadata_path, encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")
    assert lines[:5] == ["plain", "tab\\there", "new\\nline", "cr\\rhere", "ls x"]
    assert len(lines) == N + 1 and lines[-1] == ""  # one line per row, final newline


def test_inputs_are_not_mutated(tmp_path):
    vectors = _vectors().astype(np.float64)
    images = np.random.default_rng(1).random((N, 4, 4))
    before = (vectors.copy(), images.copy())
    write_embedding(tmp_path, vectors, name="emb", images=images, invert_images=True)
    np.testing.assert_array_equal(vectors, before[0])
    np.testing.assert_array_equal(images, before[1])


def test_float64_beyond_float32_range_gets_its_own_error():
    """1e300 is finite: the message must not say "NaN or Inf" (issue 23)."""
    from tb_embedanalysis.writer.validation import OutOfRangeError, as_vectors

    vectors = np.ones((4, 3))
    vectors[2, 1] = -1e300
    with pytest.raises(OutOfRangeError, match=r"1 of 4 rows with values beyond float32's range \(rows 2; "
                                              r"largest magnitude 1e\+300"):
        as_vectors(vectors)
    vectors[2, 1] = 3e38  # inside float32's range: written as it is
    assert as_vectors(vectors)[2, 1] == np.float32(3e38)
