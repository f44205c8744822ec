"""The writer cleans up after itself (issue 24, item 4): temporaries of a writer killed
mid-write are removed by the next write to the same step directory, those of a writer
still writing are not; a logdir that is not a directory is a WriterError."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tb_embedanalysis import write_embedding
from tb_embedanalysis.writer.errors import LogdirError, WriterError
from tb_embedanalysis.writer.files import atomic_write_bytes, remove_stale_temporaries, temporary_name

# A real writer process that stops inside its N-th atomic write, after the data is written
# and before the rename (os.fsync is the last call before os.replace), says so on stdout,
# and goes on when it reads a line on stdin - unless it is killed first.
WRITER = textwrap.dedent("""
    import os, sys
    import numpy as np
    from tb_embedanalysis import write_embedding

    logdir, stop_at, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        real_fsync(fd)
        calls.append(fd)
        if len(calls) == stop_at:
            print("mid-write", flush=True)
            sys.stdin.readline()

    os.fsync = fsync
    vectors = np.random.default_rng(seed).normal(size=(5000, 64)).astype(np.float32)
    write_embedding(logdir, vectors, name="e", step=3, metadata=[str(i % 7) for i in range(5000)])
    print("done", flush=True)
""")

TENSOR_CALL, METADATA_CALL = 1, 2  # the order of write_embedding's atomic writes


def _start_writer(logdir, stop_at, seed=0):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(logdir), str(stop_at), str(seed)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line != "mid-write\n":  # pragma: no cover - the child failed: show why
        child.kill()
        pytest.fail(f"writer did not reach its write: {line!r} {child.communicate()[1]}")
    return child


def _temporaries(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def _vectors(seed=1):
    return np.random.default_rng(seed).normal(size=(5000, 64)).astype(np.float32)


@pytest.mark.parametrize("stop_at, leftover", [
    (TENSOR_CALL, ".tensors.bytes."),
    (METADATA_CALL, ".metadata.tsv."),
], ids=["killed writing tensors", "killed writing metadata"])
def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path, stop_at, leftover):
    child = _start_writer(tmp_path, stop_at)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    step_dir = tmp_path / "e" / "00003"
    stale = _temporaries(step_dir)
    assert len(stale) == 1 and stale[0].startswith(leftover)  # what the kill left
    if stop_at == TENSOR_CALL:
        assert (step_dir / stale[0]).stat().st_size == 5000 * 64 * 4

    written = write_embedding(tmp_path, _vectors(), name="e", step=3, metadata=["a"] * 5000)
    assert _temporaries(step_dir) == []
    assert sorted(os.listdir(step_dir)) == ["metadata.tsv", "tensors.bytes"]
    np.testing.assert_array_equal(np.fromfile(written.tensor_path, "<f4").reshape(5000, 64), _vectors())


def test_a_write_elsewhere_leaves_other_step_directories_alone(tmp_path):
    child = _start_writer(tmp_path, TENSOR_CALL)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    write_embedding(tmp_path, _vectors(), name="e", step=4)
    assert len(_temporaries(tmp_path / "e" / "00003")) == 1  # removed by the next write to step 3


def test_the_temporary_of_a_live_writer_survives_a_concurrent_write(tmp_path):
    child = _start_writer(tmp_path, TENSOR_CALL, seed=7)
    step_dir = tmp_path / "e" / "00003"
    try:
        live = _temporaries(step_dir)
        write_embedding(tmp_path, _vectors(), name="e", step=3)
        assert _temporaries(step_dir) == live  # still being written: kept
    finally:
        out, err = child.communicate("go\n", timeout=60)
    assert child.returncode == 0 and out == "done\n", err
    assert _temporaries(step_dir) == []
    expected = np.random.default_rng(7).normal(size=(5000, 64)).astype(np.float32)
    np.testing.assert_array_equal(np.fromfile(step_dir / "tensors.bytes", "<f4").reshape(5000, 64), expected)


def test_only_our_temporary_names_are_removed(tmp_path):
    ours = temporary_name("tensors.bytes")
    keep = [".tensors.bytes.tmp", "tensors.bytes.12345678.tmp", ".other.12345678.tmp", ".tensors.bytes.XYZ.tmp"]
    for name in [ours, *keep]:
        (tmp_path / name).write_bytes(b"x")
    os.symlink(tmp_path / "tensors.bytes.12345678.tmp", tmp_path / ".metadata.tsv.0123abcd.tmp")
    assert remove_stale_temporaries(str(tmp_path), ["tensors.bytes", "metadata.tsv"]) == [ours]
    assert sorted(os.listdir(tmp_path)) == sorted(keep + [".metadata.tsv.0123abcd.tmp"])


def test_stale_config_temporaries_are_removed_under_the_logdir_lock(tmp_path):
    atomic_write_bytes(str(tmp_path / "projector_config.pbtxt"), b"")
    stale = tmp_path / temporary_name("projector_config.pbtxt")
    stale.write_bytes(b"half a config")
    write_embedding(tmp_path, _vectors(), name="e")
    assert not stale.exists()


@pytest.mark.parametrize("make, logdir, message", [
    (lambda p: (p / "f").write_text("x"), "f", r"logdir '.*f' is a regular file, not a directory"),
    (lambda p: (p / "f").write_text("x"), "f/run", r"'.*/f' is a regular file, not a directory"),
    (lambda p: ((p / "run").mkdir(), (p / "run" / "e").write_text("x")), "run",
     r"cannot write to '.*e/00001': '.*run/e' is a regular file"),
    (lambda p: os.symlink(p / "missing", p / "link"), "link", "a symbolic link to a missing target"),
], ids=["logdir is a file", "a parent is a file", "the embedding's directory is a file", "dangling symlink"])
def test_a_logdir_that_cannot_be_a_directory_is_a_writer_error(tmp_path, make, logdir, message):
    make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(LogdirError, match=message) as raised:
        write_embedding(tmp_path / logdir, _vectors(), name="e", step=1)
    assert isinstance(raised.value, WriterError)
    assert sorted(os.listdir(tmp_path)) == before  # nothing written
