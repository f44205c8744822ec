"""Messages that quote input are bounded and clean (issue 23 item 4).

A message names what it got, but at most ~80 characters of it, escaped (quoting.excerpt);
another library's message is cut at ~300 (quoting.clipped). Before: a 16 MiB TSV tensor of
NUL bytes gave a 67 MB error, 84 MB /runs and data-route bodies and +587 MB of server
memory (64 MiB: 335 MB bodies, +1.8 GB).
"""

import json
import os
import tracemalloc

import pytest
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from logs_fixtures import vectors, write_bytes_run, write_config, write_tsv
from tb_embedanalysis.logs.model import TensorSource
from tb_embedanalysis.logs.tensor_files import read_tsv
from tb_embedanalysis.quoting import EXCERPT_CHARS, clipped, excerpt, printable
from wsgi_client import make_client
from wsgi_client import poll

MIB = 1024 * 1024
# The longest message a quoted value may produce: its words, a path, ~80 quoted characters
# (escapes included) and the "… (N characters)" note.
MESSAGE_BOUND = 600


def write_nul_tsv(run_dir, size):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "tensors.tsv"), "wb") as handle:
        handle.write(b"\0" * size)
    config = ProjectorConfig()
    config.embeddings.add(tensor_name="nul", tensor_path="tensors.tsv")
    write_config(run_dir, config)


# -- the reported case -------------------------------------------------------------------------
def test_a_16_mib_tsv_of_nul_bytes_gives_small_answers(tmp_path):
    write_nul_tsv(str(tmp_path / "run"), 16 * MIB)
    client = make_client(tmp_path)
    runs = poll(client, "/runs")
    assert runs.status_code == 200 and len(runs.get_data()) < 2000  # was 83,886,358 bytes
    (entry,) = runs.get_json()["runs"][0]["embeddings"]
    assert entry["error"].startswith("run/tensors.tsv: line 1 column 1 is '\\x00\\x00")
    assert entry["error"].endswith("… (16,777,216 characters), not a number")
    assert len(entry["error"]) < MESSAGE_BOUND
    for route, query in (("/neighbors", {"index": "0"}), ("/clusters", {}), ("/metadata", {})):
        response = poll(client, route, run="run", embedding="nul", **query)
        assert response.status_code == 422 and len(response.get_data()) < 1000  # was 83,886,144 bytes
        assert response.get_json()["error"] == entry["error"]


def test_reading_a_tsv_of_nul_bytes_holds_little_more_than_the_file(tmp_path):
    """Neither numpy nor float() get to quote the 16 MiB cell in their own messages (each a
    64 MB repr): a cell longer than any number is refused before parsing. Peak 288 MB before."""
    write_nul_tsv(str(tmp_path), 16 * MIB)
    tracemalloc.start()
    try:
        with pytest.raises(Exception, match=r"line 1 column 1 is '\\x00.*not a number") as raised:
            read_tsv(TensorSource(kind="tsv", path=str(tmp_path / "tensors.tsv")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(str(raised.value)) < MESSAGE_BOUND
    assert peak < 3 * 16 * MIB  # the bytes and their text: 32 MB


def test_a_long_cell_that_is_a_number_still_reads(tmp_path):
    """The length limit refuses nothing a writer prints: padded and very precise values read."""
    run_dir = tmp_path / "run"
    write_tsv(str(run_dir / "t.tsv"), [("  1.5  ", "%.60f" % 0.1), ("2", "-3e-300")])
    config = ProjectorConfig()
    config.embeddings.add(tensor_name="t", tensor_path="t.tsv")
    write_config(str(run_dir), config)
    entry = poll(make_client(tmp_path), "/runs").get_json()["runs"][0]["embeddings"][0]
    assert entry["error"] is None and entry["shape"] == [2, 2]


# -- every other place a file's content is quoted ---------------------------------------------------
HUGE = "x" * (4 * MIB)


def huge_single_column_header(run_dir):
    # One line more than the tensor has rows: the message suggests the first line is a header.
    write_bytes_run(run_dir, vectors(3, 2), name="emb", metadata_rows=[(HUGE,), ("a",), ("b",), ("c",)])
    return "if its first line 'xxxx"


def huge_duplicate_column(run_dir):
    write_bytes_run(run_dir, vectors(3, 2), name="emb", metadata_rows=[(HUGE, HUGE)] + [("a", "b")] * 3)
    return "appears twice; the second is called 'xxxx"


def huge_config_token(run_dir):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "projector_config.pbtxt"), "w", encoding="utf-8") as handle:
        handle.write("embeddings { tensor_name: %s }\n" % HUGE)  # an unquoted token: a parse error quoting it
    return "projector_config.pbtxt line 1, column"


