"""The data-quality card (issue 18) as a person sees it: real TensorBoard, real Chromium.

Digits with their sprite, a `split` column, planted far points (outliers) and planted near
copies of some digits, half of them in another split (leaks). Screenshots, light and dark,
land in test-artifacts/ (git-ignored).
"""


import numpy as np
import pytest

from test_browser_tab import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, Tab, browser_fixture, playwright_sync, shared_page_fixture, shared_tab  # noqa: F401 (browser, shared_page: fixtures)
from tensorboard_process import serving, settled_json

pytestmark = pytest.mark.browser

N_DIGITS = 500
N_FAR = 6
COPIED = [3, 50, 120, 260, 333, 401]  # rows copied with tiny noise; odd positions go to another split


def write_logs(root):
    from sklearn.datasets import load_digits

    from tb_embedanalysis import write_embedding

    digits = load_digits()
    rng = np.random.default_rng(0)
    x = (digits.data[:N_DIGITS] / 16.0).astype(np.float32)
    images = (digits.images[:N_DIGITS] / 16.0).astype(np.float32)
    labels = [str(t) for t in digits.target[:N_DIGITS]]
    split = ["test" if rng.random() < 0.2 else "train" for _ in range(N_DIGITS)]
    copies = x[COPIED] + rng.normal(scale=1e-3, size=(len(COPIED), x.shape[1])).astype(np.float32)
    far = rng.uniform(-3, 3, size=(N_FAR, x.shape[1])).astype(np.float32)
    vectors = np.vstack([x, copies, far])
    images = np.vstack([images, images[COPIED], rng.uniform(0, 1, size=(N_FAR, 8, 8)).astype(np.float32)])
    labels += [labels[i] for i in COPIED] + ["?"] * N_FAR
    for j, i in enumerate(COPIED):
        split.append(split[i] if j % 2 == 0 else ("test" if split[i] == "train" else "train"))
    split += ["train"] * N_FAR
    write_embedding(root / "digits", vectors, name="pixels", images=images, invert_images=True,
                    metadata={"Index": [str(i) for i in range(len(vectors))], "Label": labels, "split": split})
    far_rows = list(range(N_DIGITS + len(COPIED), len(vectors)))
    return far_rows


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality_browser")
    far_rows = write_logs(root / "logs")
    with serving(root) as base:
        yield base, far_rows


@pytest.fixture
def tab(shared_page, served):
    with shared_tab(shared_page, served[0]) as tab:
        yield tab


def wait_thumbnails(frame, selector):
    """The first card's thumbnail has arrived (images are lazy: only those near the view load),
    and none that finished loading is broken."""
    frame.locator(selector).first.scroll_into_view_if_needed()
    frame.wait_for_function(
        "(s) => { const imgs = [...document.querySelectorAll(s + ' img')];"
        " return imgs.length > 0 && imgs[0].complete && imgs[0].naturalWidth > 0"
        " && imgs.every(img => !img.complete || img.naturalWidth > 0); }", arg=selector)


def test_outlier_gallery_ranks_the_planted_points_first_and_selects_on_click(tab, served):
    base, far_rows = served
    tab.open()
    card = tab.frame.locator(".card-quality")
    cards = card.locator(".outlier-card")
    cards.first.wait_for()
    wait_thumbnails(tab.frame, ".card-quality .outlier-card")
    shown = [int(i) for i in cards.evaluate_all("cards => cards.map(c => c.dataset.index)")]
    assert sorted(shown[:N_FAR]) == far_rows
    metric = tab.frame.evaluate("window.__embedanalysis.app.store.query().metric")
    answer = settled_json(base, "outliers", run="digits", embedding="pixels", limit=24, metric=metric)
    assert shown == [e["index"] for e in answer["examples"]]  # the page the route serves, in its order
    assert tab.frame.evaluate("window.__embedanalysis.app.store.data.outliers") == shown
    cards.nth(1).click()
    tab.frame.wait_for_function("window.__embedanalysis.app.store.point === %d" % shown[1])
    assert "selected" in cards.nth(1).get_attribute("class")
    assert not tab.errors and not tab.dialogs


