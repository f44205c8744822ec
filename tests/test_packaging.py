"""The wheel carries the frontend and registers the plugin; importing never pulls in TensorFlow."""

import pathlib
import json
import subprocess
import sys
import zipfile
from typing import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: build with the setuptools already installed, offline and fast.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    (path,) = out.glob("tb_embedanalysis-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_wheel_contains_every_frontend_file(wheel):
    names = set(wheel.namelist())
    frontend = [p for p in (ROOT / "frontend").rglob("*") if p.suffix in (".js", ".css")]
    assert frontend, "frontend/ has no files"
    for path in frontend:
        assert "tb_embedanalysis/frontend/%s" % path.relative_to(ROOT / "frontend").as_posix() in names


def test_wheel_contains_api_doc_and_demos(wheel):
    names = set(wheel.namelist())
    assert "tb_embedanalysis/http_api.md" in names
    assert "tb_embedanalysis/demo/__init__.py" in names


def test_wheel_registers_plugin_and_console_script(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[tensorboard_plugins]" in text
    assert "embedanalysis = tb_embedanalysis.plugin.loader:EmbedAnalysisLoader" in text
    assert "tb-embedanalysis = tb_embedanalysis.cli:main" in text


def test_installed_entry_point_resolves_to_the_loader():
    from importlib import metadata

    (entry,) = [e for e in metadata.entry_points(group="tensorboard_plugins") if e.name == "embedanalysis"]
    from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

    assert entry.load() is EmbedAnalysisLoader


@pytest.mark.parametrize("module", ["tb_embedanalysis", "tb_embedanalysis.logs", "tb_embedanalysis.plugin.plugin",
                                    "tb_embedanalysis.cli"])
def test_import_does_not_import_tensorflow(module):
    code = "import sys, %s; print('tensorflow' in sys.modules)" % module
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_wheel_installs_from_binary_wheels_only(tmp_path):
    """Issue 14: no dependency may need a compiler (hnswlib did: 65 s of C++ per install).

    pip resolves the built wheel and every dependency with `--only-binary :all:` in a fresh
    venv and reports what it would install: every item must be a wheel. `--dry-run` reads
    the wheels' metadata only, so the check costs seconds, not a 400 MB download (the
    import of an installed copy is what every other test does)."""
    out = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True)
    (wheel_path,) = out.glob("tb_embedanalysis-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    report = tmp_path / "report.json"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed",
                           "--only-binary", ":all:", "--report", str(report), str(wheel_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    items = json.loads(report.read_text())["install"]
    names = {item["metadata"]["name"].lower() for item in items}
    assert {"tb-embedanalysis", "tensorboard", "numpy", "scikit-learn", "google-re2", "opentsne"} <= names, names
    assert "hnswlib" not in names
    not_wheels = [item["download_info"]["url"] for item in items
                  if not item["download_info"]["url"].endswith(".whl")]
    assert not not_wheels, not_wheels
