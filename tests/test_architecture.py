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
                found.append("%s:%d %s" % (name, getattr(node, "lineno", 0), mark))
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
    "keras": {"logs", "queries", "plugin", "cli", "catalog", "tags"},
    "plugin": {"analysis", "catalog", "cache", "cli", "writer"},
    "cli": {"analysis", "catalog", "cache", "plugin", "writer", "third-party werkzeug"},
    # precompute/ asks the tab's questions through queries and cuts graphs with analysis/.
    "precompute": {"plugin", "cli", "catalog", "writer", "third-party werkzeug", "third-party tensorboard"},
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


# -- ARCHITECTURE.md's module table is the tree ----------------------------------------------
ROOTS = {"analysis", "logs", "queries", "plugin", "writer", "frontend", "demo", "precompute"}  # top folders the table names


def tree_files():
    """Every module the table must name: package .py files (relative to the package) and
    http_api.md; frontend .js files and demo .py files (relative to the repository)."""
    files = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    files.add("http_api.md")
    files |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "frontend").rglob("*.js")}
    files |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "demo").glob("*.py") if p.name != "__init__.py"}
    return files


def table_files():
    """Every file the table names: `a/b.py`, `c.py` in one cell are a/b.py and a/c.py; a
    folder row (`queries/`, `frontend/views/*.js`) names its files in its description, as
    `rules.py` or as `selector` (a stem)."""
    import re

    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("## Layers and modules", 1)[1].split("\n## ", 1)[0]
    named = set()
    for row in table.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        tokens = [t for t in re.findall(r"`([^`]+)`", cells[1]) if re.fullmatch(r"[\w/*]+(\.(py|js|md)|/)", t)]
        first = tokens[0]
        folder = first.rsplit("/", 1)[0] if "/" in first else ""
        for token in tokens:
            if token.endswith("/") or "*" in token:  # a folder row: its files are in the description
                base, _, pattern = token.rstrip("/").partition("/*")
                words = re.findall(r"`([^`]+)`", cells[2])
                if pattern:  # `frontend/views/*.js`: stems
                    named |= {"%s/%s%s" % (base, w, pattern) for w in words if re.fullmatch(r"[a-z_]+", w)}
                else:  # `queries/`, `demo/`: file names
                    named |= {"%s/%s" % (base, w) for w in words if re.fullmatch(r"[a-z_]+\.py", w)}
            elif "/" in token and token.split("/", 1)[0] in ROOTS:
                named.add(token)
            else:
                named.add("%s/%s" % (folder, token) if folder else token)
    return named


def test_architecture_names_every_module_and_only_modules_that_exist():
    named, present = table_files(), tree_files()
    assert not named - present, "ARCHITECTURE.md names modules that do not exist: %s" % sorted(named - present)
    assert not present - named, "modules missing from ARCHITECTURE.md: %s" % sorted(present - named)


def defined_names(tree) -> set:
    """Module-level functions, classes and assignments of a tree."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_the_name_a_row_starts_with_is_defined_in_its_module():
    """`plugin/loader.py` | `EmbedAnalysisLoader` ...: a row about one module that starts with
    a name names something that module defines (the table said `TBLoader`, TensorBoard's)."""
    import re

    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("## Layers and modules", 1)[1].split("\n## ", 1)[0]
    wrong, checked = [], 0
    for row in table.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) != 3:
            continue
        modules_named = re.findall(r"`([\w/]+\.py)`", cells[1])
        first = re.match(r"`([A-Za-z_]\w*)[`(.]", cells[2])  # `Name`, `name()`, `Name.method`
        if len(modules_named) != 1 or modules_named[0].startswith("demo/") or first is None:
            continue
        tree = ast.parse((PACKAGE / modules_named[0]).read_text(encoding="utf-8"))
        checked += 1
        if first.group(1) not in defined_names(tree):
            wrong.append("%s: `%s` is not defined there" % (modules_named[0], first.group(1)))
    assert checked > 10 and not wrong, "\n".join(wrong)
