"""Fresh virtual environments for the install tests (test_install_floors.py,
test_install_beside_tensorflow.py): our wheel, a venv with a current pip, commands run in
it, pip's messages shortened, and stand-in distributions for what a user has installed."""

import base64
import hashlib
import os
import pathlib
import subprocess
import sys
import zipfile
from typing import Dict, List, Sequence

ROOT = pathlib.Path(__file__).resolve().parents[1]


def build_wheel(out: pathlib.Path) -> pathlib.Path:
    """Our wheel, built with the setuptools installed here (offline, seconds)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, timeout=300)
    (wheel,) = out.glob("tb_embedanalysis-*.whl")
    return wheel


def run(command: Sequence[str], **kwargs) -> "subprocess.CompletedProcess[str]":
    """A command for a venv of these tests. Without our PYTHONPATH: pointed at the repository,
    it would make pip see tb-embedanalysis as installed already (the egg-info pip wheel left)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(list(command), capture_output=True, text=True, env=env, **kwargs)


def pip_said(text: str) -> str:
    """What pip said went wrong: its conflict explanation if it has one, else its last lines
    (without notices about index locations: a pip.conf's, not ours)."""
    lines = [line for line in text.splitlines() if not line.startswith("WARNING: Location")]
    starts = [i for i, line in enumerate(lines) if line.startswith("The conflict is caused by")]
    if starts:
        lines = lines[starts[-1]:]
    return "\n".join(lines)[-3000:]


def make_venv(path: pathlib.Path, python: str = sys.executable) -> str:
    """A new venv at `path` with a current pip; returns its python. The pip bundled with the
    interpreter can be old: pip < 24 lists versions without a wheel in `pip index versions
    --only-binary` (numpy 1.23.0 on Python 3.11)."""
    subprocess.run([python, "-m", "venv", str(path)], check=True, timeout=300)
    venv_python = str(path / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))
    upgrade = run([venv_python, "-m", "pip", "install", "-q", "--upgrade", "pip>=24"], timeout=300)
    assert upgrade.returncode == 0, pip_said(upgrade.stderr)
    return venv_python


def stand_in_wheel(out: pathlib.Path, name: str, version: str, requires: List[str]) -> pathlib.Path:
    """A wheel holding only the metadata of `name` `version` (its Requires-Dist included):
    installed, pip sees that distribution as it would see the real one."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{name.replace('-', '_')}-{version}"
    files: Dict[str, bytes] = {
        f"{stem}.dist-info/METADATA": "".join(
            [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"] + [f"Requires-Dist: {r}\n" for r in requires]
        ).encode(),
        f"{stem}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        "%s,sha256=%s,%d\n" % (path, base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(),
                               len(data))
        for path, data in files.items()
    ) + f"{stem}.dist-info/RECORD,,\n"
    files[f"{stem}.dist-info/RECORD"] = record.encode()
    wheel = out / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel
