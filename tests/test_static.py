"""The static route serves the package's own frontend files, never what a symlink points at.

A symlink placed inside the installed `frontend/` (by a careless packager, a shared
site-packages, a `pip install -e` checkout) must not turn the route into a file reader for
the rest of the disk. The package here is a real one on disk, imported like the plugin's.
"""

import os
import sys

import pytest

from tb_embedanalysis.plugin.static import StaticFiles


@pytest.fixture
def package(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.js").write_text("SECRET = 1;\n")
    (outside / "nested").mkdir()
    (outside / "nested" / "more.css").write_text("/* SECRET */\n")
    frontend = tmp_path / "site" / "fakeplugin" / "frontend"
    (frontend / "views").mkdir(parents=True)
    (tmp_path / "site" / "fakeplugin" / "__init__.py").write_text("")
    (frontend / "__init__.py").write_text("")
    (frontend / "index.js").write_text("export function render() {}\n")
    (frontend / "views" / "map.js").write_text("export const map = 1;\n")
    os.symlink(outside / "secret.js", frontend / "linked.js")  # a file link leaving the package
    os.symlink(outside / "nested", frontend / "linked_dir")  # a directory link leaving it
    os.symlink(frontend / "index.js", frontend / "alias.js")  # even a link that stays inside
    os.symlink(outside / "secret.js", frontend / "views" / "deep.js")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield "fakeplugin.frontend"
    for name in [n for n in sys.modules if n.startswith("fakeplugin")]:
        del sys.modules[name]


def test_symlinks_in_the_frontend_are_not_served(package):
    static = StaticFiles(package)
    assert static.names() == ["index.js", "views/map.js"]
    for name in ("linked.js", "linked_dir/more.css", "alias.js", "views/deep.js"):
        assert static.get(name) is None, name
    assert static.get("index.js") == (b"export function render() {}\n", "text/javascript")