def test_duplicate_groups_mark_leaks_across_splits(tab):
    tab.open()
    card = tab.frame.locator(".card-quality")
    card.locator("button[data-tab=duplicates]").click()
    groups = card.locator(".dup-group")
    groups.first.wait_for()
    assert tab.frame.locator("select[name=split_column]").input_value() == "split"  # guessed from its name
    summary = card.locator(".dup-summary").inner_text()
    assert "default" in summary and "across splits of “split”" in summary
    assert groups.count() == len(COPIED)
    leaks = card.locator(".dup-group.leak")
    assert leaks.count() == len(COPIED) // 2
    first = [int(i) for i in leaks.first.locator(".dup-member").evaluate_all("b => b.map(x => x.dataset.index)")]
    assert first[0] in COPIED and first[1] == N_DIGITS + COPIED.index(first[0])
    assert "leak: test / train" in leaks.first.inner_text()
    wait_thumbnails(tab.frame, ".card-quality .dup-group")
    # No split column: no leaks; a threshold of 0 leaves no group (the copies are not exact).
    tab.frame.select_option("select[name=split_column]", "")
    card.locator(".dup-group").first.wait_for()
    assert card.locator(".dup-group.leak").count() == 0
    tab.frame.fill("input[name=threshold]", "0")
    tab.frame.dispatch_event("input[name=threshold]", "change")
    tab.frame.wait_for_function("document.querySelector('.dup-summary')?.textContent.includes('(given)')")
    assert card.locator(".dup-group").count() == 0 and "No near-duplicates" in card.inner_text()
    assert not tab.errors and not tab.dialogs


RINGS = """() => { const p = window.__embedanalysis.app.panels.map.plot;
    return {drawn: p.ringsDrawn, outliers: p.marks.outliers ? [...p.marks.outliers] : null,
            toggle: !document.querySelector('input[name=show_outliers]').closest('label').hidden}; }"""


def outlier_page(card):
    return [int(i) for i in card.locator(".outlier-card").evaluate_all("cards => cards.map(c => c.dataset.index)")]


def wait_rings(frame, count):
    frame.wait_for_function("() => { const r = (%s)(); return r.drawn.outliers === %d && r.drawn.hard > 0; }" % (RINGS, count))
    return frame.evaluate(RINGS)


def test_map_rings_the_outlier_page_beside_the_hard_examples(tab):
    tab.open()
    card = tab.frame.locator(".card-quality")
    card.locator(".outlier-card").first.wait_for()
    first = outlier_page(card)
    rings = wait_rings(tab.frame, len(first))  # one dashed ring per card, and the hard examples' rings too
    assert rings["outliers"] == first and rings["toggle"]
    # Hover and pick still find the point under a ring.
    pos = tab.frame.evaluate("i => window.__embedanalysis.app.panels.map.plot.screenPosition(i)", first[0])
    box = tab.frame.locator(".card-map .scatter-canvas").bounding_box()
    tab.page.mouse.move(box["x"] + pos["x"], box["y"] + pos["y"])
    tooltip = tab.frame.locator(".map-tooltip")
    tooltip.wait_for()
    assert "#%d" % first[0] in tooltip.inner_text()
    tab.page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    tab.frame.wait_for_function("window.__embedanalysis.app.store.point === %d" % first[0])
    # The next page moves the rings to its points.
    card.get_by_role("button", name="Next ›").click()
    tab.frame.wait_for_function("(f) => { const c = document.querySelector('.card-quality .outlier-card');"
                                " return c && Number(c.dataset.index) !== f; }", arg=first[0])
    second = outlier_page(card)
    assert not set(second) & set(first)
    assert wait_rings(tab.frame, len(second))["outliers"] == second
    # The toggle hides and shows them; the Duplicates tab lists no outliers, so none are ringed.
    tab.frame.locator("input[name=show_outliers]").uncheck()
    wait_rings(tab.frame, 0)
    tab.frame.locator("input[name=show_outliers]").check()
    wait_rings(tab.frame, len(second))
    card.locator("button[data-tab=duplicates]").click()
    assert not wait_rings(tab.frame, 0)["toggle"]
    card.locator("button[data-tab=outliers]").click()
    assert wait_rings(tab.frame, len(second))["outliers"] == second  # back on the page it showed
    # Another selection clears them (its outliers are held back here, so nothing comes back).
    tab.page.route("**/outliers?*", lambda route: None)
    tab.frame.fill("input[name=k]", "7")
    tab.frame.press("input[name=k]", "Tab")
    rings = wait_rings(tab.frame, 0)
    assert rings["outliers"] is None and not rings["toggle"]
    assert not tab.errors and not tab.dialogs


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots(tab, theme):
    tab.open()
    if theme == "dark":
        tab.page.evaluate("document.body.classList.add('dark-mode')")
        tab.frame.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    card = tab.frame.locator(".card-quality")
    card.locator(".outlier-card").first.wait_for()
    wait_thumbnails(tab.frame, ".card-quality .outlier-card")
    wait_rings(tab.frame, len(outlier_page(card)))
    tab.frame.locator(".card-map").screenshot(path=str(ARTIFACTS / ("quality_map_rings_%s.png" % theme)))
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(ARTIFACTS / ("quality_outliers_%s.png" % theme)))
    card.locator("button[data-tab=duplicates]").click()
    card.locator(".dup-group.leak").first.wait_for()
    wait_thumbnails(tab.frame, ".card-quality .dup-group")
    card.screenshot(path=str(ARTIFACTS / ("quality_duplicates_%s.png" % theme)))
