"""Selecting points to tag, as a person does it: real TensorBoard, real Chromium (issue 18.3).

The logs hold three clusters far apart in the first two dimensions (so the PCA map shows
them apart) and 40 rows of cluster C planted with cluster A's label (so the confusion cell
"a → c" holds exactly those). A lasso drawn around a cluster with the mouse (the Lasso
toggle), a finger (Chromium's own touch events) or shift+drag selects exactly that
cluster's rows (a band over two clusters: exactly theirs, not the third in its bounding box); the bar under the map tags them, in requests of at most 10,000 rows; GET
/tags then lists exactly those rows. Esc and a click on empty space clear the lasso. The
confusion cell's "tag all" action tags exactly the cell's rows. Screenshots (light and
dark) land in test-artifacts/ and /tmp/shots/.
"""

import json
import math
import os
import pathlib
import urllib.parse
import urllib.request

import numpy as np
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
PlaywrightTimeout = playwright_sync.TimeoutError

from tensorboard_process import serving  # noqa: E402  (tests/ helper)
from test_browser_tab import ARTIFACTS, CHROMIUM, browser_fixture, one_test_on, open_frame  # noqa: E402,F401  (one Chromium set-up; browser: a fixture)

pytestmark = pytest.mark.browser

SHOTS = pathlib.Path("/tmp/shots")
TIMEOUT_MS = 90_000
ROUTE = "/data/plugin/embedanalysis/tags"
SIZES = {"a": 10_200, "b": 300, "c": 1_500}  # "a" needs two requests of ≤ 10,000 rows
CENTRES = {"a": (0.0, 0.0), "b": (40.0, 0.0), "c": (0.0, 40.0)}
PLANTED = 40  # rows of cluster c labelled "a"

if not os.path.exists(CHROMIUM):  # pragma: no cover - environment without the browser
    pytest.skip("Debian's chromium is not installed (make chromium)", allow_module_level=True)


def _clusters():
    """cluster name → sorted row indices; labels per row (planted rows: 'a' inside cluster c)."""
    rng = np.random.default_rng(18)
    names = np.repeat(list(SIZES), list(SIZES.values()))
    rng.shuffle(names)
    clusters = {name: np.flatnonzero(names == name) for name in SIZES}
    labels = names.astype(object).copy()
    planted = rng.choice(clusters["c"], size=PLANTED, replace=False)
    labels[planted] = "a"
    return names, clusters, [str(x) for x in labels], sorted(int(i) for i in planted)


def _write_logs(logdir: pathlib.Path):
    from tb_embedanalysis import write_embedding

    names, _, labels, _ = _clusters()
    rng = np.random.default_rng(7)
    x = rng.normal(scale=0.6, size=(len(names), 8)).astype(np.float32)
    x[:, :2] += np.array([CENTRES[name] for name in names], dtype=np.float32)
    write_embedding(logdir / "blobs", x, name="blobs", metadata={"Index": [str(i) for i in range(len(names))], "Label": labels})


@pytest.fixture(scope="module")
def tensorboard_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_lasso")
    _write_logs(root / "logs")
    with serving(root) as base:
        yield base


