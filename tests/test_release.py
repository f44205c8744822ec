"""Publishing is one command (`make dist`) and the version lives in one place (issue 24, item 5).

`make dist` runs `python -m build` and `twine check --strict`; the slow test here runs the
same two commands (offline: `--no-isolation` builds with the setuptools installed) and
looks inside what they made.
"""

import pathlib
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest
from packaging.requirements import Requirement

import tb_embedanalysis

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_version_is_written_once():
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert "version=VERSION" in setup and not re.search(r"version\s*=\s*['\"]", setup)
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", tb_embedanalysis.__version__)


def test_the_changelog_has_a_section_for_the_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(r"^## %s\b" % re.escape(tb_embedanalysis.__version__), changelog, re.M)


def test_make_dist_builds_and_checks():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ndist:", 1)[1].split("\n\n", 1)[0]
    assert "-m build" in recipe and "-m twine check --strict dist/*" in recipe


@pytest.mark.slow
def test_sdist_and_wheel_build_and_pass_twine_check(tmp_path):
    build = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    version = tb_embedanalysis.__version__
    (sdist,) = tmp_path.glob("*.tar.gz")  # tb_embedanalysis-V.tar.gz (setuptools < 69.3: tb-embedanalysis-V)
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == f"tb_embedanalysis-{version}-py3-none-any.whl"
    assert sdist.name in (f"tb_embedanalysis-{version}.tar.gz", f"tb-embedanalysis-{version}.tar.gz")
    assert len(list(tmp_path.iterdir())) == 2

    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode("utf-8")
        names = set(archive.namelist())
    assert f"\nVersion: {version}\n" in metadata
    assert "Provides-Extra: release" in metadata and "Provides-Extra: tf" in metadata
    assert "tb_embedanalysis/frontend/index.js" in names and "tb_embedanalysis/demo/digits.py" in names
    # TensorFlow only through an extra, and only as `tensorflow` (issue 24: `tensorflow-cpu`
    # is another distribution of the same files, which pip laid over a user's GPU build).
    requires = [Requirement(line.split(": ", 1)[1]) for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]
    tensorflow = [r for r in requires if r.name.lower().replace("_", "-") in ("tensorflow", "tensorflow-cpu",
                                                                           "tensorflow-gpu", "keras", "tf-keras")]
    assert tensorflow and all("extra ==" in str(r.marker) for r in tensorflow), tensorflow
    assert {r.name for r in tensorflow if 'extra == "tf"' in str(r.marker)} == {"tensorflow"}, tensorflow
    assert not [r for r in tensorflow if r.name == "tensorflow-cpu"], tensorflow
    with tarfile.open(sdist) as archive:  # the wheel was built from it, so it is complete
        assert f"{sdist.name[:-len('.tar.gz')]}/README.md" in archive.getnames()

    pytest.importorskip("twine", reason="twine comes with the [test] and [release] extras")
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
