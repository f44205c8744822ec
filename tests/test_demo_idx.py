"""The demo's own MNIST IDX loader, on small IDX files written here byte by byte."""

import gzip
import os
import pathlib
import struct

import numpy as np
import pytest

from tb_embedanalysis.demo import idx

_TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.float32): 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding, spelled out independently of the loader: magic, sizes, big-endian data."""
    header = struct.pack(">BBBB", 0, 0, _TYPE_CODES[array.dtype], array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, *, compress=True):
    data = idx_bytes(array)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(data) if compress else data)
    return str(path)


def write_mnist_dir(directory, *, n_train=120, n_test=40, seed=0, compress=True):
    """Tiny MNIST look-alike: digit d is a bright bar at row 2 + 2*d, plus noise."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
        suffix = ".gz" if compress else ""
        write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{suffix}"), images, compress=compress)
        write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{suffix}"), labels, compress=compress)
    return directory


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    np.array([7, 0, 255], dtype=np.uint8),
    np.array([[-300, 2], [3, 32000]], dtype=np.int16),
    np.array([0.5, -1.25], dtype=np.float32),
], ids=["uint8-rank3", "uint8-rank1", "int16", "float32"])
def test_read_idx_round_trips(tmp_path, array, compress):
    path = write_idx(tmp_path / "a.idx", array, compress=compress)
    result = idx.read_idx(path)
    assert result.shape == array.shape and result.dtype == array.dtype
    np.testing.assert_array_equal(result, array)
    assert result.dtype.isnative and result.flags.writeable


def test_truncated_file_names_file_and_sizes(tmp_path):
    data = idx_bytes(np.zeros((3, 2, 2), np.uint8))[:-1]
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(idx.IdxError, match=r"short-idx3-ubyte: header says shape \(3, 2, 2\).*12 bytes.*11 bytes"):
        idx.read_idx(path)


def test_not_an_idx_file(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"PK\x03\x04 this is a zip"))
    with pytest.raises(idx.IdxError, match=r"x.gz: not an IDX file \(magic number 504b0304"):
        idx.read_idx(path)


def test_load_mnist_reads_both_spellings(tmp_path):
    write_mnist_dir(tmp_path / "gz")
    write_mnist_dir(tmp_path / "plain", compress=False)
    # some mirrors spell it "t10k-images.idx3-ubyte"
    os.rename(tmp_path / "plain" / "t10k-images-idx3-ubyte", tmp_path / "plain" / "t10k-images.idx3-ubyte")
    a, b = idx.load_mnist(tmp_path / "gz"), idx.load_mnist(tmp_path / "plain")
    assert a.train_images.shape == (120, 28, 28) and a.test_labels.shape == (40,)
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.test_labels[:3].tolist() == [0, 1, 2]


def test_load_mnist_lists_missing_files(tmp_path):
    write_mnist_dir(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(idx.IdxError, match="lacks t10k-labels-idx1-ubyte.gz"):
        idx.load_mnist(tmp_path)


def test_load_mnist_refuses_label_count_mismatch(tmp_path):
    write_mnist_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(119, np.uint8))
    with pytest.raises(idx.IdxError, match="has 120 images but .*train-labels-idx1-ubyte.gz has 119 labels"):
        idx.load_mnist(tmp_path)


def test_digits_demo_on_mnist_files_is_deterministic(tmp_path):
    from tb_embedanalysis.demo import digits, digits_history

    mnist_dir = write_mnist_dir(tmp_path / "MNIST_data")
    # The training-history network (3,200 steps, most of this test's time) runs once, in
    # "a": it still has to work on MNIST's files, and "b" without it must log the same logits.
    results = []
    for name in ("a", "b"):
        result = digits.run(str(tmp_path / name), mnist_dir=mnist_dir, steps=12, log_steps=(4,),
                            batch_size=20, threads=1, history=name == "a", progress=lambda message: None)
        assert result is not None  # None only when the run exists already
        results.append(result)
    assert results[0].steps == (4, 12) and results[0].run_dir.endswith("mnist")
    for step in ("00004", "00012"):
        tensors = [pathlib.Path(r.run_dir, "logits", step, "tensors.bytes").read_bytes() for r in results]
        assert len(tensors[0]) == 40 * 10 * 4 and tensors[0] == tensors[1]
    config = pathlib.Path(results[0].run_dir, "projector_config.pbtxt").read_text()
    assert "single_image_dim: 28" in config
    # the history's 120 training digits at its last step, in "a" only
    last = "%05d" % digits_history.LOG_STEPS[-1]
    history = pathlib.Path(results[0].run_dir, digits_history.EMBEDDING_NAME, last, "tensors.bytes")
    assert history.stat().st_size == 120 * 10 * 4
    assert not pathlib.Path(results[1].run_dir, digits_history.EMBEDDING_NAME).exists()
