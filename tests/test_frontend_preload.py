"""frontend/index.js preloads every file of the tab, and its list is the import graph's.

The entry module lists the files it preloads (so the browser fetches them at once instead of
one import level at a time, issue 25 item 4). A hand-kept list drifts: a module added and not
listed still works, only later. So the list must equal the transitive import closure of
app.js and style.css, computed here from the files themselves: static `import`/`export …
from`, `import('…')` (a template literal `import(`./panels/${name}.js`)` stands for every file
its pattern matches, as bundlers read it), CSS `@import`. What the browser actually does with
the list is tests/test_browser_preload.py's.
"""

import pathlib
import posixpath
import re
from typing import Dict, List, Set

import pytest

FRONTEND = pathlib.Path(__file__).resolve().parent.parent / "frontend"
ROOTS = ("app.js", "style.css")  # what index.js imports and links

_STATIC = re.compile(r"""(?:^|[;}\n])\s*(?:import|export)\s+(?:[\w*{}\s,$]+?\s+from\s+)?(['"])([^'"\n]+)\1""")
_DYNAMIC = re.compile(r"""\bimport\(\s*(['"`])([^'"`\n]+)\1\s*\)""")
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?(['"])([^'"\n]+)\1""")
_TEMPLATE_HOLE = re.compile(r"\\\$\\\{[^}]*\\\}")  # ${…} after re.escape


def specifiers(name: str, text: str) -> List[str]:
    """The module or stylesheet specifiers one file imports, as written."""
    if name.endswith(".css"):
        return [m.group(2) for m in _CSS_IMPORT.finditer(text)]
    return [m.group(2) for m in _STATIC.finditer(text)] + [m.group(2) for m in _DYNAMIC.finditer(text)]


def resolve(importer: str, specifier: str, files: Set[str]) -> Set[str]:
    """The files (relative to the folder) a specifier names; a template matches by pattern."""
    path = posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))
    if "${" not in path:
        return {path}
    pattern = re.compile(_TEMPLATE_HOLE.sub("[^/]+", re.escape(path)) + r"\Z")
    return {f for f in files if pattern.match(f)}


def closure(sources: Dict[str, str], roots=ROOTS) -> Set[str]:
    """Every file reachable from `roots` through imports; `sources`: name → text."""
    seen: Set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        assert name in sources, "%s is imported but is not a file of the frontend" % name
        seen.add(name)
        for specifier in specifiers(name, sources[name]):
            todo.extend(resolve(name, specifier, set(sources)))
    return seen


def listed(index_text: str) -> List[str]:
    """index.js's FILES, in its order."""
    found = re.search(r"const FILES = \[(.*?)\];", index_text, re.S)
    assert found, "index.js has no `const FILES = [...]`"
    return re.findall(r"'([^']+)'", found.group(1))


def frontend_sources(root: pathlib.Path = FRONTEND) -> Dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in root.rglob("*") if p.suffix in (".js", ".css")}


def drift(sources: Dict[str, str]) -> List[str]:
    """What is wrong with index.js's list against the closure, as sentences (empty: nothing)."""
    files = listed(sources["index.js"])
    wanted = closure(sources)
    problems = []
    if set(files) - wanted:
        problems.append("index.js preloads files nothing imports: %s" % sorted(set(files) - wanted))
    if wanted - set(files):
        problems.append("index.js does not preload %s (they would load a round trip late)" % sorted(wanted - set(files)))
    if files != sorted(set(files)):
        problems.append("index.js's FILES is not sorted without repeats; it should read %s" % sorted(set(files)))
    return problems


def test_index_preloads_exactly_the_import_closure():
    problems = drift(frontend_sources())
    assert not problems, "\n".join(problems) + "\nThe closure: %s" % sorted(closure(frontend_sources()))


def test_every_frontend_file_is_reached():
    """Else either a file is dead or an import form this parser misses (then the test above
    would pass on a list that is short)."""
    sources = frontend_sources()
    unreached = set(sources) - closure(sources) - {"index.js"}
    assert not unreached, "no import reaches %s" % sorted(unreached)


def test_the_entry_imports_nothing_statically():
    """A static import would be fetched, and waited for, before the preloads are added."""
    text = (FRONTEND / "index.js").read_text(encoding="utf-8")
    assert [s for s in specifiers("index.js", text) if s not in ("./app.js",)] == []
    assert not re.search(r"^\s*import\s", text, re.M), "index.js has a static import"


# -- the checker itself: each import form is seen, and a drifted list is named ---------------
FORMS = {
    "app.js": "import * as api from './api.js';\nimport {\n  a,\n  b as c,\n} from './multi.js';\n"
              "import './side.js';\nexport {x} from './reexport.js';\n"
              "const m = import('./lazy.js');\nconst p = (n) => import(`./panels/${n}.js`);\n",
    "api.js": 'import {y} from "./util.js";\n',
    "util.js": "", "multi.js": "", "side.js": "", "reexport.js": "", "lazy.js": "",
    "panels/one.js": "import {z} from '../views/deep.js';", "panels/two.js": "", "views/deep.js": "",
    "style.css": '@import url("./select.css");', "select.css": "",
}


def test_the_closure_follows_every_import_form():
    assert closure(FORMS) == set(FORMS)
    assert closure({**FORMS, "unused.js": ""}) == set(FORMS)


def test_an_import_outside_the_folder_is_refused():
    with pytest.raises(AssertionError, match=r"\.\./up\.js is imported but is not a file"):
        closure({**FORMS, "util.js": "import '../up.js';"})


@pytest.mark.parametrize("change", ["none", "missing", "extra", "unsorted"])
def test_a_drifted_list_is_named(change):
    files = sorted(closure(FORMS))
    if change == "missing":
        files.remove("panels/two.js")
    elif change == "extra":
        files = sorted(files + ["unused.js"])
    elif change == "unsorted":
        files.reverse()
    problems = drift({**FORMS, "index.js": "const FILES = [\n  %s,\n];\n" % ", ".join("'%s'" % f for f in files)})
    expected = {"none": None, "missing": "does not preload ['panels/two.js']",
                "extra": "nothing imports: ['unused.js']", "unsorted": "is not sorted"}[change]
    assert problems == [] if expected is None else (len(problems) == 1 and expected in problems[0]), problems
