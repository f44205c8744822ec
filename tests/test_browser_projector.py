"""What people miss from the Projector (issue 27.4), as a person uses it: real TensorBoard,
real Chromium. Colour by a numeric column (a gradient from its exact minimum to its exact
maximum) or a categorical one, words by any column, thumbnails drawn when zoomed in, the 3-D
view turned by mouse and keys (a click still selects), PCA components checked against
scikit-learn with their variance, t-SNE settings sent and refused out of bounds, the custom
projection checked against numpy, bookmarks saved, listed, opened from their link and
deleted. Screenshots in both themes at 1280×800 and 1920×1080 land in test-artifacts/.
"""

import json
import os
import urllib.parse

import numpy as np
import pytest
from sklearn.decomposition import PCA

playwright_sync = pytest.importorskip("playwright.sync_api")

import plugin_fixtures  # noqa: E402  (tests/ helper)
from tensorboard_process import running_tensorboard  # noqa: E402
from test_browser_tab import ARTIFACTS, CHROMIUM, browser_fixture, one_test_on, open_frame  # noqa: E402,F401  (browser: a fixture)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 90_000
N = 300

if not os.path.exists(CHROMIUM):  # pragma: no cover - environment without the browser
    pytest.skip("Debian's chromium is not installed (make chromium)", allow_module_level=True)


def _table():
    """Three clusters in 8-D, a numeric `score` (one blank), a categorical `group`, a `word`, 8×8 images."""
    rng = np.random.default_rng(27)
    labels = np.arange(N) % 3
    centres = rng.normal(size=(3, 8)) * 5
    vectors = (centres[labels] + rng.normal(size=(N, 8)) * np.linspace(2.5, 0.3, 8)).astype(np.float32)
    score = ["%.3f" % v for v in rng.normal(size=N) * 7 + 2]
    score[5] = ""
    metadata = {"Label": ["abc"[i] for i in labels], "score": score, "group": ["xy"[i % 2] for i in range(N)],
                "word": ["w%03d" % i for i in range(N)]}
    images = np.zeros((N, 8, 8), dtype=np.float32)
    for i in range(N):
        images[i, labels[i] * 2:labels[i] * 2 + 3, :] = 1.0
    return vectors, metadata, images


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from tb_embedanalysis import write_embedding

    root = tmp_path_factory.mktemp("browser_projector")
    vectors, metadata, images = _table()
    write_embedding(root / "logs" / "table", vectors, name="points", metadata=metadata, images=images)
    words = plugin_fixtures.write_words_run(str(root / "logs" / "words"))
    with running_tensorboard(root / "logs", extra_args=["--embedanalysis_cache_dir", str(root / "cache")]) as base:
        yield base, {"vectors": vectors, "metadata": metadata, "words": words}


