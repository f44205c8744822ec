"""Paths from configs: relative or absolute, but never outside the config's (run's) directory."""

import os
import re

import pytest
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from logs_fixtures import PROJECTOR_ASSETS, vectors, write_bytes_run, write_config, write_tsv
from tb_embedanalysis.logs import EmbeddingStore, UnsafePathError, discover
from tb_embedanalysis.logs.paths import resolve
from tb_embedanalysis.quoting import excerpt


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "logs" / "run"
    write_tsv(str(run / "t.tsv"), [("1", "2"), ("3", "4")])
    write_tsv(str(tmp_path / "secret.tsv"), [("5", "6"), ("7", "8")])
    os.symlink(tmp_path / "secret.tsv", run / "link.tsv")
    return run


@pytest.mark.parametrize("path", ["../../secret.tsv", "link.tsv", "{tmp}/secret.tsv", "~/../../etc/passwd"],
                         ids=["dotdot", "symlink-out", "absolute-out", "home"])
def test_paths_leaving_the_config_directory_are_refused(run_dir, tmp_path, path):
    path = path.format(tmp=tmp_path)
    # The path as messages quote it: cut after ~80 characters, which an absolute one under
    # a long temporary directory is (pytest-xdist's add popen-gwN/).
    with pytest.raises(UnsafePathError, match=r"projector_config\.pbtxt: path %s resolves to .* outside" % re.escape(
            excerpt(path))):
        resolve(path, base_dirs=[str(run_dir)], root=str(run_dir), config_path=str(run_dir / "projector_config.pbtxt"))


@pytest.mark.parametrize("path", ["t.tsv", "./sub/../t.tsv", "{run}/t.tsv"], ids=["relative", "dots-inside", "absolute"])
def test_paths_inside_are_resolved(run_dir, path):
    got = resolve(path.format(run=run_dir), base_dirs=[str(run_dir)], root=str(run_dir), config_path="c")
    assert got == os.path.realpath(run_dir / "t.tsv")


def test_unsafe_embedding_is_a_problem_and_the_others_still_load(run_dir):
    config = ProjectorConfig()
    config.embeddings.add(tensor_name="good", tensor_path="t.tsv")
    config.embeddings.add(tensor_name="evil", tensor_path="link.tsv")
    config.embeddings.add(tensor_name="evil_meta", tensor_path="t.tsv", metadata_path="../../secret.tsv")
    write_config(str(run_dir), config)
    (run,) = discover(str(run_dir.parent))
    # A refused metadata path costs the labels only: evil_meta is listed, its ref says why (issue 15).
    assert run.run == "run" and [s.name for s in run.series] == ["evil_meta", "good"]
    assert len(run.problems) == 1 and "outside" in run.problems[0].message
    evil_meta = run.series[0].refs[0]
    assert evil_meta.metadata_path is None and "outside" in evil_meta.warnings[0]
    assert EmbeddingStore().load(run.series[1].refs[0]).shape == (2, 2)


def test_config_under_plugins_dir_may_use_the_run_directory(tmp_path):
    run = tmp_path / "exp" / "train"
    write_bytes_run(str(run), vectors(4, 2), name="emb")
    os.makedirs(run / PROJECTOR_ASSETS)
    os.rename(run / "projector_config.pbtxt", run / PROJECTOR_ASSETS / "projector_config.pbtxt")
    (info,) = discover(str(tmp_path))
    assert info.run == "exp/train" and not info.problems  # "emb/tensor.bytes" found in the run dir
    assert info.series[0].refs[0].tensor.path == os.path.realpath(run / "emb" / "tensor.bytes")
    assert EmbeddingStore().load(info.series[0].refs[0]).shape == (4, 2)