@pytest.fixture(scope="module")
def shared_page(browser):
    """One page (touch enabled) for the module: TensorBoard starts in it once (open_frame)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture
def page(shared_page):
    with one_test_on(shared_page):
        yield shared_page


def _tags(base):
    query = urllib.parse.urlencode({"run": "blobs", "embedding": "blobs"})
    with urllib.request.urlopen("%s%s?%s" % (base, ROUTE, query), timeout=30) as response:
        return json.loads(response.read())["tags"]


def _rows(base, **match):
    return sorted(t["index"] for t in _tags(base) if all(t[k] == v for k, v in match.items()))


def _open(page, base):
    frame = open_frame(page, base)
    frame.wait_for_function("document.querySelector('.map-overlay')?.hidden && window.__embedanalysis.marks.mapLabels")
    frame.locator(".card-map").scroll_into_view_if_needed()
    # Zoomed out a little: the clusters at the map's edges leave room for a lasso around them.
    frame.evaluate("() => { const p = window.__embedanalysis.app.panels.map.plot; p.zoomAt(p.width / p.dpr / 2, p.height / p.dpr / 2, 0.6); }")
    # The progress line keeps its row when it hides (test_browser_select checks the map never
    # moves); the guide line may still arrive with an answer and move the map down once: draw
    # only once it has stayed put for 1.5 s with nothing being computed (a lasso drawn while
    # the map moves lands off its mark, which made this test fail in full runs).
    frame.wait_for_function("""() => {
        const top = document.querySelector('.scatter-canvas').getBoundingClientRect().top + window.scrollY;
        const now = performance.now(), s = window.__settle || (window.__settle = {top, since: now});
        if (s.top !== top || document.querySelector('.activity-line')?.hidden === false) Object.assign(s, {top, since: now});
        return now - s.since > 1500; }""", polling=100)
    return frame


def _shot(page, frame, name):
    ARTIFACTS.mkdir(exist_ok=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    for folder in (ARTIFACTS, SHOTS):
        frame.locator(".card-map").screenshot(path=str(folder / ("%s.png" % name)))


def _positions(frame):
    return frame.evaluate("""() => { const p = window.__embedanalysis.app.panels.map.plot;
        return Array.from({length: p.n}, (_, i) => p.screenPosition(i)); }""")


def _checked(frame, local, rows, positions):
    """`local` (canvas CSS px) in page CSS px, once checked to hold exactly `rows` (the premise,
    by the even-odd rule in Python) and to stay on the canvas."""
    box = frame.locator(".scatter-canvas").bounding_box()
    assert all(0 < x < box["width"] and 0 < y < box["height"] for x, y in local), "the lasso leaves the canvas"
    inside = [i for i, p in enumerate(positions) if p and _inside(p["x"], p["y"], local)]
    assert inside == sorted(rows)
    return [(box["x"] + x, box["y"] + y) for x, y in local]


def _lasso_around(page, frame, rows):
    """A polygon (page CSS px) around the map positions of `rows`: an ellipse through the
    corners of their bounding box, 12 px wider."""
    positions = _positions(frame)
    xs = [positions[i]["x"] for i in rows]
    ys = [positions[i]["y"] for i in rows]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    rx, ry = (max(xs) - min(xs)) / 2 * math.sqrt(2) + 12, (max(ys) - min(ys)) / 2 * math.sqrt(2) + 12
    local = [(cx + rx * math.cos(2 * math.pi * k / 48), cy + ry * math.sin(2 * math.pi * k / 48)) for k in range(48)]
    return _checked(frame, local, rows, positions)


def _band_between(frame, first, second, outside):
    """A band (page CSS px) from cluster `first` to cluster `second`, as wide as they are:
    its bounding box holds cluster `outside` too, the band does not (a box test would fail)."""
    positions = _positions(frame)
    centre = lambda rows: [sum(positions[i][c] for i in rows) / len(rows) for c in "xy"]  # noqa: E731
    (x0, y0), (x1, y1) = centre(first), centre(second)
    reach = max(math.hypot(positions[i]["x"] - cx, positions[i]["y"] - cy)
                for rows, (cx, cy) in ((first, (x0, y0)), (second, (x1, y1))) for i in rows) + 12
    length = math.hypot(x1 - x0, y1 - y0)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    corners = [(x0 - ux * reach - uy * reach, y0 - uy * reach + ux * reach), (x1 + ux * reach - uy * reach, y1 + uy * reach + ux * reach),
               (x1 + ux * reach + uy * reach, y1 + uy * reach - ux * reach), (x0 - ux * reach + uy * reach, y0 - uy * reach - ux * reach)]
    local = [(a[0] + (b[0] - a[0]) * t / 12, a[1] + (b[1] - a[1]) * t / 12)
             for a, b in zip(corners, corners[1:] + corners[:1]) for t in range(12)]
    xs, ys = [x for x, _ in local], [y for _, y in local]
    assert all(min(xs) < positions[i]["x"] < max(xs) and min(ys) < positions[i]["y"] < max(ys) for i in outside)
    return _checked(frame, local, sorted(list(first) + list(second)), positions)


def _inside(x, y, polygon):
    odd = False
    for (xa, ya), (xb, yb) in zip(polygon, polygon[1:] + polygon[:1]):
        if (ya > y) != (yb > y) and x < (xb - xa) * (y - ya) / (yb - ya) + xa:
            odd = not odd
    return odd


def _drag(page, polygon):
    page.mouse.move(*polygon[0])
    page.mouse.down()
    for point in polygon[1:] + polygon[:1]:
        page.mouse.move(*point, steps=2)
    page.mouse.up()


def _touch(page, polygon):
    cdp = page.context.new_cdp_session(page)
    first = polygon[0]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": first[0], "y": first[1]}]})
    for x, y in polygon[1:] + polygon[:1]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def _view(frame):
    return frame.evaluate("() => ({...window.__embedanalysis.app.panels.map.plot.view})")


def test_mouse_lasso_tags_exactly_the_cluster_in_requests_of_10000(page, tensorboard_url):
    _, clusters, _, _ = _clusters()
    frame = _open(page, tensorboard_url)
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" and request.url.endswith("/tags") else None)
    frame.click("button[name=lasso]")
    assert frame.get_attribute("button[name=lasso]", "aria-pressed") == "true"
    view = _view(frame)
    rows = [int(i) for i in clusters["a"]]
    _drag(page, _lasso_around(page, frame, rows))
    try:
        frame.wait_for_selector('.lasso-bar[data-count="%d"]' % len(rows))
    except PlaywrightTimeout as timeout:  # what the lasso chose instead, and where the map was
        state = frame.evaluate("""() => ({bar: document.querySelector('.lasso-bar')?.dataset.count ?? null,
            chosen: window.__embedanalysis.app.store.chosen.current?.indices?.length ?? null,
            canvasTop: document.querySelector('.scatter-canvas').getBoundingClientRect().top, scrollY: window.scrollY,
            view: {...window.__embedanalysis.app.panels.map.plot.view}})""")
        raise AssertionError("the lasso did not choose the %d rows: %r (view before %r)" % (len(rows), state, view)) from timeout
    assert "10,200 points selected" in frame.inner_text(".lasso-bar")
    assert _view(frame) == view  # drawing a lasso does not pan the map
    _shot(page, frame, "lasso_light")
    page.evaluate("document.body.classList.add('dark-mode')")
    frame.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    _shot(page, frame, "lasso_dark")
    page.evaluate("document.body.classList.remove('dark-mode')")

    frame.click("button[name=lasso_label-error]")
    frame.wait_for_selector(".lasso-bar .tag-status:has-text('Tagged 10,200 points “label error”.')")
    assert len(posts) == 2  # 10,000 + 200
    assert _rows(tensorboard_url, tag="label error") == rows
    assert "(10,200 of them tagged)" in frame.inner_text(".lasso-bar")
    _shot(page, frame, "lasso_tagged_light")

    # Zoom: the outline follows its points (it is kept in map coordinates).
    before = frame.get_attribute(".lasso-path", "d")
    frame.evaluate("() => window.__embedanalysis.app.panels.map.plot.zoomAt(300, 200, 1.5)")
    frame.wait_for_function("d => document.querySelector('.lasso-path').getAttribute('d') !== d", arg=before)

    page.keyboard.press("Escape")
    frame.wait_for_selector(".lasso-bar", state="detached")
    assert frame.get_attribute(".lasso-path", "d") is None
    page.keyboard.press("Escape")  # nothing to clear: leaves the lasso mode
    frame.wait_for_selector("button[name=lasso][aria-pressed=false]")


def test_touch_and_shift_lassos_give_a_corrected_label_and_clear(page, tensorboard_url):
    _, clusters, _, _ = _clusters()
    rows = [int(i) for i in clusters["b"]]
    frame = _open(page, tensorboard_url)
    frame.click("button[name=lasso]")
    _touch(page, _lasso_around(page, frame, rows))
    frame.wait_for_selector('.lasso-bar[data-count="%d"]' % len(rows))
    frame.fill("input[name=lasso_corrected_label]", "b2")
    frame.press("input[name=lasso_corrected_label]", "Enter")
    frame.wait_for_selector(".lasso-bar .tag-status:has-text('corrected label “b2”')")
    stored = [t for t in _tags(tensorboard_url) if t["index"] in set(rows)]
    assert sorted(t["index"] for t in stored) == rows
    assert {(t["tag"], t["corrected_label"]) for t in stored} == {("label error", "b2")}

    # A click on empty space (the canvas's corner: no point there) clears the lasso.
    box = frame.locator(".scatter-canvas").bounding_box()
    assert frame.evaluate("() => window.__embedanalysis.app.panels.map.plot.pick(3, 3)") is None
    page.mouse.click(box["x"] + 3, box["y"] + 3)
    frame.wait_for_selector(".lasso-bar", state="detached")

    frame.click("button[name=lasso]")  # off: a plain drag pans, shift+drag draws
    view = _view(frame)
    # A concave selection: clusters b and c, not a, which lies inside the band's bounding box.
    both = sorted(rows + [int(i) for i in clusters["c"]])
    polygon = _band_between(frame, rows, clusters["c"], outside=clusters["a"])
    page.keyboard.down("Shift")
    _drag(page, polygon)
    page.keyboard.up("Shift")
    frame.wait_for_selector('.lasso-bar[data-count="%d"]' % len(both))
    assert "1,800 points selected" in frame.inner_text(".lasso-bar")
    assert "(300 of them tagged)" in frame.inner_text(".lasso-bar")
    assert _view(frame) == view
    frame.click("button[name=lasso_ok]")
    frame.wait_for_selector(".lasso-bar .tag-status:has-text('Tagged 1,800 points “ok”.')")
    assert _rows(tensorboard_url, tag="ok") == both
    frame.click("button[name=lasso_clear]")
    frame.wait_for_selector(".lasso-bar .tag-status:has-text('Removed the tags of 1,800 points.')")
    assert not set(both) & {t["index"] for t in _tags(tensorboard_url)}


def test_tag_all_in_a_confusion_cell_tags_exactly_its_points(page, tensorboard_url):
    _, _, _, planted = _clusters()
    frame = _open(page, tensorboard_url)
    cell = frame.locator('.cm-cell[data-label="a"][data-predicted="c"]')
    assert cell.get_attribute("data-count") == str(PLANTED)
    cell.click()
    select = frame.locator(".card-hard select[name=tag_all]")
    select.wait_for()
    assert "Tag all 40 in this cell" in select.inner_text()
    select.select_option("ambiguous")
    frame.wait_for_function("() => { const s = document.querySelector('.card-hard select[name=tag_all]'); return s && !s.disabled; }")
    frame.wait_for_selector(".card-hard .hard-item .tag-chip.tag-ambiguous")
    assert _rows(tensorboard_url, tag="ambiguous") == planted


def test_points_in_polygon_is_exact_and_fast_at_100000_points(page, tensorboard_url):
    """lasso.js's pointsInPolygon on 100,000 seeded points and a jagged 500-vertex lasso,
    in the tab's Chromium: the rows equal a brute-force even-odd test (numpy, float64 on the
    same float32 coordinates); the time is printed and bounded."""
    frame = _open(page, tensorboard_url)
    answer = frame.evaluate("""async () => {
        const {pointsInPolygon} = await import('./lasso.js');
        let seed = 5; const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
        const coords = new Float32Array(200000);
        for (let i = 0; i < coords.length; i++) coords[i] = random() * 10;
        coords[0] = NaN;
        const polygon = new Float64Array(1000);
        for (let k = 0; k < 500; k++) {
          const angle = 2 * Math.PI * k / 500, radius = 1 + 4 * random();
          polygon[2 * k] = 5 + radius * Math.cos(angle); polygon[2 * k + 1] = 5 + radius * Math.sin(angle);
        }
        let best = Infinity, rows = null;
        for (let rep = 0; rep < 3; rep++) {
          const started = performance.now();
          rows = pointsInPolygon(coords, polygon);
          best = Math.min(best, performance.now() - started);
        }
        return {coords: Array.from(coords), polygon: Array.from(polygon), rows: Array.from(rows), ms: best};
    }""")
    coords = np.array([np.nan if c is None else c for c in answer["coords"]], dtype=np.float64).reshape(-1, 2)
    polygon = np.array(answer["polygon"]).reshape(-1, 2)
    x, y = coords[:, 0], coords[:, 1]
    odd = np.zeros(len(coords), dtype=bool)
    for (xa, ya), (xb, yb) in zip(polygon, np.roll(polygon, -1, axis=0)):
        with np.errstate(invalid="ignore", divide="ignore"):
            odd ^= ((ya > y) != (yb > y)) & (x < (xb - xa) * (y - ya) / (yb - ya) + xa)
    assert answer["rows"] == np.flatnonzero(odd).tolist()
    assert 10_000 < len(answer["rows"]) < 90_000
    print("pointsInPolygon: 100,000 points, 500 vertices: %.1f ms" % answer["ms"])
    assert answer["ms"] < 500
