"""Installing beside the user's TensorFlow leaves it alone (issue 24, item 5).

The user's environment is stood in for by distributions that hold only metadata (tests/
venvs.py): TensorFlow 2.15 as the GPU build `tensorflow` or as `tensorflow-cpu`, with
numpy 1.26.0 (TensorFlow 2.15 requires numpy < 2) and tensorboard 2.15.2. pip then
resolves our wheel as README.md says to install it, `-c` the environment's own versions
(`pip list --format=freeze`), and must plan to install no TensorFlow, no second TensorFlow
distribution, no other numpy and no other TensorBoard. (Without `-c`, pip 26 moves numpy,
for the newest scipy: to 1.26.4 with [tf], to 2.4.6 beside tensorflow-cpu, which TensorFlow
2.15 cannot import. pip does not weigh installed packages' requirements; hence the recipe.)
"""

import json

import pytest

from venvs import build_wheel, make_venv, pip_said, run, stand_in_wheel

TENSORFLOW_215 = ["numpy>=1.23.5,<2.0.0", "tensorboard>=2.15,<2.16"]
UNTOUCHABLE = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tf-keras", "keras", "numpy",
               "tensorboard"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
@pytest.mark.parametrize("tensorflow, extra", [
    ("tensorflow", "[tf]"),   # the GPU build, with our extra: its `tensorflow` is already there
    ("tensorflow-cpu", ""),   # another distribution: the README says to leave out [tf]
], ids=["tensorflow with [tf]", "tensorflow-cpu without [tf]"])
def test_the_readme_install_keeps_the_users_tensorflow(tmp_path, wheel, tensorflow, extra):
    python = make_venv(tmp_path / "venv")
    user = [stand_in_wheel(tmp_path / "user", tensorflow, "2.15.0", TENSORFLOW_215),
            stand_in_wheel(tmp_path / "user", "numpy", "1.26.0", []),
            stand_in_wheel(tmp_path / "user", "tensorboard", "2.15.2", [])]
    done = run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", *map(str, user)], timeout=120)
    assert done.returncode == 0, pip_said(done.stderr)

    keep = run([python, "-m", "pip", "list", "--format=freeze"], timeout=120)
    (tmp_path / "keep.txt").write_text(keep.stdout)
    report = tmp_path / "report.json"
    plan = run([python, "-m", "pip", "install", "--dry-run", "--only-binary", ":all:", "--report", str(report),
                "-c", str(tmp_path / "keep.txt"), f"{wheel}{extra}"], timeout=600)
    assert plan.returncode == 0, pip_said(plan.stdout + plan.stderr)
    planned = {item["metadata"]["name"].lower(): item["metadata"]["version"]
               for item in json.loads(report.read_text())["install"]}
    assert "tb-embedanalysis" in planned and "scikit-learn" in planned
    assert not UNTOUCHABLE & set(planned), {name: planned[name] for name in UNTOUCHABLE & set(planned)}
