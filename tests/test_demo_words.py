"""The word demo end to end: an aclImdb-layout fixture and the synthetic corpus, read back
through the plugin's routes."""

import os
import pathlib
import re
from typing import List

import numpy as np
import pytest

from tb_embedanalysis.demo import english_words, imdb_words, reviews, run_demos
from wsgi_client import get, make_client

_POSITIVE_REVIEWS = ["A wonderful film.<br /><br />The acting was superb!",
                     "Brilliant and moving; I loved every minute.", "Great cast, great story."]
_NEGATIVE_REVIEWS = ["An awful mess.<br />Boring from start to end.",
                     "Terrible acting, dull plot...", "What a dreadful waste of time!"]


def write_aclimdb(root: pathlib.Path, per_class: int = 30) -> str:
    """A tiny Stanford-layout aclImdb/: train/{pos,neg}/<id>_<rating>.txt (+ an unsup file
    that must be ignored)."""
    for folder, texts, rating in (("pos", _POSITIVE_REVIEWS, 9), ("neg", _NEGATIVE_REVIEWS, 2)):
        directory = root / "aclImdb" / "train" / folder
        directory.mkdir(parents=True)
        for i in range(per_class):
            (directory / f"{i}_{rating}.txt").write_text(texts[i % len(texts)], encoding="utf-8")
    unsup = root / "aclImdb" / "train" / "unsup"
    unsup.mkdir()
    (unsup / "0_0.txt").write_text("zzzunsupervisedonly", encoding="utf-8")
    return str(root / "aclImdb")


