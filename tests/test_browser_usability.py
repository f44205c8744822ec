"""The tab as a new user meets it (issue 17): one search box, close spellings for unknown
words, words on the map, TensorBoard's dark theme, readable numbers and errors in words.

Real TensorBoard and Debian's Chromium, on the same logs as test_browser_tab.py (its
fixtures are reused: one TensorBoard per module). Screenshots in both themes at 800 and
1400 px go to $EA_SHOTS (default test-artifacts/) for a human to look at.
"""

import json
import os
import pathlib
import re

import pytest

from test_browser_tab import ARTIFACTS, MAP_STATE, Tab, WORDS, _digits_count
from test_browser_tab import browser_fixture, shared_page_fixture, tab_fixture, tensorboard_url_fixture  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

SHOTS = pathlib.Path(os.environ.get("EA_SHOTS", str(ARTIFACTS)))
VISIBLE_ERRORS = "() => [...document.querySelectorAll('.error-box')].filter((e) => e.offsetParent !== null).length"
QUERY_TITLE = "() => document.querySelector('.query-title')?.textContent"


def typed(tab, text):
    """Type like a person: one key at a time (input events), no Enter."""
    box = tab.frame.locator("input[name=query]")
    box.fill("")
    box.press_sequentially(text, delay=20)
    return box


def wait_title(tab, text):
    tab.frame.wait_for_function("(t) => (%s)() === t" % QUERY_TITLE, arg=text)


# -- 2. one search box -----------------------------------------------------------------
def test_typing_lists_matches_live_and_a_click_opens_one(tab):
    tab.open()
    tab.choose("words", "words")
    typed(tab, "spiel")
    rows = tab.frame.locator(".search-results .point-row")
    # Listed without pressing Enter: the answer to the whole word typed, not one to a prefix
    # still on screen (a full run read the five rows of "s…" here before it came)
    tab.frame.wait_for_function("() => document.querySelector('.search-results .list-head')?.textContent"
                                ".startsWith('1 match')")
    assert [r.strip() for r in rows.locator(".point-text").all_text_contents()] == ["spielberg"]
    assert tab.frame.locator(".search-results .list-head").text_content().startswith("1 match")
    rows.first.click()
    wait_title(tab, "spielberg")


def test_enter_opens_the_neighbours_of_a_unique_match(tab):
    tab.open()
    tab.choose("words", "words")
    typed(tab, "tarant").press("Enter")  # a unique substring match, not an exact value
    wait_title(tab, "tarantino")
    names = tab.frame.locator(".neighbor-list .point-text").all_text_contents()
    assert set(WORDS["directors"]) - {"tarantino"} <= set(names)


def test_plain_text_is_searched_literally_and_is_never_an_error(tab):
    tab.open()
    tab.choose("digits", "digits")
    tab.frame.locator(".cluster-table").wait_for()
    typed(tab, "^3$")
    head = tab.frame.locator(".search-results .list-head")
    head.wait_for()
    assert head.text_content().startswith("0 matches")
    tab.frame.press("input[name=query]", "Enter")
    tab.frame.locator(".not-found").wait_for()
    assert tab.frame.evaluate(VISIBLE_ERRORS) == 0
    # With the regex toggle on, the same text is a regex: every 3 in the Label column.
    tab.frame.select_option("select[name=column]", "Label")
    tab.frame.check("input[name=regex]")
    tab.frame.wait_for_function("() => document.querySelector('.search-results .list-head')?.textContent.startsWith('%d matches')"
                                % _digits_count(3))
    assert "re=1" in tab.frame.evaluate("() => location.hash")


