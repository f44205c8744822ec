"""ARCHITECTURE.md is what the code does: one home per concept, imports that follow the layers.

Read from the source with `ast` (nothing is imported), so a new module, a new import or a
hand-written cache fails here with the file and line that broke the rule.
"""

import ast
import pathlib

import pytest

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


# -- imports follow the layers ----------------------------------------------------------------
def imported(tree):
    """(line, module) of every module a tree imports, function-level imports included;
    `from tb_embedanalysis.logs import errors` names the submodule tb_embedanalysis.logs.errors."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            folder = ROOT.joinpath(*node.module.split("."))
            for alias in node.names:
                submodule = folder / alias.name
                is_module = submodule.with_suffix(".py").is_file() or submodule.is_dir()
                yield node.lineno, node.module + "." + alias.name if is_module else node.module


def layer_of(module: str) -> str:
    """'analysis', 'logs', 'queries', 'plugin', 'writer', 'cli' (cli*.py), or the shared
    module's own name ('errors', 'cache', ...); third-party packages by their top-level name."""
    parts = module.split(".")
    if parts[0] != "tb_embedanalysis":
        return "third-party " + parts[0]
    if len(parts) == 1:
        return "package"
    return "cli" if parts[1].startswith("cli") else parts[1]


def module_name(relative: str) -> str:
    name = "tb_embedanalysis." + relative[:-3].replace("/", ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


# What each layer never imports (ARCHITECTURE.md: data flows logs -> analysis -> queries ->
# routes/cli; only the plugin knows HTTP; the routes and the CLI reach the engine, the store
# and the catalog only through `queries`, and neither imports the other).
NEVER = {
    "logs": {"analysis", "queries", "plugin", "cli", "catalog", "tags", "writer", "third-party werkzeug"},
    "analysis": {"logs", "queries", "plugin", "cli", "catalog", "tags", "writer", "third-party werkzeug",
                 "third-party tensorboard"},
    "queries": {"plugin", "cli", "writer", "third-party werkzeug", "third-party tensorboard"},
    "writer": {"logs", "queries", "plugin", "cli", "catalog", "tags"},
    "plugin": {"analysis", "catalog", "cache", "cli", "writer"},
    "cli": {"analysis", "catalog", "cache", "plugin", "writer", "third-party werkzeug"},
}
# plugin/ and cli*.py may name the logs layer only for its error types (mapped to 4xx / exit 2).
LOGS_ALLOWED_ABOVE = {"tb_embedanalysis.logs.errors"}


@pytest.mark.parametrize("layer", sorted(NEVER))
def test_imports_follow_the_layers(layer):
    broken = []
    for relative, tree in modules():
        if layer_of(module_name(relative)) != layer:
            continue
        for line, module in imported(tree):
            target = layer_of(module)
            if target in NEVER[layer]:
                broken.append("%s:%d imports %s" % (relative, line, module))
            elif layer in ("plugin", "cli") and target == "logs" and module not in LOGS_ALLOWED_ABOVE:
                broken.append("%s:%d imports %s (only its errors: the rest through queries)" % (relative, line, module))
    assert not broken, "\n".join(broken)
