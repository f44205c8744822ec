"""The linter and the type checker find nothing: ruff and mypy over the package, tests, demo
and bench, with the settings in pyproject.toml ([tool.ruff], [tool.mypy]).

Issue 23: a helper renamed in one module and still called by its old name in another shipped
a NameError on an error path that no test took; `ruff check` names it in a second. Both run
from the repository root, as a developer runs them, and fail with their whole report.
(tests/test_static.py is the static-files route, not this.)
"""

import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def _run(*command, timeout=600):
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _installed(tool):
    done = _run(tool, "--version", timeout=60)
    if done.returncode != 0:
        pytest.fail("%s is not installed in this environment: pip install -e .[test] (setup.py pins it)\n%s"
                    % (tool, done.stderr))
    return done.stdout


def test_ruff_finds_nothing():
    _installed("ruff")
    done = _run("ruff", "check", "--no-cache", "--output-format", "concise")
    assert done.returncode == 0, "ruff check found problems:\n%s%s" % (done.stdout, done.stderr)


def test_mypy_finds_nothing():
    _installed("mypy")
    done = _run("mypy")  # files and flags: [tool.mypy] in pyproject.toml
    assert done.returncode == 0, "mypy found problems:\n%s%s" % (done.stdout, done.stderr)


@pytest.mark.parametrize("tool", ["ruff", "mypy"])
def test_the_checker_is_the_pinned_release(tool):
    """Zero findings means the same on every machine only with the release setup.py pins
    (a new release adds rules and changes inference)."""
    pinned = re.search(r'"%s==([0-9.]+)"' % tool, (REPO / "setup.py").read_text())
    assert pinned, "setup.py's test extra pins no %s release" % tool
    version = re.search(r"\b(\d+\.\d+\.\d+)\b", _installed(tool))
    assert version and version.group(1) == pinned.group(1), (
        "%s %s is installed but setup.py pins %s: pip install -e .[test]"
        % (tool, version.group(1) if version else "?", pinned.group(1)))