def test_enter_on_a_label_value_selects_the_whole_label(tab):
    tab.open()
    tab.choose("digits", "digits")
    tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden && window.__embedanalysis.marks.mapLabels")
    tab.frame.locator(".cluster-table").wait_for()
    typed(tab, "3").press("Enter")
    tab.frame.wait_for_function("() => (%s)().emphasised === %d" % (MAP_STATE, _digits_count(3)))
    assert "active" in tab.frame.locator(".legend-item[data-label='3']").get_attribute("class")
    assert "focus=3" in tab.frame.evaluate("() => location.hash")
    # Not row #3 (a zero): nothing was selected.
    assert tab.frame.evaluate(MAP_STATE)["selected"] is None


# -- 3. unknown words --------------------------------------------------------------------
def test_unknown_word_offers_close_spellings_as_links(tab):
    tab.open()
    tab.choose("words", "words")
    typed(tab, "hitchcok").press("Enter")
    box = tab.frame.locator(".not-found")
    box.wait_for()
    text = box.inner_text()
    assert "hitchcok" in text and "404" not in text and "HTTP" not in text
    links = box.locator(".suggestion")
    assert "hitchcock" in links.all_text_contents()
    assert tab.frame.evaluate(VISIBLE_ERRORS) == 0  # not a red error
    links.filter(has_text=re.compile("^hitchcock$")).click()
    wait_title(tab, "hitchcock")
    assert tab.frame.input_value("input[name=query]") == "hitchcock"


# -- 4. words on the map --------------------------------------------------------------------
PLACED = """() => { const p = window.__embedanalysis.app.panels.map.plot;
    const r = p.canvas.getBoundingClientRect();
    return {labels: p.textLabels || null, width: r.width, height: r.height}; }"""


def _overlaps(labels):
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]:
                return (a, b)
    return None


def test_words_of_the_selected_point_and_its_neighbours_are_drawn(tab):
    tab.open()
    tab.choose("words", "words")
    tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden && window.__embedanalysis.marks.mapLabels")
    typed(tab, "kubrick").press("Enter")
    wait_title(tab, "kubrick")
    tab.frame.wait_for_function("() => ((%s)().labels || []).some((l) => l.text === 'kubrick')" % PLACED)
    placed = tab.frame.evaluate(PLACED)["labels"]
    neighbours = tab.frame.locator(".neighbor-list .point-text").all_text_contents()
    drawn = {label["text"] for label in placed}
    assert len(drawn & set(neighbours)) >= 3, (drawn, neighbours)
    assert drawn <= set(neighbours) | {"kubrick"}  # not zoomed in: only the selection is written
    assert _overlaps(placed) is None
    tab.shot("words_on_map_selected")


def test_zooming_in_writes_the_words_in_view_without_overlap(tab):
    tab.open()
    tab.choose("words", "words")
    tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden && window.__embedanalysis.marks.mapLabels")
    assert (tab.frame.evaluate(PLACED)["labels"] or []) == []  # the whole map: dots only
    tab.frame.evaluate("""() => { const p = window.__embedanalysis.app.panels.map.plot; const r = p.canvas.getBoundingClientRect();
        p.zoomAt(r.width / 2, r.height / 2, 4); }""")
    tab.frame.wait_for_function("() => ((%s)().labels || []).length >= 10" % PLACED)
    state = tab.frame.evaluate(PLACED)
    placed = state["labels"]
    assert len(placed) <= 200  # bounded per frame
    assert _overlaps(placed) is None
    words = tab.frame.evaluate("() => window.__embedanalysis.app.store.colours.labels.rows.map((r) => Object.values(r)[0])")
    for label in placed:
        assert label["text"] == words[label["index"]]
        assert -label["w"] <= label["x"] <= state["width"] and -label["h"] <= label["y"] <= state["height"]
    tab.shot("words_on_map_zoomed")


