"""The metadata search (`/search?q=`) against hostile patterns, and its meaning on normal ones.

A 34-character pattern like `((a{1000}){1000}){1000}` used to make the regex compiler
allocate until the kernel killed TensorBoard. The real `tensorboard` command runs here with
its address space capped at ~3 GB over its start-up size (`resource.prlimit`), so a
regression fails this test instead of exhausting the machine.
"""

import json
import os
import re
import resource
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

from tb_embedanalysis import write_embedding
from tb_embedanalysis.analysis import text_match
from tensorboard_process import running_tensorboard

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ["Über", "straße", "café", "naïve", "c++", "(paren", "colour", "color", "gray", "grey",
         "Kelvin", "ΣΊΣΥΦΟΣ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "x" * 60, "3", "13", "-0.5", "=cmd"]

BOMBS = [
    "((a{1000}){1000}){1000}",  # the 34 characters: 22 GB before
    "(b{1000}){1000}",  # 140 MB each, kept in the regex module's cache
    "(c{1000}){1000}",
    "(d{1000}){1000}",
    "(?:x{500}){500}{500}",
    "(?:[a-z]{1000}){1000}",
    "(?i)(é{1000}){1000}",
    "x{1,100000}",
    "(?:a{2,100000}){1000}",
    "((?:ab|cd){1,1000}){1,1000}",
    r"\pL{1000}",  # within the repeat limit, but its program exceeds RE2's max_mem
]


def _vm_kib(pid: int, field: str) -> int:
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def _get(url, timeout=60.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and uses resource.prlimit")
def test_compile_bombs_answer_400_naming_q_fast_and_memory_stays_flat(tmp_path):
    logdir = tmp_path / "logs"
    vectors = np.stack([np.arange(len(WORDS)), np.arange(len(WORDS)) % 3], axis=1).astype(np.float32)
    write_embedding(str(logdir / "run"), vectors, name="emb", metadata=WORDS)
    extra = ["--embedanalysis_cache_dir", str(tmp_path / "cache")]
    with running_tensorboard(logdir, extra_args=extra, with_process=True) as (base, process):
        cap = (_vm_kib(process.pid, "VmSize") << 10) + (3 << 30)
        resource.prlimit(process.pid, resource.RLIMIT_AS, (cap, cap))
        url = base + "/data/plugin/embedanalysis/search?run=run&embedding=emb&q="
        status, body = _get(url + urllib.parse.quote("caf"))  # warm up: load, imports, first compile
        assert status == 200 and body["total"] == 1, body
        rss_before = _vm_kib(process.pid, "VmRSS")
        answers = []
        for pattern in BOMBS:
            started = time.monotonic()
            try:
                status, body = _get(url + urllib.parse.quote(pattern))
            except OSError as error:  # the capped server died or hung up: that is the failure
                pytest.fail("pattern %r: no answer (%s); tensorboard exit code %s"
                            % (pattern, error, process.poll()))
            answers.append((pattern, status, body.get("error", ""), time.monotonic() - started))
        rss_after = _vm_kib(process.pid, "VmRSS")
    print("VmRSS before %.1f MB, after %.1f MB" % (rss_before / 1024, rss_after / 1024))
    print("\n".join("%r: %s in %.3f s" % (p, s, t) for p, s, _, t in answers))
    for pattern, status, message, elapsed in answers:
        assert status == 400 and "parameter 'q'" in message, (pattern, status, message)
        assert elapsed < 1.0, (pattern, elapsed)
    assert rss_after - rss_before <= 50 * 1024, (rss_before, rss_after)


def _search(pattern, words=WORDS, **options):
    total, rows = text_match.search([words], pattern, limit=1000, **options)
    assert total == len(rows)
    return [words[row] for row in rows]


CAPPED_SEARCH = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a regression fails, the machine lives
    from tb_embedanalysis.analysis import text_match
    for pattern in json.loads(sys.argv[1]):
        try:
            text_match.search([["abc"]], pattern, limit=10)
            print(json.dumps([pattern, None, False, ""]), flush=True)
        except Exception as error:
            print(json.dumps([pattern, type(error).__name__, isinstance(error, text_match.SearchTimeout),
                              str(error)]), flush=True)
""")


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_AS"), reason="needs RLIMIT_AS to run bombs safely")
def test_too_costly_patterns_raise_a_search_timeout_naming_q():
    # In a child capped at 3 GB: on a regression the bombs must not take pytest (or the machine) down.
    done = subprocess.run([sys.executable, "-c", CAPPED_SEARCH, json.dumps(BOMBS)], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r[0] for r in results] == BOMBS, done.stderr[-2000:]
    for pattern, error_type, is_search_timeout, message in results:
        # A SearchTimeout is what queries.search maps to a 400 InvalidArgument.
        assert error_type == "SearchTooCostly" and is_search_timeout, (pattern, error_type, message)
        assert "parameter 'q': search pattern" in message, message


@pytest.mark.parametrize("pattern, expected", [
    ("^3$", ["3"]),
    ("colou?r", ["colour", "color"]),
    ("gr[ae]y", ["gray", "grey"]),
    ("^(a|aa)+b$", ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"]),  # exponential for a backtracking engine
    ("(x+x+)+y", []),
    (r"\d", ["3", "13", "-0.5"]),
    ("x{1000}", []),
    ("x{60}", ["x" * 60]),
], ids=["anchors", "optional", "class", "nested-plus", "redos-no-match", "digit", "big-count", "count"])
def test_regex_search_matches_pythons_re(pattern, expected):
    assert _search(pattern) == expected
    if pattern != "(x+x+)+y":  # exponential for `re` on the 60 x's: it would never answer
        assert expected == [w for w in WORDS if re.search(pattern, w, re.IGNORECASE)]


@pytest.mark.parametrize("pattern, expected", [
    ("über", ["Über"]),
    ("STRASSE", []),  # simple case folding, like `re`: ß is not "ss"
    ("STRAßE", ["straße"]),
    ("CAFÉ", ["café"]),
    ("σίσυφος", ["ΣΊΣΥΦΟΣ"]),
    ("naÏve", ["naïve"]),
    ("KELVIN", ["Kelvin"]),
], ids=["umlaut", "sharp-s-not-ss", "sharp-s", "acute", "greek", "diaeresis", "ascii"])
def test_search_is_case_insensitive_on_unicode_text(pattern, expected):
    assert _search(pattern) == expected


@pytest.mark.parametrize("pattern, expected", [
    ("c++", ["c++"]),
    ("(paren", ["(paren"]),
    ("(", ["(paren"]),
    ("[", []),
    ("=cmd", ["=cmd"]),
], ids=["plus-plus", "open-paren-word", "open-paren", "open-bracket", "equals"])
def test_invalid_regex_is_searched_as_plain_text(pattern, expected):
    assert _search(pattern) == expected


def test_limit_keeps_the_first_rows_and_counts_all():
    total, rows = text_match.search([WORDS, WORDS], "r", limit=2)
    expected = [i for i, word in enumerate(WORDS) if "r" in word.lower()]
    assert total == len(expected) and rows == expected[:2]


def test_exhausted_time_budget_is_reported_naming_q():
    with pytest.raises(text_match.SearchTimeout, match=r"parameter 'q'"):
        text_match.search([WORDS], "a", limit=10, time_budget=0.0)
