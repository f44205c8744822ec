"""The tab's files arrive together (issue 25 item 4): real TensorBoard, real Chromium.

frontend/index.js adds a preload link for every file of the tab before it imports the app, so
the browser asks for them all at once instead of one import level at a time. Here, in the
browser: every script and stylesheet the tab fetched was preloaded, and each was fetched once
(a preload the import did not match, e.g. by its credentials mode, would be fetched twice);
nothing on our frame's console. tests/test_frontend_preload.py checks the list against the
import graph without a browser.
"""

import numpy as np
import pytest

from tensorboard_process import serving
from test_browser_tab import TIMEOUT_MS, browser_fixture, checked_page  # noqa: F401 (skips without Chromium; browser: a fixture)

pytestmark = pytest.mark.browser

OURS = "/data/plugin/embedanalysis/"

FETCHED = """() => performance.getEntriesByType('resource').map((e) => e.name)
    .filter((name) => /\\.(js|css)$/.test(new URL(name).pathname))"""
PRELOADED = """() => [...document.querySelectorAll(
    'link[rel=modulepreload], link[rel=preload], link[rel=stylesheet]')].map((link) => link.href)"""


@pytest.fixture(scope="module", name="served")
def served_fixture(tmp_path_factory):
    from tb_embedanalysis import write_embedding

    root = tmp_path_factory.mktemp("preload")
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, 300)
    vectors = (rng.normal(size=(3, 8))[labels] * 4 + rng.normal(size=(300, 8))).astype(np.float32)
    write_embedding(root / "logs" / "points", vectors, name="points", metadata=["c%d" % v for v in labels])
    with serving(root) as base:
        yield base


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_file_of_the_tab_is_preloaded_and_fetched_once(browser, served, scheme):
    with checked_page(browser, viewport={"width": 1280, "height": 800}, color_scheme=scheme) as page:
        console = []
        page.on("console", lambda m: console.append((m.type, m.text, m.location.get("url", ""))))
        page.goto(served + "/#embedanalysis")
        frame = page.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]',
                                       state="attached", timeout=TIMEOUT_MS).content_frame()
        frame.wait_for_selector(".card-clusters .cluster-table", timeout=TIMEOUT_MS)  # every panel loaded
        fetched = frame.evaluate(FETCHED)
        preloaded = frame.evaluate(PRELOADED)
        entry = served + OURS + "index.js"
        assert entry in fetched
        assert len(preloaded) >= 60 and all(OURS in href for href in preloaded), preloaded
        assert sorted(fetched) == sorted(set(fetched)), "fetched twice: %s" % sorted(
            {name for name in fetched if fetched.count(name) > 1})
        assert set(fetched) - {entry} == set(preloaded), (
            "fetched without a preload: %s; preloaded, never fetched: %s"
            % (sorted(set(fetched) - {entry} - set(preloaded)), sorted(set(preloaded) - set(fetched))))
        ours = [m for m in console if m[0] in ("error", "warning") and OURS in m[2]]
        assert ours == []