# -- 6. dark mode --------------------------------------------------------------------------
CONTRAST = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => top.slice(0, 3).map((v, i) => v * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const background = (node) => { const layers = [];
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) { const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let colour = [255, 255, 255, 1]; if (layers.length && layers[layers.length - 1][3] >= 1) colour = layers.pop();
    for (let i = layers.length - 1; i >= 0; i--) colour = over(layers[i], colour); return colour; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const bad = []; let checked = 0;
  for (const node of document.querySelectorAll('body *')) {
    if (!node.offsetParent && getComputedStyle(node).position !== 'fixed') continue;
    const own = [...node.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(node);
    if (style.visibility === 'hidden' || Number(style.opacity) < 0.6) continue;
    const bg = background(node); const fg = over(parse(style.color), bg);
    const a = lum(fg), b = lum(bg); const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    checked++;
    if (ratio < 3) bad.push(`${node.className || node.tagName} "${node.textContent.trim().slice(0, 20)}" ${ratio.toFixed(2)}`);
  }
  return {checked, bad, page: background(document.body)};
}"""
CANVAS_CORNER = """() => { const c = document.querySelector('.scatter-canvas'); const d = c.getContext('2d').getImageData(1, 1, 1, 1).data;
    return [d[0], d[1], d[2]]; }"""


def _is_dark(rgb):
    return sum(rgb[:3]) / 3 < 90


def _digits_everything_on_screen(tab):
    tab.choose("digits", "digits")
    tab.select("step", "100")
    tab.frame.locator(".cm-cell").first.wait_for()
    tab.frame.locator(".hard-card").first.wait_for()
    tab.frame.locator(".card-compare .compare-table").first.wait_for()
    tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden && window.__embedanalysis.marks.mapLabels")
    tab.frame.locator(".hard-card").first.click()
    tab.frame.locator(".neighbor-list .point-row").first.wait_for()


@pytest.mark.parametrize("how", ["system-preference", "tensorboard-toggle"])
def test_tab_follows_tensorboards_dark_theme_and_stays_readable(browser, tensorboard_url, how):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  color_scheme="dark" if how == "system-preference" else "light")
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        tab = Tab(page, tensorboard_url).open()
        if how == "tensorboard-toggle":  # what TensorBoard's theme menu does to its own page
            page.evaluate("() => document.body.classList.add('dark-mode')")
        else:
            assert page.evaluate("() => document.body.classList.contains('dark-mode')")
        _digits_everything_on_screen(tab)
        tab.frame.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
        dark = tab.frame.evaluate(CONTRAST)
        assert _is_dark(dark["page"]), dark["page"]
        assert dark["checked"] > 100 and dark["bad"] == [], dark["bad"]
        tab.frame.wait_for_function("(%s)()[0] < 90" % CANVAS_CORNER)  # the map too
        # Back to light when TensorBoard switches back (no reload).
        page.evaluate("() => document.body.classList.remove('dark-mode')")
        tab.frame.wait_for_function("() => document.documentElement.dataset.theme === 'light'")
        light = tab.frame.evaluate(CONTRAST)
        assert not _is_dark(light["page"]) and light["bad"] == [], light["bad"]
        tab.frame.wait_for_function("(%s)()[0] > 200" % CANVAS_CORNER)
    finally:
        context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", [800, 1400])
def test_screenshots_in_both_themes_and_widths(browser, tensorboard_url, theme, width):
    """For a human to look at: digits with everything open, and words zoomed in."""
    context = browser.new_context(viewport={"width": width, "height": 1000}, color_scheme=theme)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        tab = Tab(page, tensorboard_url).open()
        _digits_everything_on_screen(tab)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": width, "height": 3000})
        page.wait_for_timeout(600)
        page.screenshot(path=str(SHOTS / ("digits_%s_%d.png" % (theme, width))))
        assert tab.frame.evaluate(CONTRAST)["bad"] == []
        page.set_viewport_size({"width": width, "height": 1000})
        tab.choose("words", "words")
        tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden && window.__embedanalysis.marks.mapLabels")
        typed(tab, "horible").press("Enter")
        tab.frame.locator(".not-found").wait_for()
        tab.frame.locator(".not-found .suggestion").first.click()
        tab.frame.locator(".neighbor-list .point-row").first.wait_for()
        tab.frame.evaluate("""() => { const p = window.__embedanalysis.app.panels.map.plot; const s = p.screenPosition(p.marks.selected);
            p.zoomAt(s.x, s.y, 3); }""")
        page.wait_for_timeout(600)
        page.screenshot(path=str(SHOTS / ("words_%s_%d.png" % (theme, width))))
    finally:
        context.close()


# -- 8. numbers --------------------------------------------------------------------------
def test_integer_changes_are_integers(tab):
    tab.open()
    tab.choose("digits", "digits")
    tab.frame.locator(".card-compare .compare-table").first.wait_for()
    tab.frame.select_option("select[name=compare_figure]", "hard_count")
    table = tab.frame.locator(".card-compare .compare-table").nth(1)
    table.locator("tbody tr").first.wait_for()
    changes = table.locator("tbody td:last-child").all_text_contents()
    assert len(changes) == 10
    assert all(re.fullmatch(r"0|[+−][1-9][0-9,]*", c) for c in changes), changes
    assert any(c != "0" for c in changes)


def test_k_beyond_the_points_shows_the_k_used_and_why(tab):
    tab.open()
    tab.choose("html", "html_labels")  # 90 points: at most 89 neighbours
    tab.frame.locator(".cluster-table").wait_for()
    tab.frame.fill("input[name=k]", "1000")
    tab.frame.press("input[name=k]", "Tab")
    note = tab.frame.locator(".k-note")
    note.wait_for()
    assert "89" in note.text_content()
    assert "90" in (note.get_attribute("title") or "") + note.text_content()
    tab.frame.wait_for_function("() => document.querySelector('.overall')?.textContent.includes('k = 89')")
    overall = tab.frame.locator(".overall").inner_text()
    assert "1000" in overall and "90 points" in overall
    # A k the embedding allows shows no note.
    tab.frame.fill("input[name=k]", "5")
    tab.frame.press("input[name=k]", "Tab")
    note.wait_for(state="detached")


# -- 9. errors in words ------------------------------------------------------------------
def _fail_clusters(tab, **response):
    tab.page.route("**/clusters?*", lambda route: route.fulfill(**response) if response else route.abort())


@pytest.mark.parametrize("case, response, retry", [
    ("400", {"status": 400, "content_type": "application/json",
             "body": json.dumps({"error": "parameter 'k' must be between 1 and 89"})}, False),
    ("404", {"status": 404, "content_type": "application/json", "body": json.dumps({"error": "unknown run 'x'"})}, False),
    ("500", {"status": 500, "content_type": "text/html", "body": "<h1>Internal Server Error</h1>"}, True),
    ("network", {}, True),
], ids=lambda v: v if isinstance(v, str) else None)
def test_errors_are_words_with_retry_only_where_it_can_help(tab, case, response, retry):
    _fail_clusters(tab, **response)
    tab.open()
    tab.choose("digits", "digits")
    box = tab.frame.locator(".card-clusters .error-box")
    box.wait_for()
    text = box.inner_text()
    assert "HTTP" not in text and "TypeError" not in text and "Failed to fetch" not in text and "<h1>" not in text
    if case in ("400", "404"):
        assert json.loads(response["body"])["error"] in text
    assert (box.locator("button", has_text="Try again").count() == 1) == retry
    if retry:  # and it does help once the server answers again
        tab.page.unroute("**/clusters?*")
        box.locator("button", has_text="Try again").click()
        tab.frame.locator(".cluster-table").wait_for()


def test_a_bug_in_the_tab_is_not_shown_as_its_internals(tab):
    tab.page.route("**/clusters?*", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                 body=json.dumps({"overall": None})))
    tab.open()
    tab.choose("digits", "digits")
    box = tab.frame.locator(".card-clusters .error-box")
    box.wait_for()
    text = box.inner_text()
    assert "TypeError" not in text and "undefined" not in text and "null" not in text
    assert "console" in text  # where the details are
