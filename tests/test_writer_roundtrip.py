"""What write_embedding writes, our reader (tb_embedanalysis.logs) reads back exactly:
vectors bit-equal, metadata equal (blank values as "<empty>"), thumbnails equal to the
input images after the documented conversion (rint(x * 255), then 255 - v if inverted)."""

import io

import numpy as np
import pytest
from PIL import Image

from tb_embedanalysis import write_embedding
from tb_embedanalysis.logs.discovery import discover
from tb_embedanalysis.logs.store import EmbeddingStore


def _series(logdir):
    (run,) = discover(str(logdir))
    assert run.problems == ()
    return {series.name: series for series in run.series}


def _thumbnail(store, embedding, index) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(store.thumbnail_png(embedding, index))))


@pytest.fixture()
def store():
    return EmbeddingStore(max_memory_mb=64)


def test_steps_vectors_metadata_and_thumbnails(tmp_path, store):
    rng = np.random.default_rng(0)
    n = 23  # not a square: the last grid row is partly blank
    images = rng.random((n, 7, 5)).astype(np.float32)
    labels = [str(i % 4) for i in range(n)]
    labels[2] = ""
    by_step = {}
    for step in (0, 100, 12345):
        by_step[step] = rng.normal(size=(n, 6)).astype(np.float32)
        write_embedding(tmp_path, by_step[step], name="digits", step=step, metadata=labels,
                        images=images, invert_images=True)

    series = _series(tmp_path)["digits"]
    assert series.steps == (0, 100, 12345)
    expected_pixels = 255 - np.rint(images * 255).astype(np.uint8)
    for ref in series.refs:
        embedding = store.load(ref)
        assert embedding.warnings == ()
        assert embedding.vectors.dtype == np.float32
        assert embedding.vectors.tobytes() == by_step[ref.step].tobytes()
        assert embedding.metadata.columns == ("label",)
        assert list(embedding.metadata.values["label"]) == ["<empty>" if v == "" else v for v in labels]
        assert embedding.sprite.thumbnail_size == (5, 7)
        for i in (0, 2, n - 1):
            np.testing.assert_array_equal(_thumbnail(store, embedding, i), expected_pixels[i])


def test_multi_column_metadata_and_rgb_images(tmp_path, store):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(9, 4, 4, 3), dtype=np.uint8)
    vectors = rng.normal(size=(9, 3))  # float64: the reader sees the float32 rounding
    metadata = {"word": [f"w{i}" for i in range(9)], "Label": list("aaabbbccc"), "note": [""] * 8 + ["x"]}
    write_embedding(tmp_path, vectors, name="words", metadata=metadata, images=images)

    (ref,) = _series(tmp_path)["words"].refs
    assert ref.step is None
    embedding = store.load(ref)
    assert embedding.vectors.tobytes() == vectors.astype(np.float32).tobytes()
    assert embedding.metadata.columns == ("word", "Label", "note")
    assert embedding.metadata.row(4) == {"word": "w4", "Label": "b", "note": "<empty>"}
    assert embedding.label_column == "Label"
    np.testing.assert_array_equal(_thumbnail(store, embedding, 8), images[8])


def test_tsv_fallback_and_nonfinite_rows_read_back(tmp_path, store):
    zeros = np.zeros((4, 3), np.float32)  # first "line" of raw bytes is valid UTF-8 -> TSV
    zeros[1, 0] = np.frombuffer(b"\n\0\0\0", "<f4")[0]  # a denormal whose bytes end that line
    zeros[1, 2] = np.nan  # allowed by flag: the reader marks the row as not finite
    zeros[3, 0] = -0.0
    write_embedding(tmp_path, zeros, name="z", allow_nonfinite=True)
    (ref,) = _series(tmp_path)["z"].refs
    assert ref.tensor.kind == "tsv"
    embedding = store.load(ref)
    assert embedding.vectors.tobytes() == zeros.tobytes()
    assert embedding.finite.tolist() == [True, False, True, True]


def test_downscaled_sprite_thumbnails_fit_their_cells(tmp_path, store, monkeypatch):
    from tb_embedanalysis.writer import embedding_writer

    monkeypatch.setattr(embedding_writer, "MAX_SPRITE_SIZE", 40)  # force downscaling cheaply
    images = np.zeros((10, 20, 20), np.uint8)
    images[:, :, :10] = 255  # left half white
    written = write_embedding(tmp_path, np.eye(10), name="small", images=images, downscale_sprite=True)
    assert written.thumbnail_size == (10, 10)
    (ref,) = _series(tmp_path)["small"].refs
    embedding = store.load(ref)
    thumbnail = _thumbnail(store, embedding, 9)
    assert thumbnail.shape == (10, 10)
    assert (thumbnail[:, :5] == 255).all() and (thumbnail[:, 5:] == 0).all()
