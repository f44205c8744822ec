"""`tb-embedanalysis analyze / neighbors`: same answers as the routes, clear failures."""

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

import plugin_fixtures
from tb_embedanalysis import cli
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_logs")
    plugin_fixtures.write_digits_run(str(root / "digits"), n=300)
    plugin_fixtures.write_words_run(str(root / "words"))
    return root


def route_json(logdir, path, **query):
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=256.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=flags))
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    deadline = time.monotonic() + 60
    while True:
        response = client.get(PREFIX + path, query_string=query)
        if response.status_code != 202 or time.monotonic() > deadline:
            assert response.status_code == 200, response.get_data(as_text=True)
            return json.loads(response.get_data(as_text=True))
        time.sleep(0.05)


def test_analyze_json_is_exactly_the_routes_json(logdir, capsys):
    code = cli.main(["analyze", str(logdir), "--run", "digits", "--embedding", "logits", "--step", "100",
                     "--format", "json", "--limit", "7", "--metric", "euclidean"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    query = {"run": "digits", "embedding": "logits", "step": 100, "metric": "euclidean"}
    assert printed["clusters"] == route_json(logdir, "/clusters", **query)
    assert printed["hard_examples"] == route_json(logdir, "/hard_examples", limit=7, **query)


def test_analyze_text_shows_the_table_and_hard_examples(logdir, capsys):
    assert cli.main(["analyze", str(logdir), "--run", "digits", "--embedding", "logits"]) == 0
    out = capsys.readouterr().out
    assert "kNN accuracy" in out and "hardest examples" in out
    assert len([line for line in out.splitlines() if line.strip().split(" ")[0].isdigit()]) >= 10


def test_neighbors_of_a_word(logdir, capsys):
    assert cli.main(["neighbors", str(logdir), "--run", "words", "--query", "comedy", "--k", "4"]) == 0
    out = capsys.readouterr().out
    for word in ("hilarious", "laugh", "witty", "joke"):
        assert word in out


def test_neighbors_has_no_exact_option(logdir, capsys):
    """Every search is exact; --exact was accepted and ignored, so it is gone (issue 23)."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["neighbors", str(logdir), "--run", "words", "--query", "comedy", "--exact"])
    assert exited.value.code == 2 and "unrecognized arguments: --exact" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["analyze", "{logdir}/nowhere"], "does not exist"),
    (["analyze", "{logdir}", "--run", "words"], "no label column"),  # named: analysed as asked
    (["analyze", "{logdir}", "--label-column", "Label"], "words/embedding: unknown column 'Label'"),
    (["neighbors", "{logdir}", "--run", "words", "--query", "zebra"], "'zebra'"),
    (["analyze", "{logdir}", "--run", "digits", "--k", "5000"], "k must be between"),
], ids=["missing-logdir", "no-labels", "column-named-but-missing", "unknown-word", "k-too-big"])
def test_bad_input_exits_2_with_a_message(logdir, capsys, argv, message):
    code = cli.main([arg.format(logdir=logdir) for arg in argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_analyze_every_embedding_skips_the_unlabelled_with_a_note(logdir, capsys):
    """issue 27.8: `add_embedding(mat)` logs have no labels; analysing a whole logdir is not
    an error because of them."""
    assert cli.main(["analyze", str(logdir), "--format", "json", "--limit", "3"]) == 0
    captured = capsys.readouterr()
    assert "note: skipping words/embedding: no label column" in captured.err
    assert "error" not in captured.err
    analysed = json.loads(captured.out)
    assert [(entry["run"], entry["embedding"]) for entry in analysed] == [("digits", "logits")]
    assert len(analysed[0]["hard_examples"]["examples"]) == 3


def test_analyze_a_logdir_with_no_labels_at_all_says_so(tmp_path, capsys):
    from tb_embedanalysis import write_embedding

    rng = np.random.default_rng(0)
    for name in ("a", "b"):  # what add_embedding(mat) writes: vectors, no metadata
        write_embedding(tmp_path / "run", rng.normal(size=(20, 4)).astype(np.float32), name=name)
    assert cli.main(["analyze", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "skipping run/a: no metadata" in err and "none of the 2 embeddings" in err


def test_neighbors_of_a_word_finds_the_embedding_that_has_it(logdir, capsys):
    """issue 27.8: without --run, the word is looked up in every embedding (digits/logits,
    listed first, has no 'comedy')."""
    assert cli.main(["neighbors", str(logdir), "--query", "comedy", "--k", "2", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["query"]["metadata"] == {"label": "comedy"}
    assert "'comedy' is in 1 of 2 embeddings; answering from words/embedding" in captured.err


def test_neighbors_of_a_misspelled_word_offers_spellings_from_every_embedding(logdir, capsys):
    assert cli.main(["neighbors", str(logdir), "--query", "comdy"]) == 2
    err = capsys.readouterr().err
    assert "no embedding has 'comdy' (looked in 2: digits/logits, words/embedding)" in err
    assert "did you mean 'comedy' (words/embedding)?" in err


def test_neighbors_of_a_value_several_embeddings_have_names_the_others(tmp_path, capsys):
    from tb_embedanalysis import write_embedding

    rng = np.random.default_rng(0)
    for name in ("first", "second"):
        write_embedding(tmp_path / "run", rng.normal(size=(6, 3)).astype(np.float32), name=name,
                        metadata=["w%d" % i for i in range(6)])
    assert cli.main(["neighbors", str(tmp_path), "--query", "w3", "--k", "2"]) == 0
    err = capsys.readouterr().err
    assert "is in 2 of 2 embeddings; answering from run/first. Also in: --run run --embedding second" in err


def test_console_script_is_installed(logdir):
    out = subprocess.run([sys.executable, "-m", "tb_embedanalysis.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "analyze" in out.stdout
