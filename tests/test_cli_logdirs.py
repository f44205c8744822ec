"""`tb-embedanalysis` on the logdirs people have (issue 15 item 8): configs with problems,
tiny embeddings, several runs. Logs are written by our writer (no TensorFlow needed)."""

import json
import pathlib

import pytest
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from logs_fixtures import vectors, write_config
from tb_embedanalysis import cli, write_embedding


def _labelled(logdir, name, n, seed):
    return write_embedding(str(logdir), vectors(n, 3, seed=seed), name=name, metadata=[str(i % 2) for i in range(n)])


def test_config_problems_are_printed_instead_of_no_projector_config(tmp_path, capsys):
    config = ProjectorConfig()
    config.embeddings.add().tensor_name = "embedding"  # a checkpoint variable, but no checkpoint
    write_config(str(tmp_path / "run1"), config)
    assert cli.main(["analyze", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no projector config" not in err
    assert "config problems" in err
    assert "run1/projector_config.pbtxt" in err and "there is none in" in err


def test_default_k_is_clamped_on_a_tiny_embedding_and_the_cli_says_so(tmp_path, capsys):
    _labelled(tmp_path, "tiny", 4, seed=1)
    assert cli.main(["analyze", str(tmp_path), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["clusters"]["overall"]["k"] == 3
    assert "4 usable points: k=3 instead of the default 10" in err


def test_analyze_on_several_runs_analyses_every_one(tmp_path, capsys):
    _labelled(tmp_path / "a", "emb", 30, seed=2)
    _labelled(tmp_path / "b", "emb", 40, seed=3)
    assert cli.main(["analyze", str(tmp_path), "--format", "json", "--limit", "3"]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert [(item["run"], item["embedding"]) for item in payload] == [("a", "emb"), ("b", "emb")]
    assert [sum(row["count"] for row in item["clusters"]["labels"]) for item in payload] == [30, 40]
    assert "analysing 2 embeddings" in err and "--run a --embedding emb" in err
    assert cli.main(["analyze", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "a / emb" in text and "b / emb" in text


def test_analyze_goes_on_past_an_embedding_it_cannot_analyse(tmp_path, capsys):
    _labelled(tmp_path / "a", "emb", 30, seed=2)
    write_embedding(str(tmp_path / "b"), vectors(10, 3, seed=4), name="unlabelled")
    written = _labelled(tmp_path / "c", "broken", 20, seed=5)
    tensor = pathlib.Path(written.tensor_path)
    tensor.write_bytes(tensor.read_bytes()[:-4])  # a truncated tensor: an error, not a skip
    assert cli.main(["analyze", str(tmp_path), "--format", "csv"]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("run,embedding,label")
    assert {line.split(",")[0] for line in out.splitlines()[1:]} == {"a"}
    assert "note: skipping b/unlabelled: no metadata" in err  # issue 27.8: unlabelled is normal
    assert "error: c/broken" in err


def test_neighbors_on_several_runs_says_which_it_used_and_how_to_pick_another(tmp_path, capsys):
    _labelled(tmp_path / "a", "emb", 30, seed=2)
    _labelled(tmp_path / "b", "emb", 40, seed=3)
    assert cli.main(["neighbors", str(tmp_path), "--index", "0", "--k", "2", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)["neighbors"]) == 2
    assert "answering from a/emb" in err and "--run b --embedding emb" in err


@pytest.mark.parametrize("argv", [["--run", "b"], ["--embedding", "emb", "--run", "b"]])
def test_a_named_run_is_analysed_alone_as_before(tmp_path, capsys, argv):
    _labelled(tmp_path / "a", "emb", 30, seed=2)
    _labelled(tmp_path / "b", "emb", 40, seed=3)
    assert cli.main(["analyze", str(tmp_path), "--format", "json"] + argv) == 0
    out, err = capsys.readouterr()
    assert set(json.loads(out)) == {"clusters", "hard_examples"}
    assert "embeddings" not in err  # neither "analysing 2 embeddings" nor "2 embeddings found"
    assert sum(row["count"] for row in json.loads(out)["clusters"]["labels"]) == 40