def get_json(client, path, **query):
    status, body = get(client, path, **query)
    assert status == 200, body
    return body


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Both word runs in one logdir: IMDB from the fixture folder, and the synthetic corpus."""
    root = tmp_path_factory.mktemp("words")
    aclimdb = write_aclimdb(root / "data")
    logdir = root / "logs"
    imdb = imdb_words.run(str(logdir), data=aclimdb, threads=1, progress=lambda m: None)
    synthetic = imdb_words.run(str(logdir), data="synthetic", threads=1, progress=lambda m: None)
    return logdir, imdb, synthetic, make_client(logdir, max_memory_mb=256.0)


def test_aclimdb_reader_interleaves_and_ignores_unsup(tmp_path):
    path = write_aclimdb(tmp_path, per_class=3)
    texts, labels = reviews.read_aclimdb(path, limit=4)
    assert labels.tolist() == [1, 0, 1, 0]
    assert texts[0] == _POSITIVE_REVIEWS[0] and texts[1] == _NEGATIVE_REVIEWS[0]
    assert not any("zzz" in text for text in reviews.read_aclimdb(path)[0])


def test_aclimdb_without_negatives_is_refused(tmp_path):
    path = write_aclimdb(tmp_path, per_class=2)
    for file in pathlib.Path(path, "train", "neg").iterdir():
        file.unlink()
    with pytest.raises(reviews.ReviewsNotFound, match=r"no reviews in .*train/neg"):
        reviews.read_aclimdb(path)


def test_imdb_run_logs_one_token_per_line_without_padding(logs):
    logdir, imdb, _, client = logs
    assert imdb.kind == "imdb" and imdb.steps == (1,)  # one epoch, as in the tutorial
    metadata = pathlib.Path(imdb.run_dir, "embedding", "00001", "metadata.tsv").read_text(encoding="utf-8")
    lines = metadata.split("\n")[:-1]
    assert lines == list(imdb.vocabulary)
    assert lines[0] == "[UNK]" and "" not in lines  # row 0 (padding) dropped, [UNK] named
    assert "br" not in lines and "wonderful" in lines and "zzzunsupervisedonly" not in lines
    runs = {run["run"]: run for run in get_json(client, "/runs")["runs"]}
    embedding = runs["words_imdb"]["embeddings"][0]
    assert embedding["name"] == "embedding" and embedding["shape"] == [len(lines), 16]
    assert embedding["columns"] == ["label"] and embedding["label_column"] is None
    assert not embedding["has_sprite"] and embedding["error"] is None


def test_metadata_rows_stay_aligned_with_weights(logs):
    _, imdb, _, client = logs
    index = imdb.vocabulary.index("superb")
    body = get_json(client, "/neighbors", run="words_imdb", embedding="embedding", query="superb", k=3)
    assert body["query"]["index"] == index and body["query"]["metadata"] == {"label": "superb"}


def test_synthetic_run_is_named_so_and_logs_first_and_last_epoch(logs):
    _, _, synthetic, client = logs
    assert synthetic.kind == "synthetic" and synthetic.run_dir.endswith("words_synthetic")
    assert synthetic.steps == (1, imdb_words.SETTINGS["synthetic"].epochs)
    runs = {run["run"]: run for run in get_json(client, "/runs")["runs"]}
    assert runs["words_synthetic"]["embeddings"][0]["steps"] == list(synthetic.steps)


def neighbour_words(client, word, step=None):
    query = {"run": "words_synthetic", "embedding": "embedding", "query": word, "k": 5, "metric": "cosine"}
    if step is not None:
        query["step"] = step
    return [n["metadata"]["label"] for n in get_json(client, "/neighbors", **query)["neighbors"]]


@pytest.mark.parametrize("word, group", [
    ("hitchcock", "suspense"), ("nightmare", "suspense"), ("horror", "suspense"), ("anderson", "heart"),
    ("hilarious", "comedy"), ("explosions", "action"), ("great", "positive"), ("good", "positive"),
    ("awful", "negative"), ("bad", "negative"),
])
def test_planted_words_have_their_group_as_neighbours(logs, word, group):
    near = neighbour_words(logs[3], word)
    in_group = [w for w in near if w in reviews.WORD_GROUPS[group]]
    assert len(in_group) >= 3, (word, near)


def test_english_words_are_distinct_lower_case_words():
    words = english_words.common_words()
    assert len(words) == len(set(words)) >= 2000
    assert all(re.fullmatch(r"[a-z]+", word) for word in words)  # survive standardize() unchanged
    assert {"the", "water", "house", "friday", "movie"} <= set(words)


def test_synthetic_vocabulary_knows_everyday_words(logs):
    """Issue 17 item 11: the generated run knows ~2,500 words, so common words answer."""
    _, _, synthetic, client = logs
    tokens = set(synthetic.vocabulary)
    assert len(tokens) >= 2000
    assert set(reviews.filler_words()) <= tokens and reviews.PLANTED <= tokens
    for word in ("horror", "water", "house", "the", "friday"):
        body = get_json(client, "/neighbors", run="words_synthetic", embedding="embedding", query=word, k=5)
        assert body["query"]["metadata"] == {"label": word} and len(body["neighbors"]) == 5


def test_everyday_words_are_not_trained_on(logs):
    """They stay at their small random start (|x_i| <= EMBEDDING_INIT); planted words move."""
    _, _, synthetic, _ = logs
    last = "%05d" % synthetic.steps[-1]
    (tensor,) = pathlib.Path(synthetic.run_dir, "embedding", last).glob("*.bytes")
    weights = np.fromfile(tensor, dtype="<f4").reshape(len(synthetic.vocabulary), imdb_words.EMBEDDING_DIM)
    row = {word: i for i, word in enumerate(synthetic.vocabulary)}
    filler = weights[[row[w] for w in reviews.filler_words() if w not in _TEMPLATE_WORDS]]
    planted = weights[[row[w] for w in reviews.PLANTED]]
    assert np.abs(filler).max() <= imdb_words.EMBEDDING_INIT
    assert np.linalg.norm(planted, axis=1).min() > 10 * np.linalg.norm(filler, axis=1).max()


#: Words of the review templates ("the {s1} and {s2} scenes were ..."): trained on.
_TEMPLATE_WORDS = {word for template in reviews._PAIR_TEMPLATES + reviews._VERDICT_TEMPLATES
                   for word in template.split() if not word.startswith("{")}


def test_groups_form_during_training(logs):
    """Averaged over all planted words, more neighbours share the group at the last epoch."""
    client, last = logs[3], logs[2].steps[-1]

    def mean_in_group(step):
        counts = [sum(w in members for w in neighbour_words(client, word, step))
                  for members in reviews.WORD_GROUPS.values() for word in members]
        return float(np.mean(counts))

    first, final = mean_in_group(1), mean_in_group(last)
    assert final >= 4.0 and final > first, (first, final)


def test_no_imdb_data_prints_one_line_and_uses_the_synthetic_corpus(tmp_path, monkeypatch):
    monkeypatch.setattr(reviews, "default_aclimdb_dirs", lambda: [str(tmp_path / "aclImdb")])
    monkeypatch.setattr(reviews, "load_tfds", _no_tfds)
    messages: List[str] = []
    corpus = imdb_words.find_corpus(None, progress=messages.append)
    assert corpus.run == "words_synthetic" and len(messages) == 1
    assert "aclImdb_v1.tar.gz" in messages[0] and "--data tfds" in messages[0]
    assert str(tmp_path / "aclImdb") in messages[0]


def test_local_aclimdb_is_found_without_flags(tmp_path, monkeypatch):
    path = write_aclimdb(tmp_path, per_class=2)
    monkeypatch.setattr(reviews, "default_aclimdb_dirs", lambda: [str(tmp_path / "elsewhere"), path])
    messages: List[str] = []
    corpus = imdb_words.find_corpus(None, progress=messages.append)
    assert corpus.run == "words_imdb" and corpus.source == path and messages == []


def test_tfds_missing_is_a_clean_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(reviews, "load_tfds", _no_tfds)
    assert imdb_words.main(["--logdir", str(tmp_path), "--data", "tfds"]) == 2
    assert "tensorflow-datasets" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def _no_tfds(**kwargs):
    raise reviews.ReviewsNotFound("tensorflow-datasets is not installed (pip install tensorflow-datasets)")


def test_synthetic_corpus_is_seeded():
    assert reviews.synthetic_reviews(50, seed=3)[0] == reviews.synthetic_reviews(50, seed=3)[0]
    assert reviews.synthetic_reviews(50, seed=3)[0] != reviews.synthetic_reviews(50, seed=4)[0]


def test_run_demos_skips_complete_runs(tmp_path, monkeypatch):
    """Complete runs are skipped without training; nothing half-written is left behind."""
    monkeypatch.setattr(reviews, "default_aclimdb_dirs", lambda: [])
    monkeypatch.setattr(reviews, "load_tfds", _no_tfds)
    for run in ("digits", "words_synthetic"):
        (tmp_path / run).mkdir()
    messages: List[str] = []
    run_demos(str(tmp_path), progress=messages.append)
    assert [m for m in messages if m.endswith("skipped")] == [
        f"digits: {tmp_path / 'digits'} exists, skipped",
        f"words_synthetic: {tmp_path / 'words_synthetic'} exists, skipped",
    ]
    assert sorted(os.listdir(tmp_path)) == ["digits", "words_synthetic"]
