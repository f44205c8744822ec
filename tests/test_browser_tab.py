"""The Embedding Analysis tab as a person sees it: real TensorBoard, real Chromium.

One TensorBoard process serves a logdir written by our writer (digits with a sprite at two
steps, a word embedding without sprite, a label that is an HTML string, an embedding whose
metadata has a row too few); each test opens the tab in a fresh page and asserts on what
is on screen. Screenshots land in test-artifacts/ (git-ignored) for a human to look at.

Chromium is Debian's (/usr/bin/chromium), driven by playwright's sync API; we never run
`playwright install`.
"""

import contextlib
import json
import os
import pathlib
import urllib.request
from typing import List

import numpy as np
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

from chromium_launch import CHROMIUM, CHROMIUM_ARGS, launch  # noqa: E402,F401  (tests/ helper; re-exported)
from tensorboard_process import running_tensorboard, serving  # noqa: E402  (tests/ helper)

pytestmark = pytest.mark.browser

ARTIFACTS = pathlib.Path(__file__).resolve().parent.parent / "test-artifacts"
XSS = "<img src=x onerror=alert(1)>"
WORDS = {
    "directors": ["hitchcock", "spielberg", "kubrick", "scorsese", "tarantino", "nolan"],
    "praise": ["brilliant", "masterpiece", "superb", "excellent", "wonderful", "great"],
    "scorn": ["awful", "terrible", "boring", "dreadful", "horrible", "worst"],
}
TIMEOUT_MS = 60_000

if not os.path.exists(CHROMIUM):  # pragma: no cover - environment without the browser
    pytest.skip("Debian's chromium is not installed (make chromium)", allow_module_level=True)


# -- logs ------------------------------------------------------------------------------
def _digits():
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    digits = load_digits()
    x = digits.data.astype(np.float64)
    rng = np.random.default_rng(0)
    early = PCA(n_components=16, random_state=0).fit_transform(x + rng.normal(scale=4.0, size=x.shape))
    lda = LinearDiscriminantAnalysis(n_components=9).fit_transform(x, digits.target)
    late = np.hstack([lda * 4.0, PCA(n_components=7, random_state=0).fit_transform(x) * 0.05])
    # Early logits are small, late ones large (as in training): the two steps' maps have
    # very different scales, which the map must fit afresh when the step changes.
    return digits, (early * 0.05).astype(np.float32), late.astype(np.float32)


def write_logs(root: pathlib.Path):
    from tb_embedanalysis import write_embedding

    digits, early, late = _digits()
    labels = [str(t) for t in digits.target]
    images = (digits.images / 16.0).astype(np.float32)
    for step, vectors in ((100, early), (2000, late)):
        write_embedding(root / "digits", vectors, name="digits", step=step,
                        metadata={"Index": [str(i) for i in range(len(labels))], "Label": labels},
                        images=images, invert_images=True)

    rng = np.random.default_rng(1)
    tokens, rows = [], []
    centres = rng.normal(size=(len(WORDS), 24)) * 3
    for centre, group in zip(centres, WORDS.values()):
        for word in group:
            tokens.append(word)
            rows.append(centre + rng.normal(scale=0.3, size=24))
    for i in range(300):  # filler vocabulary far from the groups
        tokens.append("word%03d" % i)
        rows.append(rng.normal(size=24) * 3)
    write_embedding(root / "words", np.asarray(rows, np.float32), name="words", metadata=tokens)

    # A label that is HTML: it must show as text everywhere, never run.
    x = rng.normal(size=(90, 8)).astype(np.float32)
    x[:30] += 6
    x[30:60] -= 6
    xss_labels = [XSS] * 30 + ["plain"] * 30 + ["<b>bold</b>"] * 30
    write_embedding(root / "html", x, name="html_labels",
                    metadata={"Token": ["t%d" % i for i in range(90)], "Label": xss_labels})

    # A truncated tensor file: /runs lists the embedding with `error` set. (Metadata with a
    # row too few only costs the labels since issue 15: the vectors stay usable.)
    written = write_embedding(root / "broken", rng.normal(size=(40, 4)).astype(np.float32), name="broken",
                              metadata={"Token": ["b%d" % i for i in range(40)], "Label": [str(i % 2) for i in range(40)]})
    path = pathlib.Path(written.tensor_path)
    path.write_bytes(path.read_bytes()[:-16])


