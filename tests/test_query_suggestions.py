"""Unknown words answer close spellings; plain-text search is literal (issue 17, items 2-3).

Through the real WSGI app on logs written by the writer, plus the suggestion kernel on a
large compact column (its cost must stay bounded: a typo must not scan a million values
with difflib).
"""

import json
import time

import numpy as np
import pytest
from tensorboard.backend import application
from werkzeug import test as werkzeug_test

import plugin_fixtures
from tb_embedanalysis import errors
from tb_embedanalysis.analysis import text_match
from tb_embedanalysis.logs.model import Column
from test_plugin_routes import PREFIX, make_plugin


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    plugin_fixtures.write_digits_run(str(root / "digits"), n=200)
    plugin_fixtures.write_words_run(str(root / "words"))
    app = application.TensorBoardWSGI([make_plugin(root, tmp_path_factory.mktemp("cache"))])
    return werkzeug_test.Client(app)


def get(client, path, **query):
    response = client.get(PREFIX + path, query_string=query)
    return response.status_code, json.loads(response.get_data(as_text=True))


@pytest.mark.parametrize("typed, expected", [
    ("horor", "horror"),          # a letter missing
    ("Horrer", "horror"),         # a letter wrong, other case
    ("hitch", "hitchcock"),       # a prefix
    ("commedy", "comedy"),        # a letter doubled
], ids=["missing-letter", "wrong-letter-case", "prefix", "doubled-letter"])
def test_unknown_word_answers_404_with_close_spellings(client, typed, expected):
    status, body = get(client, "/neighbors", run="words", embedding="embedding", query=typed, k=3)
    assert status == 404
    assert repr(typed) in body["error"]  # the message still says what was not found
    assert expected in body["suggestions"]
    assert 1 <= len(body["suggestions"]) <= 10
    assert all(isinstance(s, str) for s in body["suggestions"])


def test_a_word_far_from_every_entry_has_no_suggestions(client):
    status, body = get(client, "/neighbors", run="words", embedding="embedding", query="zzzzzzzz", k=3)
    assert status == 404 and body["suggestions"] == []


def test_other_errors_carry_no_suggestions(client):
    status, body = get(client, "/neighbors", run="words", embedding="embedding", index=999, k=3)
    assert status == 404 and set(body) == {"error"}


def test_details_never_replace_the_error_text():
    error = errors.NotFound("no row has x = 'y'", details={"error": "forged", "suggestions": ["a"]})
    from tb_embedanalysis.plugin import http_errors

    assert http_errors.error_body(error) == {"error": "no row has x = 'y'", "suggestions": ["a"]}


def test_literal_search_finds_the_text_as_typed(client):
    # "^3$" as a regex finds every 3; as plain text nothing has those three characters.
    _, regex = get(client, "/search", run="digits", embedding="logits", q="^3$", column="Label", limit=500)
    assert regex["total"] > 0
    status, literal = get(client, "/search", run="digits", embedding="logits", q="^3$", column="Label", limit=500, literal=1)
    assert status == 200 and literal["total"] == 0
    _, dot = get(client, "/search", run="digits", embedding="logits", q="1.", column="Index", limit=500, literal="true")
    assert dot["total"] == 0  # "." is a dot, not "any character"
    _, plain = get(client, "/search", run="digits", embedding="logits", q="19", column="Index", limit=500, literal=1)
    assert sorted(int(m["metadata"]["Index"]) for m in plain["matches"]) == [19] + list(range(119, 200, 100)) + list(range(190, 200))


def test_an_invalid_regex_is_searched_as_text_and_the_answer_says_so(client):
    """issue 27.5: "(1" is no regex; the rows holding those two characters are found, and the
    answer says it searched the text as typed, with RE2's reason."""
    status, body = get(client, "/search", run="digits", embedding="logits", q="(1", column="Index", limit=500)
    assert status == 200 and body["total"] == 0
    assert body["as_text"] is True and "missing )" in body["regex_error"]
    _, typed = get(client, "/search", run="words", embedding="embedding", q="comedy|", limit=5)
    assert typed["as_text"] is False and typed["regex_error"] is None  # a valid regex: searched as one
    _, long = get(client, "/search", run="digits", embedding="logits", q="(" + "x" * 999, column="Index")
    assert long["as_text"] is True and len(long["regex_error"]) <= 130  # RE2 quotes the pattern: bounded
    _, literal = get(client, "/search", run="digits", embedding="logits", q="(1", column="Index", literal=1)
    assert literal["as_text"] is False and literal["regex_error"] is None  # plain text asked for: nothing to say


def test_suggestions_on_a_million_distinct_values_stay_bounded():
    words = np.char.add("w", np.arange(1_000_000).astype(str)).tolist()
    column = Column.from_values(words)
    started = time.monotonic()
    found = text_match.suggestions(column, "w12345x")
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, elapsed  # generous: the kernel caps what it compares
    assert len(found) <= 10 and "w12345" in found


def test_suggestions_rank_close_spellings_before_prefixes():
    values = ["horrible", "horror", "horrors", "horrid", "comedy"]
    found = text_match.suggestions(values, "horor")
    assert found[0] == "horror"
    assert "comedy" not in found
