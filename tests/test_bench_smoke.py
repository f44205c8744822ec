"""Every bench script still runs: `bench/bench_*.py --smoke`, each in its own process.

A bench is only run by hand, at sizes that take minutes, so nothing else notices when it
stops working (bench_neighbors.py had five undefined names, issue 23). `--smoke` runs the
whole script at a tiny size in seconds; peers that are not in the test environment (faiss,
usearch, psutil: the `bench` extra) are skipped with a printed line. A new bench script is
picked up here by its name, so it needs a `--smoke` too.
"""

import os
import pathlib
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = sorted((REPO / "bench").glob("bench_*.py"))
CHROMIUM = "/usr/bin/chromium"
NEEDS_CHROMIUM = {"bench_million", "bench_tab_paint"}  # they open the tab in Chromium (playwright)
TIMEOUT_S = 300  # a smoke run takes seconds; this only stops a hung one


def _marks(script):
    marks = [pytest.mark.slow]
    if script.stem in NEEDS_CHROMIUM:
        marks += [pytest.mark.browser,
                  pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]
    return marks


@pytest.mark.parametrize("script", [pytest.param(s, id=s.stem, marks=_marks(s)) for s in SCRIPTS])
def test_bench_script_runs_with_smoke(script):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               TF_CPP_MIN_LOG_LEVEL="3")
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script), "--smoke"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    output = "%s\n--- stderr ---\n%s" % (done.stdout[-4000:], done.stderr[-4000:])
    print("%s --smoke: %.1f s" % (script.name, time.monotonic() - started))
    assert done.returncode == 0, output
    # A thread that died (a client, a sampler) prints its traceback without failing the exit code.
    assert "Traceback (most recent call last)" not in done.stdout + done.stderr, output
    assert done.stdout.strip(), "printed nothing: %s" % output


def test_every_bench_script_is_found():
    """The glob above sees the scripts (an empty parametrisation would pass silently)."""
    assert len(SCRIPTS) >= 12 and all(s.name.startswith("bench_") for s in SCRIPTS)