# -- fixtures --------------------------------------------------------------------------
# Fixtures are named with `name=` (pytest's idiom) so that modules importing them do not
# shadow an imported name with the test parameter that receives it (ruff F811).
@pytest.fixture(scope="module", name="tensorboard_url")
def tensorboard_url_fixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    write_logs(root / "logs")
    with serving(root) as base:
        yield base


@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    with playwright_sync.sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


def find_frame(page):
    """TensorBoard's iframe of our tab. page.frames may not list it yet; its element always knows it."""
    handle = page.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]', state="attached",
                                    timeout=TIMEOUT_MS)
    frame = handle.content_frame()
    assert frame is not None, "the embedanalysis iframe has no document"
    return frame


def open_frame(page, base, state=""):
    """The tab opened in TensorBoard at `base` with `state` (the `ea=` value, URL-encoded);
    its iframe's Frame, once the tab's document has loaded (not yet drawn anything)."""
    hash_ = "#embedanalysis" + ("&ea=" + state if state else "")
    if not page.url.startswith(base + "/#embedanalysis"):
        page.goto(base + "/" + hash_)
        return find_frame(page)
    # TensorBoard already shows the tab in this page (a module's shared page): a new document
    # in its iframe (~0.5-1 s) instead of TensorBoard's own start (~2 s more a test). The
    # state goes where a bookmark puts it, the parent's `ea=` (TensorBoard's router is not
    # told: the start from a bookmark's URL is a page load, test_state_survives_reload's).
    page.evaluate("h => history.replaceState(history.state, '', location.pathname + location.search + h)", hash_)
    find_frame(page).evaluate("() => { window.__previousTab = true;"  # the iframe's own hash would win over `ea=`
                              " history.replaceState(null, '', location.pathname + location.search);"
                              " setTimeout(() => location.reload(), 0); }")
    frame = find_frame(page)
    frame.wait_for_function("() => !window.__previousTab && document.readyState !== 'loading'", timeout=TIMEOUT_MS)
    return frame


class Tab:
    """A page showing our tab; `frame` is the plugin's iframe; `dialogs` records alerts."""

    def __init__(self, page, base):
        self.page = page
        self.base = base
        self.dialogs: List[str] = []
        self.errors: List[str] = []

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self._listeners = [("dialog", on_dialog), ("pageerror", lambda error: self.errors.append(str(error)))]
        for event, listener in self._listeners:
            page.on(event, listener)

    def open(self, state=""):
        self.frame = open_frame(self.page, self.base, state)
        self.frame.wait_for_selector(".topbar", timeout=TIMEOUT_MS)
        return self

    def _find_frame(self):
        return find_frame(self.page)

    def close(self):
        """Takes this Tab's listeners off its page (a module's shared page outlives it)."""
        for event, listener in self._listeners:
            self.page.remove_listener(event, listener)

    def select(self, name, value):
        self.frame.select_option("select[name=%s]" % name, value)

    def choose(self, run, embedding):
        self.select("run", run)
        self.select("embedding", embedding)

    def shot(self, name, height=2400):
        # The tab scrolls inside its iframe, so a full-page shot would show one screenful:
        # make the window tall enough for the whole tab, then restore it.
        ARTIFACTS.mkdir(exist_ok=True)
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": size["width"], "height": height})
        self.page.wait_for_timeout(400)
        self.page.screenshot(path=str(ARTIFACTS / ("%s.png" % name)))
        self.page.set_viewport_size(size)


