"""The lowest versions setup.py declares really work (issue 24, item 5).

A floor that is not true breaks installs beside older packages: `scikit-learn>=1.3` could
not be installed with umap-learn 0.5.12 (which needs 1.6), and tensorboard 2.14.0 does not
declare `six`, which it imports. So a fresh venv gets the package with every requirement of
`install_requires` pinned to its floor (a constraints file generated from setup.py, no
[tf]) and runs tests/floors_smoke.py there: the writer, the CLI and every analysis route
through TensorBoard's WSGI app. Transitive dependencies are whatever pip picks beside them.

A floor with no wheel for this interpreter (numpy 1.23.0 has none for Python 3.11) is
replaced by its lowest release that has one, and the test says so: the floor itself is
checked on an older Python with TB_EMBEDANALYSIS_FLOORS_PYTHON=/path/to/python3.9.
Only wheels are installed (`--only-binary :all:`, as test_packaging.py requires).
"""

import ast
import concurrent.futures
import os
import pathlib
import sys
import time
from typing import Dict, List

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from venvs import build_wheel, make_venv, pip_said, run

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMOKE = pathlib.Path(__file__).resolve().parent / "floors_smoke.py"


def install_requires() -> List[str]:
    """setup.py's install_requires, read from its syntax tree (nothing executed)."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no install_requires")


def floors() -> Dict[str, Version]:
    """Requirement name -> the version of its `>=` specifier."""
    out = {}
    for text in install_requires():
        requirement = Requirement(text)
        lows = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert len(lows) == 1, f"{text!r}: every requirement needs one '>=' floor, the lowest version tested"
        out[requirement.name] = lows[0]
    return out


def test_every_requirement_has_a_floor_and_the_known_ones_hold():
    declared = floors()
    assert set(declared) == {Requirement(t).name for t in install_requires()}
    # Found by installing them (issue 24): umap-learn 0.5.12 requires scikit-learn>=1.6;
    # tensorboard 2.14.0 imports six without requiring it; Image.Resampling is Pillow 9.1's.
    assert declared["scikit-learn"] >= Version("1.6")
    assert declared["tensorboard"] >= Version("2.14.1")
    assert declared["pillow"] >= Version("9.1")


def _lowest_wheel(python: str, name: str, floor: Version) -> Version:
    """The lowest release >= floor with a wheel this interpreter can install (pip's view)."""
    done = run([python, "-m", "pip", "index", "versions", name, "--only-binary", ":all:"], timeout=180)
    assert done.returncode == 0, pip_said(done.stderr)
    (line,) = [row for row in done.stdout.splitlines() if row.startswith("Available versions:")]
    versions = [Version(v.strip()) for v in line.split(":", 1)[1].split(",")]
    usable = [v for v in versions if v >= floor]
    assert usable, f"{name}: no release >= {floor} has a wheel for {python}"
    return min(usable)


@pytest.mark.slow
def test_lowest_declared_versions_install_and_work(tmp_path):
    python = os.environ.get("TB_EMBEDANALYSIS_FLOORS_PYTHON", sys.executable)
    wheel = build_wheel(tmp_path / "wheel")
    venv_python = make_venv(tmp_path / "venv", python)

    # One `pip index versions` per requirement, side by side: each is a second of pip's start
    # and then a wait on the index, ~2 s one after the other (20 s for the ten).
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        lowest = {name: pool.submit(_lowest_wheel, venv_python, name, floor) for name, floor in floors().items()}
        pins = {name: future.result() for name, future in lowest.items()}
    substituted = {name: f"{floors()[name]} -> {pin}" for name, pin in pins.items() if pin != floors()[name]}
    print("floors pinned:", {name: str(pin) for name, pin in pins.items()}, "no wheel at the floor:", substituted)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("".join(f"{name}=={pin}\n" for name, pin in pins.items()))

    started = time.monotonic()
    install = run([venv_python, "-m", "pip", "install", "--only-binary", ":all:", "-c", str(constraints), str(wheel)],
                   timeout=900)
    (tmp_path / "install.log").write_text(install.stdout + install.stderr)
    assert install.returncode == 0, pip_said(install.stdout + install.stderr)
    installed = time.monotonic()
    check = run([venv_python, "-m", "pip", "check"], timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr

    smoke = run([venv_python, str(SMOKE), str(tmp_path)], timeout=600, cwd=tmp_path)
    assert smoke.returncode == 0, (smoke.stdout + smoke.stderr)[-4000:]
    assert "smoke test passed" in smoke.stdout
    print(f"install {installed - started:.0f} s, smoke test {time.monotonic() - installed:.0f} s")
