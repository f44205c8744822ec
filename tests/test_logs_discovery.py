"""Discovery: runs at any depth, both config locations, broken configs reported not fatal."""

import os

import pytest

from logs_fixtures import PROJECTOR_ASSETS, vectors, write_bytes_run
from tb_embedanalysis.logs import UnknownEmbeddingError, discover, find_ref, has_projector_config


@pytest.fixture
def logdir(tmp_path):
    write_bytes_run(str(tmp_path), vectors(3, 2), name="root_emb")
    write_bytes_run(str(tmp_path / "a" / "b" / "deep"), vectors(3, 2), name="deep_emb", step=5)
    write_bytes_run(str(tmp_path / "a" / "b" / "deep"), vectors(3, 2), name="deep_emb", step=50)
    plugin_run = tmp_path / "plug"
    write_bytes_run(str(plugin_run), vectors(3, 2), name="plug_emb")
    os.makedirs(plugin_run / PROJECTOR_ASSETS)
    os.rename(plugin_run / "projector_config.pbtxt", plugin_run / PROJECTOR_ASSETS / "projector_config.pbtxt")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "projector_config.pbtxt").write_text('embeddings {\n  tensor_name: "x"\n  tensor_pat: "y"\n}\n')
    return tmp_path


def test_runs_are_relative_dirs_with_dot_for_the_logdir(logdir):
    runs = discover(str(logdir))
    assert [r.run for r in runs] == [".", "a/b/deep", "broken", "plug"]
    by_run = {r.run: r for r in runs}
    assert [(s.name, s.steps) for s in by_run["a/b/deep"].series] == [("deep_emb", (5, 50))]
    assert [s.name for s in by_run["plug"].series] == ["plug_emb"]
    assert by_run["."].series[0].refs[0].config_path == str(logdir / "projector_config.pbtxt")


def test_syntax_error_is_a_problem_naming_file_and_line(logdir):
    broken = {r.run: r for r in discover(str(logdir))}["broken"]
    (problem,) = broken.problems
    assert broken.series == ()
    assert problem.config_path == "broken/projector_config.pbtxt"  # shown to users: relative to the logdir
    assert problem.message.startswith("broken/projector_config.pbtxt line 3, column 3: ")
    assert str(logdir) not in problem.message
    assert "tensor_pat" in problem.message


def test_has_projector_config(logdir, tmp_path_factory):
    assert has_projector_config(str(logdir))
    empty = tmp_path_factory.mktemp("empty")
    (empty / "events.out.tfevents.1").write_bytes(b"")
    assert not has_projector_config(str(empty)) and discover(str(empty)) == ()
    assert discover(str(empty / "does-not-exist")) == ()


def test_find_ref_latest_and_clear_errors(logdir):
    runs = discover(str(logdir))
    assert find_ref(runs, "a/b/deep", "deep_emb", None).step == 50
    assert find_ref(runs, "a/b/deep", "deep_emb", 5).step == 5
    with pytest.raises(UnknownEmbeddingError, match=r"unknown run 'nope'; runs: \., a/b/deep, broken, plug"):
        find_ref(runs, "nope", "x")
    with pytest.raises(UnknownEmbeddingError, match=r"run '\.' has no embedding 'x'; it has: root_emb"):
        find_ref(runs, ".", "x")
    with pytest.raises(UnknownEmbeddingError, match=r"has no step 7; steps: 5, 50"):
        find_ref(runs, "a/b/deep", "deep_emb", 7)
    with pytest.raises(LookupError):
        find_ref(runs, "nope", "x")