@pytest.fixture(scope="module")
def shared_page(browser):
    """One page for the module: TensorBoard starts in it once (test_browser_tab.open_frame)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture
def page(shared_page):
    with one_test_on(shared_page, 1280, 800):
        yield shared_page


def open_tab(page, base, state):
    frame = open_frame(page, base, urllib.parse.quote(state, safe=""))
    frame.wait_for_selector(".map-options")
    return frame


def wait_map(frame):
    """The map's overlay is gone (computed), no layout in progress is shown in its place
    (UMAP's preview) and a frame was drawn."""
    frame.wait_for_function("() => document.querySelector('.map-overlay').hidden"
                            " && document.querySelector('.map-preview').hidden"
                            " && document.querySelector('.scatter-canvas').dataset.drawn > 0")


PLOT = "window.__embedanalysis.app.panels.map.plot"
PROJECTOR = "window.__embedanalysis.app.panels.map.projector"


def plot_coords(frame):
    return np.array(frame.evaluate("() => Array.from(%s.coords)" % PLOT), dtype=np.float64).reshape(-1, 2)


def zoom_in(page, frame, clicks=7):
    box = frame.locator(".scatter-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(clicks):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(60)
    page.wait_for_timeout(300)


def shot(page, name, scheme="light", size=(1280, 800)):
    """A screenshot in TensorBoard's light or dark theme (its body.dark-mode, which the tab follows)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("(dark) => document.body.classList.toggle('dark-mode', dark)", scheme == "dark")
    frame = page.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]', state="attached").content_frame()
    frame.wait_for_function("(t) => document.documentElement.dataset.theme === t", arg=scheme)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / ("projector-%s-%s-%dx%d.png" % (name, scheme, *size))))


def test_colour_by_a_numeric_column_is_a_gradient_from_its_exact_min_to_max(page, served):
    base, data = served
    frame = open_tab(page, base, "run=table&emb=points")
    wait_map(frame)
    frame.select_option("select[name=colour_by]", "score")
    frame.wait_for_selector(".legend-gradient")
    numbers = [float(s) for s in data["metadata"]["score"] if s]
    legend = frame.locator(".legend-gradient")
    assert float(legend.get_attribute("data-min")) == min(numbers)
    assert float(legend.get_attribute("data-max")) == max(numbers)
    assert "no number" in frame.locator(".legend").inner_text()  # the one blank score
    classes = frame.evaluate("() => Array.from(%s.classes)" % PLOT)
    palette = frame.evaluate("() => %s.palette" % PLOT)
    top, bottom = int(np.argmax([float(s) if s else -1e9 for s in data["metadata"]["score"]])), None
    bottom = int(np.argmin([float(s) if s else 1e9 for s in data["metadata"]["score"]]))
    assert classes[top] == len(palette) - 1 and classes[bottom] == 1 and classes[5] == 0
    assert "colour=score" in frame.evaluate("() => location.hash")
    for scheme, size in (("light", (1280, 800)), ("dark", (1920, 1080))):
        shot(page, "gradient", scheme, size)
    # A categorical column: the palette's colours per value, a legend with counts.
    frame.select_option("select[name=colour_by]", "group")
    frame.wait_for_function("() => document.querySelector('.legend').innerText.includes('group:')")
    text = frame.locator(".legend").inner_text()
    assert "x\n150" in text and "y\n150" in text
    frame.select_option("select[name=colour_by]", "")  # back to the labels: the label legend
    frame.wait_for_selector(".legend-item[data-label=a]")


def test_words_by_any_column_and_thumbnails_when_zoomed_in(page, served):
    base, data = served
    frame = open_tab(page, base, "run=table&emb=points")
    wait_map(frame)
    frame.select_option("select[name=words_by]", "score")
    zoom_in(page, frame)
    frame.wait_for_function("() => %s.textLabels.length > 0" % PLOT)
    texts = frame.evaluate("() => %s.textLabels.map((l) => [l.index, l.text])" % PLOT)
    assert all(text == data["metadata"]["score"][index] or (text == "<empty>" and index == 5) for index, text in texts)
    frame.wait_for_function("() => %s.sprites.drawn > 0" % PROJECTOR)
    drawn = frame.evaluate("() => %s.sprites.drawn" % PROJECTOR)
    assert 0 < drawn <= 120
    shot(page, "thumbnails", "light")
    shot(page, "thumbnails", "dark", (1920, 1080))
    frame.uncheck("input[name=map_sprites]")
    frame.wait_for_function("() => %s.sprites.drawn === 0" % PROJECTOR)
    frame.select_option("select[name=words_by]", "-")
    frame.wait_for_function("() => %s.textLabels.length === 0" % PLOT)
    frame.dblclick(".scatter-canvas")  # fitted again: no thumbnails at this zoom
    frame.check("input[name=map_sprites]")
    page.wait_for_timeout(300)
    assert frame.evaluate("() => %s.sprites.drawn" % PROJECTOR) == 0


def test_pca_components_and_the_3d_view(page, served):
    base, data = served
    vectors = data["vectors"].astype(np.float64)
    reference = PCA(n_components=8).fit(vectors)
    expected = reference.transform(vectors)
    frame = open_tab(page, base, "run=table&emb=points&proj=pca")
    wait_map(frame)
    frame.click("button:has-text('Settings')")
    frame.select_option("select[name=pc_x]", "3")
    frame.wait_for_function("() => location.hash.includes('pc=3%2C2') || location.hash.includes('pc=3,2')")
    wait_map(frame)
    frame.wait_for_function("() => !document.querySelector('.pca-variance').innerText.includes('computing')")
    coords = plot_coords(frame)
    for axis, component in ((0, 2), (1, 1)):
        sign = np.sign(coords[:, axis] @ expected[:, component])
        np.testing.assert_allclose(coords[:, axis], sign * expected[:, component], atol=2e-3, rtol=1e-3)
    variance = frame.locator(".pca-variance").inner_text()
    for i, ratio in enumerate(reference.explained_variance_ratio_[:3]):
        assert "PC%d %.1f%%" % (i + 1, 100 * ratio) in variance
    # 3-D: the third component joins, a drag and the arrow keys turn the map, a click selects.
    frame.check("input[name=map_3d]")
    frame.wait_for_function("() => %s.dims === 3" % PROJECTOR)
    wait_map(frame)
    before = plot_coords(frame)
    box = frame.locator(".scatter-canvas").bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 220, box["y"] + 160, steps=6)
    page.mouse.up()
    turned = plot_coords(frame)
    assert frame.evaluate("() => %s.rotation.rotations" % PROJECTOR) > 0
    assert np.abs(turned - before).max() > 0.05
    # In 3-D the plain arrows turn the map and leave the focused point; Shift+arrows move
    # between points (panels/map_keys.js) and leave the map as it is.
    frame.focus(".scatter-canvas")
    focused = frame.evaluate("() => document.querySelector('.scatter-canvas').dataset.focused")
    assert focused != ""
    page.keyboard.press("ArrowRight")
    assert np.abs(plot_coords(frame) - turned).max() > 0.01
    assert frame.evaluate("() => document.querySelector('.scatter-canvas').dataset.focused") == focused
    assert "Shift+arrows move between points" in frame.get_attribute(".scatter-canvas", "aria-label")
    still = plot_coords(frame)
    rotations = frame.evaluate("() => %s.rotation.rotations" % PROJECTOR)
    for key in ("Shift+ArrowRight", "Shift+ArrowLeft", "Shift+ArrowUp", "Shift+ArrowDown"):
        page.keyboard.press(key)
        if frame.evaluate("() => document.querySelector('.scatter-canvas').dataset.focused") != focused:
            break
    assert frame.evaluate("() => document.querySelector('.scatter-canvas').dataset.focused") != focused
    assert frame.evaluate("() => %s.rotation.rotations" % PROJECTOR) == rotations
    np.testing.assert_array_equal(plot_coords(frame), still)
    frame.evaluate("() => { %s.resetView(); }" % PLOT)
    page.wait_for_timeout(200)
    # Focusing the canvas may have scrolled the page: where it is now, not where it was.
    frame.locator(".scatter-canvas").scroll_into_view_if_needed()
    box = frame.locator(".scatter-canvas").bounding_box()
    target = frame.evaluate("() => { const p = %s.screenPosition(7); return [p.x, p.y]; }" % PLOT)
    frame.evaluate("() => %s.requestDraw()" % PLOT)
    page.wait_for_timeout(200)
    hit = frame.evaluate("([x, y]) => %s.pick(x, y)" % PLOT, target)
    page.mouse.click(box["x"] + target[0], box["y"] + target[1])
    frame.wait_for_function("(i) => window.__embedanalysis.app.store.point === i", arg=hit)
    shot(page, "3d", "light")
    shot(page, "3d", "dark", (1920, 1080))


def test_tsne_settings_are_sent_and_refused_out_of_bounds(page, served):
    base, _ = served
    frame = open_tab(page, base, "run=table&emb=points&proj=tsne")
    frame.click("button:has-text('Settings')")
    frame.wait_for_selector("input[name=perplexity][placeholder='30.0'], input[name=perplexity][placeholder='30']")
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/projection?" in r.url else None)
    frame.fill("input[name=perplexity]", "12")
    frame.fill("input[name=learning_rate]", "80")
    # The row is rebuilt when a map or the defaults arrive (what showSettings does then):
    # what was typed and not yet applied stays, and so does the focus.
    frame.evaluate("() => %s.showSettings()" % PROJECTOR)
    assert frame.input_value("input[name=perplexity]") == "12"
    assert frame.input_value("input[name=learning_rate]") == "80"
    assert frame.evaluate("() => document.activeElement.name") == "learning_rate"
    frame.click("button[name=apply_settings]")
    wait_map(frame)
    frame.wait_for_function("() => location.hash.includes('perp=12')")
    assert any("perplexity=12" in u and "learning_rate=80" in u for u in asked)
    frame.fill("input[name=perplexity]", "1")
    frame.click("button[name=apply_settings]")
    frame.wait_for_selector(".map-overlay .error-box")
    assert "'perplexity'" in frame.locator(".map-overlay .error-box").inner_text()
    frame.click("button:has-text('Defaults')")
    wait_map(frame)
    frame.click("button.seg[data-method=umap]")
    frame.wait_for_selector("input[name=n_neighbors][placeholder='15']")
    assert frame.get_attribute("input[name=min_dist]", "placeholder") == "0.1"
    assert frame.get_attribute("input[name=n_epochs]", "placeholder") == "auto"
    wait_map(frame)  # UMAP with its defaults (not left computing while TensorBoard stops)
    shot(page, "settings", "dark")


def test_custom_projection_between_two_queries(page, served):
    base, data = served
    words, vectors = data["words"]["words"], data["words"]["vectors"].astype(np.float64)
    frame = open_tab(page, base, "run=words&emb=embedding&proj=custom")
    frame.wait_for_selector(".map-overlay .notice")  # asks for its queries
    frame.fill("input[name=custom_left]", "horror")
    frame.fill("input[name=custom_right]", "comedy")
    frame.fill("input[name=custom_down]", "tears")
    frame.fill("input[name=custom_up]", "nightmare")
    frame.click("button[name=apply_custom]")
    wait_map(frame)
    coords = plot_coords(frame)
    for axis, (a, b) in enumerate((("horror", "comedy"), ("tears", "nightmare"))):
        u = vectors[words.index(b)] - vectors[words.index(a)]
        expected = (vectors - vectors.mean(axis=0)) @ (u / np.linalg.norm(u))
        np.testing.assert_allclose(coords[:, axis], expected, atol=1e-4)
    assert "x: 1 → 1 rows" in frame.locator(".custom-status").inner_text()
    shot(page, "custom", "light", (1920, 1080))
    frame.fill("input[name=custom_right]", "zzz")
    frame.click("button[name=apply_custom]")
    frame.wait_for_function("() => document.querySelector('.custom-status').innerText.includes(\"'right'\")")


def test_bookmarks_save_list_open_and_delete(page, served):
    base, _ = served
    frame = open_tab(page, base, "run=table&emb=points&proj=pca&colour=score")
    wait_map(frame)
    frame.click("button[name=bookmark_view]")
    frame.wait_for_function("() => document.activeElement?.name === 'bookmark_name'")
    page.keyboard.type("scores on PCA")
    page.keyboard.press("Enter")
    frame.wait_for_selector("li.bookmark[data-name='scores on PCA']")
    link = frame.locator("li.bookmark .bookmark-link").input_value()
    assert "colour%3Dscore" in link or "colour=score" in urllib.parse.unquote(link)
    shot(page, "bookmarks", "light")
    # Another view, then the bookmark's link: colours by score again.
    frame.select_option("select[name=colour_by]", "group")
    other = page.context.new_page()
    other.goto(link)
    second = other.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]', state="attached").content_frame()
    second.wait_for_selector(".legend-gradient")
    assert second.locator("select[name=colour_by]").input_value() == "score"
    other.close()
    # Open (in place) and delete.
    frame.click("li.bookmark button[name=open_bookmark]")
    frame = page.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]', state="attached").content_frame()
    frame.wait_for_selector(".legend-gradient")
    frame.click("li.bookmark button[name=delete_bookmark]")
    frame.wait_for_selector("text=No bookmarks for this embedding yet.")
    listed = json.loads(page.evaluate("(u) => fetch(u).then((r) => r.text())",
                                      base + "/data/plugin/embedanalysis/bookmarks?run=table&embedding=points"))
    assert listed["bookmarks"] == []
