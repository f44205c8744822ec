"""http_api.md says what the routes answer: every documented JSON example has the top-level
keys the route really returns, no more and no fewer (issue 23: `/metadata` was documented
with `values`, it returns `categories` and `codes`).

Each `## /route…` section's first JSON block is its example answer; the route is asked on a
small logdir (the digits run: two steps, labels) with the parameters below.
"""

import argparse
import pathlib
import re
import time

import pytest
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

import plugin_fixtures
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"
DOC = pathlib.Path(__file__).resolve().parent.parent / "tb_embedanalysis" / "http_api.md"
WHERE = {"run": "digits", "embedding": "logits"}
# What each documented route is asked, beyond run and embedding (the section heading's extras).
QUERIES = {
    "/runs": {},
    "/neighbors": dict(WHERE, index=0),
    "/metadata": WHERE,
    "/search": dict(WHERE, q="3"),
    "/clusters": WHERE,
    "/hard_examples": WHERE,
    "/hard_examples?method=history": dict(WHERE, method="history"),
    "/projection": dict(WHERE, format="json"),
    "/projection_settings": {},
    "/custom_projection": dict(WHERE, left="3", right="5", down="0", up="1", column="Label", format="json"),
    "/bookmarks": WHERE,
    "/compare": WHERE,
    "/history": WHERE,
    "/churn": WHERE,
    "/aligned": WHERE,
    "/outliers": WHERE,
    "/duplicates": dict(WHERE, split_column="Label"),
    "/tags": WHERE,
}


def top_level_keys(block: str) -> set:
    """The keys of a JSON example's outer object. Examples elide with `…` and `{...}`, so
    they are scanned, not parsed; a fragment (`"rows": [...]`) gives its own keys."""
    text = block.strip()
    if not text.startswith("{"):
        text = "{" + text + "}"
    keys, depth, i = set(), 0, 0
    while i < len(text):
        char = text[i]
        if char == '"':
            end = text.index('"', i + 1)
            if depth == 1 and text[end + 1:].lstrip().startswith(":"):
                keys.add(text[i + 1:end])
            i = end + 1
            continue
        depth += {"{": 1, "[": 1, "}": -1, "]": -1}.get(char, 0)
        i += 1
    return keys


def documented():
    """(route key, example keys, every key the section's blocks name) per documented route
    with a JSON answer."""
    sections = DOC.read_text(encoding="utf-8").split("\n## ")[1:]
    found = []
    for section in sections:
        heading = section.splitlines()[0]
        match = re.match(r"`(/\w+)", heading)
        blocks = re.findall(r"```json\n(.*?)```", section, re.S)
        answers = [b for b in blocks if b.lstrip().startswith("{")]
        if not match or not answers or "error" in top_level_keys(answers[0]):
            continue
        route = match.group(1) + ("?method=history" if "method=history" in heading else "")
        found.append((route, top_level_keys(answers[0]), set().union(*map(top_level_keys, blocks))))
    return found


DOCUMENTED = documented()


def test_every_route_with_a_json_answer_is_documented_with_an_example():
    assert {route for route, _, _ in DOCUMENTED} == set(QUERIES)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("api_doc")
    plugin_fixtures.write_digits_run(str(root / "digits"), n=120)
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=256.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(root), flags=flags))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def answer(client, route, query):
    deadline = time.monotonic() + 120
    path = route.split("?")[0]
    while True:
        response = client.get(PREFIX + path, query_string=query)
        if response.status_code != 202:
            assert response.status_code == 200, response.get_data(as_text=True)
            return response.get_json()
        assert time.monotonic() < deadline, "%s did not finish" % route
        time.sleep(0.05)


@pytest.mark.parametrize("route, example, named", DOCUMENTED, ids=[route for route, _, _ in DOCUMENTED])
def test_the_documented_example_has_the_keys_the_route_answers(client, route, example, named):
    keys = set(answer(client, route, QUERIES[route]))
    assert example <= keys, "documented but not answered: %s" % sorted(example - keys)
    assert keys <= named, "answered but not documented: %s" % sorted(keys - named)
