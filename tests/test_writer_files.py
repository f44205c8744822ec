"""What write_embedding puts on disk, read back directly: layout, config merging, tensor
format, metadata text, events file, atomicity. (Reading through our reader and through
TensorBoard's Projector: test_writer_roundtrip.py, test_writer_projector.py.)"""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from tb_embedanalysis import write_embedding
from tb_embedanalysis.writer.embedding_writer import asset_dirname
from tb_embedanalysis.writer.tensor_file import standard_projector_misreads
from tb_embedanalysis.writer.files import atomic_write, atomic_write_bytes


def _config(logdir) -> ProjectorConfig:
    config = ProjectorConfig()
    text_format.Parse((logdir / "projector_config.pbtxt").read_text(), config)
    return config


def _entries(logdir):
    return {e.tensor_name: e for e in _config(logdir).embeddings}


def _vectors(n=12, d=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_layout_steps_and_names(tmp_path):
    images = np.random.default_rng(1).random((12, 6, 4))
    write_embedding(tmp_path, _vectors(), name="digits", step=100, metadata=list("abcabcabcabc"), images=images)
    write_embedding(tmp_path, _vectors(seed=2), name="digits", step=1500, metadata=list("abcabcabcabc"))
    write_embedding(tmp_path, _vectors(7, 3), name="words")

    entries = _entries(tmp_path)
    assert list(entries) == ["digits:00100", "digits:01500", "words"]
    first = entries["digits:00100"]
    assert first.tensor_path == "digits/00100/tensors.bytes"
    assert list(first.tensor_shape) == [12, 5]
    assert first.metadata_path == "digits/00100/metadata.tsv"
    assert first.sprite.image_path == "digits/00100/sprite.png"
    assert list(first.sprite.single_image_dim) == [4, 6]  # [width, height]
    assert not entries["digits:01500"].sprite.image_path
    assert entries["words"].tensor_path == "words/latest/tensors.bytes"
    assert not entries["words"].metadata_path
    for entry in entries.values():  # every path relative and inside the config's directory
        for path in (entry.tensor_path, entry.metadata_path, entry.sprite.image_path):
            if path:
                assert not os.path.isabs(path) and ".." not in path.split("/")
                assert (tmp_path / path).is_file()
    assert sorted(os.listdir(tmp_path / "digits" / "00100")) == ["metadata.tsv", "sprite.png", "tensors.bytes"]


def test_bytes_are_little_endian_float32_row_major(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(4, 3))  # float64: rounded once to float32
    written = write_embedding(tmp_path, vectors, name="e")
    assert written.tensor_path.endswith("tensors.bytes")
    with open(written.tensor_path, "rb") as handle:
        assert handle.read() == vectors.astype("<f4").tobytes()


PLANTED = {
    "all zeros": (np.zeros((50, 8), np.float32), True),
    "ascii floats 0.5 2 3": (np.tile(np.array([0.5, 2.0, 3.0], np.float32), (20, 1)), True),
    "leading newline bytes then zeros": (np.concatenate([np.frombuffer(b"\n\n\n\n", "<f4")[None].repeat(4, 1), np.zeros((3, 4), np.float32)]), True),
    "random normal": (_vectors(100, 16), False),
    "one-hot": (np.eye(10, dtype=np.float32), False),
}


@pytest.mark.parametrize("vectors, misread", PLANTED.values(), ids=PLANTED.keys())
def test_tsv_fallback_exactly_when_the_projector_would_misread(tmp_path, vectors, misread):
    assert standard_projector_misreads(vectors) is misread
    written = write_embedding(tmp_path, vectors, name="e")
    assert written.tensor_path.endswith("tensors.tsv" if misread else "tensors.bytes")
    if misread:
        back = np.loadtxt(written.tensor_path, dtype=np.float64, delimiter="\t", ndmin=2).astype(np.float32)
        np.testing.assert_array_equal(back, vectors)
        assert list(_entries(tmp_path)["e"].tensor_shape) == list(vectors.shape)


def test_tsv_fallback_is_exact_for_awkward_float32():
    values = np.array([[0.0, -0.0, 1e-45, 3.4028235e38, 0.1, 1 / 3, np.float32(2.0) ** -126, 16777217.0]], np.float32)
    import io

    from tb_embedanalysis.writer.tensor_file import write_tsv

    buffer = io.BytesIO()
    write_tsv(buffer, values)
    back = np.array([float(x) for x in buffer.getvalue().decode().split("\t")], np.float64).astype(np.float32)
    assert back.tobytes() == values.tobytes()  # bit-equal, including -0.0 and the denormal


def test_rewriting_a_step_replaces_only_its_entry_and_keeps_foreign_fields(tmp_path):
    (tmp_path / "projector_config.pbtxt").write_text(
        'model_checkpoint_path: "model.ckpt-7"\n'
        'embeddings { tensor_name: "other" tensor_path: "other.tsv" metadata_path: "m.tsv" }\n'
    )
    write_embedding(tmp_path, _vectors(), name="e", step=1, images=np.zeros((12, 2, 2)), metadata=["x"] * 12)
    with pytest.warns(UserWarning, match="step 2 has 9 rows but step 1 has 12"):  # test_writer_step_rows.py
        write_embedding(tmp_path, _vectors(9, 2), name="e", step=2)
    with pytest.warns(UserWarning, match="step 1 has 8 rows but step 2 has 9"):
        write_embedding(tmp_path, _vectors(8, 2), name="e", step=1)  # again, smaller, no sprite or metadata

    config = _config(tmp_path)
    assert config.model_checkpoint_path == "model.ckpt-7"
    assert [e.tensor_name for e in config.embeddings] == ["other", "e:00001", "e:00002"]
    assert config.embeddings[0].metadata_path == "m.tsv"
    rewritten = config.embeddings[1]
    assert list(rewritten.tensor_shape) == [8, 2]
    assert not rewritten.metadata_path and not rewritten.sprite.image_path
    assert os.listdir(tmp_path / "e" / "00001") == ["tensors.bytes"]  # stale sprite/metadata gone


def test_tensorboardx_entries_are_merged_not_clobbered(tmp_path):
    tensorboardX = pytest.importorskip("tensorboardX")
    with tensorboardX.SummaryWriter(str(tmp_path)) as writer:
        writer.add_embedding(_vectors(), metadata=list("abcdefghijkl"), global_step=3, tag="tbx")
    write_embedding(tmp_path, _vectors(), name="ours", step=3)
    names = list(_entries(tmp_path))
    assert names == ["tbx:00003", "ours:00003"]


def test_concurrent_writers_keep_every_entry(tmp_path):
    errors = []

    def write(i):
        try:
            write_embedding(tmp_path, _vectors(seed=i), name=f"e{i}", step=i)
        except Exception as error:  # noqa: BLE001  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(_entries(tmp_path)) == sorted(f"e{i}:{i:05d}" for i in range(8))
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_events_file_written_once_so_tensorboard_lists_the_run(tmp_path):
    run = tmp_path / "run1"
    write_embedding(run, _vectors(), name="e", step=1)
    write_embedding(run, _vectors(), name="e", step=2)
    events = [f for f in os.listdir(run) if "tfevents" in f]
    assert len(events) == 1
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    assert list(multiplexer.Runs()) == ["run1"]


METADATA = {
    "one column, no header": (["3", 7, 2.5, None, "", "  ", b"caf\xc3\xa9", "x", "y", "z", "u", "v"],
                              "3\n7\n2.5\n<empty>\n<empty>\n<empty>\ncafé\nx\ny\nz\nu\nv\n"),
    "mapping with header": ({"Index": range(12), "Label": list("ababababab") + ["", "b"]},
                            "Index\tLabel\n" + "".join(f"{i}\t{'ab'[i % 2]}\n" for i in range(10)) + "10\t<empty>\n11\tb\n"),
    "one-column mapping has no header": ({"word": list("abcdefghijkl")}, "".join(f"{c}\n" for c in "abcdefghijkl")),
}


@pytest.mark.parametrize("metadata, text", METADATA.values(), ids=METADATA.keys())
def test_metadata_text(tmp_path, metadata, text):
    written = write_embedding(tmp_path, _vectors(), name="e", metadata=metadata)
    with open(written.metadata_path, encoding="utf-8", newline="") as handle:
        assert handle.read() == text


def test_metadata_rows_with_header(tmp_path):
    rows = [(i, f"w{i}") for i in range(12)]
    written = write_embedding(tmp_path, _vectors(), name="e", metadata=rows, metadata_header=["id", "word"])
    with open(written.metadata_path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[0] == "id\tword" and lines[5] == "4\tw4" and len(lines) == 13


@pytest.mark.parametrize("name, directory", [
    ("digits", "digits"),
    ("layer/dense 1", "layer_dense_1-" ),
    ("a_b", "a_b"),
    ("..", "embedding-"),
    (".hidden", "hidden-"),
], ids=["plain", "slash and space", "underscore", "dotdot", "leading dot"])
def test_asset_dirname_is_safe_and_unambiguous(name, directory):
    assert asset_dirname(name).startswith(directory)
    assert "/" not in asset_dirname(name) and asset_dirname(name) not in (".", "..")


def test_distinct_names_never_share_a_directory():
    assert asset_dirname("a/b") != asset_dirname("a_b") != asset_dirname("a b")


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(str(target), b"old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(str(target), fail)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_files_are_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        written = write_embedding(tmp_path, _vectors(), name="e", metadata=["x"] * 12)
    finally:
        os.umask(old)
    for path in (written.tensor_path, written.metadata_path, written.config_path):
        assert os.stat(path).st_mode & 0o777 == 0o644


def test_array_likes_are_accepted(tmp_path):
    class ArrayLike:  # what torch / jax tensors look like to numpy
        def __array__(self, dtype=None, copy=None):
            return np.arange(6, dtype=np.float32).reshape(3, 2) + 0.25

    written = write_embedding(tmp_path, ArrayLike(), name="e")
    assert written.shape == (3, 2)
    written = write_embedding(tmp_path, [[1, 5], [7, 9]], name="f")  # nested lists, ints
    assert np.fromfile(written.tensor_path, "<f4").tolist() == [1, 5, 7, 9]


def test_writer_never_imports_tensorflow(tmp_path):
    code = (
        "import sys, numpy as np, tb_embedanalysis as t\n"
        "t.write_embedding(sys.argv[1], np.ones((4, 2)) * [1, 5], name='e', step=1,"
        " metadata=['a', 'b', 'a', 'b'], images=np.zeros((4, 2, 2)))\n"
        "t.make_sprite(np.zeros((2, 2, 2)))\n"
        "t.log_cluster_scalars(sys.argv[1], np.eye(4), [0, 0, 1, 1], step=1, name='e', k=1)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