def huge_tensor_name(run_dir):
    config = ProjectorConfig()
    config.embeddings.add(tensor_name=HUGE + "\x1b[2J")  # no tensor_path: a checkpoint variable, and no checkpoint
    write_config(run_dir, config)
    return "projector_config.pbtxt"


def huge_nul_path(run_dir):
    write_bytes_run(run_dir, vectors(3, 2), name="emb")
    config_path = os.path.join(run_dir, "projector_config.pbtxt")
    with open(config_path, encoding="utf-8") as handle:
        config = text_format.Parse(handle.read(), ProjectorConfig())
    config.embeddings[0].metadata_path = HUGE + "\0.tsv"
    write_config(run_dir, config)
    return "contains a NUL byte"


@pytest.mark.parametrize("write", [huge_single_column_header, huge_duplicate_column, huge_config_token,
                                   huge_tensor_name, huge_nul_path], ids=lambda f: f.__name__)
def test_a_huge_value_in_a_file_is_quoted_short(tmp_path, write):
    expected = write(str(tmp_path / "run"))
    body = poll(make_client(tmp_path), "/runs")
    listed = body.get_json()
    messages = [p["error"] for p in listed["problems"]]
    messages += [m for run in listed["runs"] for e in run["embeddings"] for m in e["warnings"] + [e["error"]] if m]
    assert any(expected in m for m in messages), messages
    assert all(len(m) < MESSAGE_BOUND for m in messages), [len(m) for m in messages]


@pytest.mark.parametrize("route, query, words", [
    ("/neighbors", {"index": "9" * 999 + "x"}, "parameter 'index' must be an integer, got '999"),
    ("/duplicates", {"threshold": "1" * 999 + "x"}, "parameter 'threshold' must be a number, got '111"),
    ("/history", {"indices": "1," * 4000 + "x"}, "parameter 'indices' must be comma-separated integers"),
    ("/hard_examples", {"hide_tagged": "\x1b" * 900}, "parameter 'hide_tagged' must name tags"),
], ids=["integer", "number", "integer-list", "tag-names"])
def test_a_long_parameter_is_quoted_short(tmp_path, route, query, words):
    write_bytes_run(str(tmp_path / "run"), vectors(5, 2), name="emb", metadata_rows=[(str(i % 2),) for i in range(5)])
    response = poll(make_client(tmp_path), route, run="run", embedding="emb", **query)
    error = response.get_json()["error"]
    assert response.status_code == 400 and words in error, error
    assert len(error) < MESSAGE_BOUND and "characters)" in error


# -- the helpers themselves ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["x0", "", "it's", "naïve", "数字", "tab\there"])
def test_a_short_value_is_quoted_as_repr_quotes_it(value):
    assert excerpt(value) == repr(value)


@pytest.mark.parametrize("value", ["\0" * 10**6, "\U0010ffff" * 10**5, "a" * 10**6, "\x1b]0;pwned\x07" * 1000,
                                   "é" * 1000, "\u202e" * 500, b"\xff\x00" * 10**5, list(range(10**5))],
                         ids=["nul", "astral", "plain", "osc", "accents", "bidi-override", "bytes", "list"])
def test_a_long_value_is_cut_escaped_and_says_its_length(value):
    quoted = excerpt(value)
    assert len(quoted) <= EXCERPT_CHARS + 40
    assert quoted.endswith("characters)") or quoted.endswith("bytes)")
    assert printable(quoted) == quoted and "\u202e" not in quoted  # nothing a terminal acts on, no bidi trick


def test_a_value_too_big_to_convert_is_named_not_shown():
    assert excerpt(10**5000) == "'<int too long to show>'"  # str() refuses ints over 4,300 digits


def test_clipped_bounds_and_cleans_a_foreign_message():
    message = "Expected identifier, got: " + "\x1b[2J" + "y" * 10**6
    assert len(clipped(message)) <= 301 and "\x1b" not in clipped(message) and clipped(message).endswith("…")
    assert clipped("short\nmessage") == "short message"


def test_printable_escapes_terminal_controls_only():
    assert printable("a\x1b]0;t\x07b\x9b2J\x7f\r\nc\td\re") == "a\\u001b]0;t\\u0007b\\u009b2J\\u007f\r\nc\td\\u000de"
    assert printable("naïve 数字 \u202e") == "naïve 数字 \u202e"
    # In a JSON string, the escape is JSON's own: the value parses back unchanged.
    text = "label\x9bwith C1\x7f"
    assert json.loads(printable(json.dumps(text, ensure_ascii=False))) == text
