"""ARCHITECTURE.md is what the code does: one home per concept, imports that follow the layers.

Read from the source with `ast` (nothing is imported), so a new module, a new import or a
hand-written cache fails here with the file and line that broke the rule.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tb_embedanalysis"


def modules():
    """(path relative to the package, parsed tree) of every package module."""
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"), str(path))


# -- one home per concept ---------------------------------------------------------------------
LRU_MARKS = {"OrderedDict", "lru_cache", "move_to_end", "popitem"}


def test_cache_py_is_the_one_lru():
    """Every in-memory cache is a cache.ResultCache; a second hand-written LRU (an
    OrderedDict with move_to_end/popitem, functools.lru_cache) is a second home."""
    found = []
    for name, tree in modules():
        if name == "cache.py":
            continue
        for node in ast.walk(tree):
            mark = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if mark in LRU_MARKS:
                found.append("%s:%d %s" % (name, node.lineno, mark))
    assert not found, "hand-written LRUs outside cache.py: %s" % ", ".join(found)