@contextlib.contextmanager
def checked_page(browser, *, timeout_ms=TIMEOUT_MS, **context_options):
    """A page in a context of its own (1400 x 1000 unless said otherwise); an uncaught error
    in it fails the test when the page closes."""
    context = browser.new_context(**{"viewport": {"width": 1400, "height": 1000}, **context_options})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    errors: List[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


@pytest.fixture(scope="module", name="shared_page")
def shared_page_fixture(browser):
    """One page (1400 x 1000) for a module's `tab` tests: TensorBoard starts in it once, and
    each test's Tab.open loads a new document of the tab in TensorBoard's iframe."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@contextlib.contextmanager
def one_test_on(page, width=1400, height=1000):
    """The module's shared page for one test (its viewport width x height); afterwards no
    route or listener of the test is left on it, and an uncaught error in it fails the test."""
    page.set_viewport_size({"width": width, "height": height})
    errors: List[str] = []

    def on_error(error):
        errors.append(str(error))

    page.on("pageerror", on_error)
    try:
        yield page
    finally:
        page.unroute_all(behavior="ignoreErrors")
        page.remove_listener("pageerror", on_error)
    assert errors == []


@contextlib.contextmanager
def shared_tab(page, base):
    """A Tab on the module's shared page (one_test_on)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with one_test_on(page):
        tab = Tab(page, base)
        try:
            yield tab
        finally:
            tab.close()


@pytest.fixture(name="tab")
def tab_fixture(shared_page, tensorboard_url):
    with shared_tab(shared_page, tensorboard_url) as tab:
        yield tab


def runs_answer(base):
    with urllib.request.urlopen(base + "/data/plugin/embedanalysis/runs", timeout=60) as response:
        return json.loads(response.read())


# -- tests -----------------------------------------------------------------------------
def test_typed_word_lists_its_neighbours(tab):
    tab.open()
    tab.choose("words", "words")
    tab.frame.fill("input[name=query]", "hitchcock")
    tab.frame.press("input[name=query]", "Enter")
    rows = tab.frame.locator(".neighbor-list .point-row")
    rows.first.wait_for()
    assert tab.frame.locator(".query-title").text_content() == "hitchcock"
    first_five = [rows.nth(i).locator(".point-text").text_content() for i in range(5)]
    assert sorted(first_five) == sorted(WORDS["directors"][1:])
    # A neighbour is itself clickable: walk the neighbourhood.
    rows.nth(0).click()
    # While the next answer loads the list may show a progress bar instead (no title).
    tab.frame.wait_for_function("(document.querySelector('.query-title')?.textContent ?? 'hitchcock') !== 'hitchcock'")
    assert tab.frame.locator(".query-title").text_content() in WORDS["directors"]
    tab.shot("words_neighbours")


def test_word_embedding_without_labels_explains_what_is_missing(tab):
    tab.open()
    tab.choose("words", "words")
    text = tab.frame.locator(".card-clusters").inner_text()
    assert "write_embedding" in text and "README" in text


def test_cluster_table_has_one_sortable_row_per_label(tab):
    tab.open()
    tab.choose("digits", "digits")
    table = tab.frame.locator(".cluster-table")
    table.wait_for()
    labels = sorted(table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.label)"), key=int)
    assert labels == [str(i) for i in range(10)]
    tab.frame.click(".cluster-table th[data-key=count] button")
    header = tab.frame.locator(".cluster-table th[data-key=count]")
    assert header.get_attribute("aria-sort") in ("ascending", "descending")
    counts = [int(c.replace(",", "")) for c in table.locator("tbody tr td:nth-child(2)").all_text_contents()]
    assert counts == sorted(counts, reverse=header.get_attribute("aria-sort") == "descending")
    assert tab.frame.locator(".figure").count() >= 4
    csv_link = tab.frame.locator(".card-clusters a.export-link", has_text="CSV").evaluate("a => a.href")
    with urllib.request.urlopen(csv_link, timeout=60) as response:
        lines = response.read().decode("utf-8").splitlines()
    assert lines[0].startswith("label") and len(lines) == 11
    tab.shot("digits_overview")


def test_confusion_cell_click_lists_exactly_its_points(tab):
    tab.open()
    tab.choose("digits", "digits")
    tab.select("step", "100")  # the early, less separated step has confusions
    tab.frame.locator(".cm-cell").first.wait_for()
    cells = tab.frame.locator(".cm-cell:not(.diag):not(.zero)")
    assert cells.count() > 0
    cell = cells.first
    given, voted, count = cell.get_attribute("data-label"), cell.get_attribute("data-predicted"), int(cell.get_attribute("data-count"))
    cell.click()
    title = tab.frame.locator(".card-hard .card-title")
    title.filter(has_text="voted").wait_for()
    cards = tab.frame.locator(".hard-card")
    cards.first.wait_for()
    assert cards.count() == min(count, 24)
    chips = tab.frame.locator(".hard-card .hard-labels").evaluate_all(
        "nodes => nodes.map(n => [...n.querySelectorAll('.chip-text')].map(c => c.textContent))")
    assert all(pair == [given, voted] for pair in chips)
    assert ("of %d" % count) in tab.frame.locator(".card-hard .pager-text").text_content()
    tab.shot("confusion_click")


def test_hard_example_gallery_loads_thumbnails_and_exports(tab):
    tab.open()
    tab.choose("digits", "digits")
    tab.select("step", "100")
    cards = tab.frame.locator(".hard-card")
    cards.first.wait_for()
    tab.frame.wait_for_function(
        "[...document.querySelectorAll('.hard-card img')].length > 0 && "
        "[...document.querySelectorAll('.hard-card img')].every(img => img.complete && img.naturalWidth > 0)")
    first = cards.first.inner_text()
    assert "neighbours:" in first and "→" in first
    hrefs = tab.frame.locator(".card-hard a.export-link").evaluate_all("links => links.map(a => a.href)")
    assert any("format=csv" in h and "what=hard_examples" in h for h in hrefs)
    with urllib.request.urlopen(hrefs[0], timeout=60) as response:
        assert response.status == 200
        assert "index" in response.read().decode("utf-8").splitlines()[0]


def test_map_is_drawn_and_a_click_selects_a_point(tab):
    tab.open()
    tab.choose("digits", "digits")
    canvas = tab.frame.locator(".scatter-canvas")
    # Painted, then recoloured once the per-point labels arrived (and one more frame drawn).
    tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden && window.__embedanalysis.marks.mapLabels")
    painted = canvas.evaluate("""c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; const colours = new Set();
        for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) { n++; colours.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]); }
        return {n, colours: colours.size};
    }""")
    assert painted["n"] > 2000 and painted["colours"] >= 10
    assert tab.frame.locator(".legend-item").count() == 10
    # Click the point the plot says is at index 42 → its neighbours are listed.
    pos = tab.frame.evaluate("""() => { const p = window.__embedanalysis.app.panels.map.plot; const s = p.screenPosition(42);
        const r = p.canvas.getBoundingClientRect(); return {x: r.left + s.x, y: r.top + s.y}; }""")
    box = tab.page.locator("iframe").first.bounding_box()
    tab.page.mouse.move(box["x"] + pos["x"], box["y"] + pos["y"])
    tab.frame.locator(".map-tooltip:not([hidden])").wait_for()
    tab.page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    tab.frame.locator(".neighbor-list .point-row").first.wait_for()
    selected = int(tab.frame.locator(".query-head .index").text_content().lstrip("#"))
    near = tab.frame.evaluate("""i => { const p = window.__embedanalysis.app.panels.map.plot;
        const a = p.screenPosition(i), b = p.screenPosition(42); return Math.hypot(a.x - b.x, a.y - b.y); }""", selected)
    assert near < 8  # the clicked point, or one drawn on top of it
    tab.shot("map_selected")


def test_changing_step_fits_the_new_map_to_the_canvas(tab):
    """Regression: another step's map has another scale; keeping the old zoom drew it as a speck."""
    tab.open()
    tab.choose("digits", "digits")
    fitted = """() => { const p = window.__embedanalysis.app.panels.map.plot; let minX = 1e9, maxX = -1e9, minY = 1e9, maxY = -1e9;
        for (let i = 0; i < p.n; i++) { const s = p.screenPosition(i); if (!s) continue;
          minX = Math.min(minX, s.x); maxX = Math.max(maxX, s.x); minY = Math.min(minY, s.y); maxY = Math.max(maxY, s.y); }
        const r = p.canvas.getBoundingClientRect();
        return Math.max((maxX - minX) / r.width, (maxY - minY) / r.height); }"""
    tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden")
    assert tab.frame.evaluate(fitted) > 0.8
    before = tab.frame.evaluate("() => window.__embedanalysis.app.panels.map.plot.coords")
    tab.select("step", "100")
    tab.frame.wait_for_function("""c => { const p = window.__embedanalysis.app.panels.map.plot;
        return document.querySelector('.map-overlay').hidden && p.coords && p.coords[0] !== c; }""", arg=before[0] if before else None)
    assert tab.frame.evaluate(fitted) > 0.8


def test_search_highlights_matches(tab):
    tab.open()
    tab.choose("digits", "digits")
    tab.frame.locator(".cluster-table").wait_for()
    tab.frame.select_option("select[name=column]", "Label")
    tab.frame.check("input[name=regex]")  # regex is opt-in (issue 17.2); typing searches
    tab.frame.fill("input[name=query]", "^3$")
    head = tab.frame.locator(".search-results .list-head")
    head.wait_for()
    from sklearn.datasets import load_digits

    expected = int((load_digits().target == 3).sum())
    assert head.text_content().startswith("%d matches" % expected)
    emphasised = tab.frame.evaluate("() => window.__embedanalysis.app.panels.map.plot.emphasis.reduce((a, b) => a + b, 0)")
    assert emphasised == expected


MAP_STATE = """() => { const p = window.__embedanalysis.app.panels.map.plot;
    const m = p.marks, len = (a) => (a ? a.length : 0);
    return {n: p.n, emphasised: p.emphasis ? p.emphasis.reduce((a, b) => a + b, 0) : null,
            hard: len(m.hard), neighbors: len(m.neighbors), selected: m.selected,
            legend: [...document.querySelectorAll('.legend-item .legend-text')].map((e) => e.textContent)}; }"""
DIMMED_PIXELS = """() => { const c = document.querySelector('.scatter-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 224 && d[i + 1] === 224 && d[i + 2] === 224) n++;
    return n; }"""


def _digits_count(label):
    from sklearn.datasets import load_digits

    return int((load_digits().target == int(label)).sum())


def test_legend_and_cluster_row_focus_dim_the_rest_of_the_map(tab):
    """Regression (issue 17.1): focusing a label tested `labels.labelled`, which does not exist."""
    tab.open()
    tab.choose("digits", "digits")
    tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden && window.__embedanalysis.marks.mapLabels")
    before = tab.frame.evaluate(DIMMED_PIXELS)  # a few anti-aliased edges may match by chance
    tab.frame.locator(".legend-item[data-label='3']").click()
    # The other labels' points are drawn dimmed: thousands of pixels in the dimmed grey.
    tab.frame.wait_for_function("(%s)() > %d" % (DIMMED_PIXELS, before + 1000))
    assert tab.frame.evaluate(MAP_STATE)["emphasised"] == _digits_count(3)
    assert "active" in tab.frame.locator(".legend-item[data-label='3']").get_attribute("class")
    tab.frame.locator(".cluster-table tbody tr[data-label='5']").click()
    tab.frame.wait_for_function("() => (%s)().emphasised === %d" % (MAP_STATE, _digits_count(5)))
    assert "focus=5" in tab.frame.evaluate("() => location.hash")
    tab.frame.locator(".legend-item[data-label='5']").click()  # a second click drops the focus
    tab.frame.wait_for_function("() => (%s)().emphasised === null" % MAP_STATE)


def test_switching_embedding_clears_legend_marks_and_errors(tab):
    """Regression (issue 17.5): the old legend, rings and neighbour lines stayed after a switch."""
    tab.open("run%3Ddigits%26point%3D42")
    tab.frame.locator(".neighbor-list .point-row").first.wait_for()
    tab.frame.wait_for_function("() => { const s = (%s)(); return s.hard > 0 && s.neighbors > 0 && s.legend.length === 10; }" % MAP_STATE)
    # A map that cannot be loaded must not show the previous embedding's points under its error.
    tab.page.route("**/projection?*run=html*", lambda route: route.abort())
    tab.choose("html", "html_labels")
    tab.frame.locator(".map-overlay .error-box").wait_for()
    tab.frame.wait_for_function("() => (%s)().legend.length === 3" % MAP_STATE)  # html's labels, from its metadata
    state = tab.frame.evaluate(MAP_STATE)
    assert (state["n"], state["neighbors"], state["selected"]) == (0, 0, None)
    assert XSS in state["legend"] and "0" not in state["legend"]
    tab.page.unroute("**/projection?*run=html*")
    # An embedding without labels has no legend at all, and no error is left on screen.
    tab.choose("words", "words")
    tab.frame.wait_for_function("() => document.querySelector('.map-overlay').hidden && (%s)().n === 318" % MAP_STATE)
    assert tab.frame.evaluate(MAP_STATE)["legend"] == []
    visible_errors = tab.frame.evaluate(
        "() => [...document.querySelectorAll('.error-box')].filter((e) => e.offsetParent !== null).length")
    assert visible_errors == 0


def test_switching_embedding_while_neighbours_load_leaves_no_greyed_panel(tab):
    """Regression (issue 17.5): a load overtaken by a switch left its slot greyed out (.stale)."""
    tab.open()
    tab.choose("words", "words")
    tab.frame.locator(".neighbor-slot .hint").wait_for()
    tab.page.route("**/neighbors?*", lambda route: None)  # never answered while the test runs
    tab.frame.fill("input[name=query]", "hitchcock")
    tab.frame.press("input[name=query]", "Enter")
    tab.frame.locator(".neighbor-slot.stale").wait_for(state="attached")
    tab.choose("digits", "digits")
    tab.frame.locator(".neighbor-slot .hint").wait_for()
    assert "stale" not in tab.frame.locator(".neighbor-slot").get_attribute("class")


def test_server_error_is_shown_in_words(tab):
    error = next(e["error"] for r in runs_answer(tab.base)["runs"] for e in r["embeddings"] if e["name"] == "broken")
    assert error
    tab.open()
    tab.choose("broken", "broken")
    box = tab.frame.locator(".error-box")
    box.wait_for()
    assert error in box.inner_text()
    tab.shot("broken_embedding")


def test_html_label_renders_as_text(tab):
    tab.open()
    tab.choose("html", "html_labels")
    tab.frame.locator(".cluster-table").wait_for()
    tab.frame.locator(".legend-item").first.wait_for()
    legend = tab.frame.locator(".legend-item .legend-text").all_text_contents()
    assert XSS in legend and "<b>bold</b>" in legend
    rows = tab.frame.locator(".cluster-table tbody tr td.label .chip-text").all_text_contents()
    assert XSS in rows
    # What the labels would become if parsed as HTML (other panels write <b> of their own).
    assert tab.frame.evaluate(
        "() => document.querySelectorAll('img[src=x]').length + [...document.querySelectorAll('b')]"
        ".filter((b) => b.textContent === 'bold').length") == 0
    assert tab.dialogs == []
    tab.shot("html_labels")


def test_state_survives_reload(tab):
    tab.open()
    tab.choose("digits", "digits")
    tab.frame.fill("input[name=k]", "7")
    tab.frame.press("input[name=k]", "Tab")
    tab.select("metric", "euclidean")
    tab.frame.locator(".hard-card").first.click()
    tab.frame.locator(".neighbor-list .point-row").first.wait_for()
    selected = tab.frame.locator(".query-head .index").text_content()
    assert tab.frame.locator(".neighbor-list .point-row").count() == 7
    for reload in ("iframe", "page"):
        if reload == "iframe":
            tab.frame.evaluate("() => { window.beforeReload = true; location.reload(); }")
        else:
            tab.page.reload()
        tab.frame = tab._find_frame()
        tab.frame.wait_for_function("() => !window.beforeReload && document.querySelector('.neighbor-list .point-row')")
        assert tab.frame.input_value("select[name=run]") == "digits"
        assert tab.frame.input_value("input[name=k]") == "7"
        assert tab.frame.input_value("select[name=metric]") == "euclidean"
        assert tab.frame.locator(".query-head .index").text_content() == selected
        assert tab.frame.locator(".neighbor-list .point-row").count() == 7


def test_compare_steps_side_by_side(tab):
    tab.open()
    tab.choose("digits", "digits")
    table = tab.frame.locator(".card-compare .compare-table").first
    table.wait_for()
    heads = table.locator("thead th").all_text_contents()
    assert "step 100" in heads and "step 2000" in heads
    assert table.locator("svg.sparkline").count() >= 4
    tab.frame.locator(".card-compare").screenshot(path=str(ARTIFACTS / "compare.png"))
    # Full-width cards stack in PANELS order: Hard examples, Data quality, Compare.
    boxes = [tab.frame.locator(".card-%s" % name).bounding_box() for name in ("hard", "quality", "compare")]
    for above, below in zip(boxes, boxes[1:]):
        assert below["y"] >= above["y"] + above["height"] and abs(below["x"] - above["x"]) < 2


def test_narrow_iframe_stacks_panels(browser, tensorboard_url):
    context = browser.new_context(viewport={"width": 560, "height": 900})
    try:
        tab = Tab(context.new_page(), tensorboard_url).open()
        tab.choose("digits", "digits")
        tab.frame.locator(".cluster-table").wait_for()
        map_box = tab.frame.locator(".card-map").bounding_box()
        neighbours_box = tab.frame.locator(".card-neighbors").bounding_box()
        assert neighbours_box["y"] >= map_box["y"] + map_box["height"] - 1
        assert abs(neighbours_box["x"] - map_box["x"]) < 2
        tab.shot("narrow")
    finally:
        context.close()


@pytest.mark.slow
@pytest.mark.parametrize("method, name", [("tsne", "t-SNE"), ("umap", "UMAP")])
def test_projection_shows_progress_then_the_map(tab, method, name):
    tab.open()
    tab.choose("html", "html_labels")
    tab.frame.wait_for_function("document.querySelector('.scatter-canvas').dataset.drawn > 0")
    assert tab.frame.inner_text(f"button[data-method={method}]") == name
    tab.frame.click(f"button[data-method={method}]")
    tab.frame.wait_for_function(
        "document.querySelector('.map-overlay').hidden && document.querySelector('.map-preview').hidden && "
        f"document.querySelector('button[data-method={method}]').classList.contains('active')", timeout=180_000)
    assert f"proj={method}" in tab.frame.evaluate("() => location.hash")


def test_empty_logdir_explains_how_to_write_an_embedding(browser, tmp_path):
    (tmp_path / "empty").mkdir()
    with running_tensorboard(tmp_path / "empty") as base:
        context = browser.new_context(viewport={"width": 1100, "height": 700})
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(base + "/data/plugin_entry.html?name=embedanalysis")  # the tab is inactive: open its frame directly
            page.locator(".notice").wait_for()
            text = page.locator(".notice").inner_text()
            assert "No embeddings" in text and "write_embedding" in text and "README" in text
            page.screenshot(path=str(ARTIFACTS / "empty_logdir.png"))
        finally:
            context.close()
