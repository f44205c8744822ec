"""Serve the frontend's files from the installed package, and nothing else.

The set of servable files is fixed at start-up by listing the package's `frontend`
resources; a request path is only ever a key into that dict, never joined to a directory,
so `..`, encoded slashes, backslashes and absolute paths simply find nothing. Symlinks in
the listing are skipped, files and directories alike, even ones pointing inside: a link
left in an installed or editable `frontend/` would otherwise serve whatever it points at.
"""

import importlib.resources
import mimetypes
from typing import Dict, Optional, Tuple

_CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".html": "text/html",
}


def _is_symlink(resource) -> bool:
    # Resources from a zip or another loader are not paths and cannot be links.
    is_symlink = getattr(resource, "is_symlink", None)
    return bool(is_symlink and is_symlink())


def _walk(node, prefix=""):
    for child in node.iterdir():
        name = prefix + child.name
        if _is_symlink(child):
            continue
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, name + "/")
        elif not child.name.endswith((".py", ".pyc")):
            yield name, child


class StaticFiles:
    """An allow-list of frontend files, read once."""

    def __init__(self, package: str = "tb_embedanalysis.frontend"):
        root = importlib.resources.files(package)
        self._files: Dict[str, Tuple[bytes, str]] = {}
        for name, resource in _walk(root):
            suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
            content_type = _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0]
            if content_type:
                self._files[name] = (resource.read_bytes(), content_type)

    def names(self):
        return sorted(self._files)

    def get(self, name: str) -> Optional[Tuple[bytes, str]]:
        return self._files.get(name)
