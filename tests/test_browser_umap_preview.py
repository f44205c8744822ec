"""UMAP's layout in progress in the tab (issue 25.5): real TensorBoard, real Chromium.

While UMAP lays out 3,000 points, the map draws the layout so far under a banner naming
the epoch, then the final map replaces it (the banner gone, the points the route's map).
Screenshots of the preview in both themes land in test-artifacts/.
"""

import os
import re
import urllib.request

import numpy as np
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

from tensorboard_process import running_tensorboard  # noqa: E402  (tests/ helper)
from test_browser_projector import PLOT, open_tab, page, shared_page, shot, wait_map  # noqa: E402,F401  (page, shared_page: fixtures)
from test_browser_tab import CHROMIUM, browser_fixture  # noqa: E402,F401  (browser: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a 1,000-epoch UMAP of 3,000 points: ~6 s
N = 3000

if not os.path.exists(CHROMIUM):  # pragma: no cover - environment without the browser
    pytest.skip("Debian's chromium is not installed (make chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from tb_embedanalysis import write_embedding

    root = tmp_path_factory.mktemp("browser_umap_preview")
    rng = np.random.default_rng(25)
    labels = np.arange(N) % 10
    vectors = (rng.normal(size=(10, 32))[labels] * 4 + rng.normal(size=(N, 32))).astype(np.float32)
    write_embedding(root / "logs" / "blobs", vectors, name="points", metadata=["c%d" % v for v in labels])
    with running_tensorboard(root / "logs", extra_args=["--embedanalysis_cache_dir", str(root / "cache")]) as base:
        yield base


def test_the_layout_in_progress_is_drawn_and_labelled_then_replaced_by_the_map(page, served):  # noqa: F811
    base = served
    # 1,000 epochs (the setting's most): a preview long enough for two screenshots
    frame = open_tab(page, base, "run=blobs&emb=points&proj=umap&ep=1000")
    banner = frame.wait_for_selector(".map-preview:not([hidden])", timeout=120_000)
    text = banner.inner_text()
    said = re.search(r"UMAP layout in progress: epoch (\d+) of 1,000 — the final map replaces it", text)
    assert said is not None, text
    assert frame.evaluate("() => document.querySelector('.map-overlay').hidden")  # no progress box over it
    assert frame.evaluate("() => document.querySelector('.scatter-canvas').dataset.drawn > 0")
    preview = np.array(frame.evaluate("() => Array.from(%s.coords)" % PLOT), dtype=np.float64).reshape(-1, 2)
    assert preview.shape == (N, 2) and np.isfinite(preview).all()
    assert 0 < int(said.group(1)) < 1000
    shot(page, "umap-preview", "light")
    shot(page, "umap-preview", "dark")
    frame.wait_for_selector(".map-preview", state="hidden", timeout=120_000)
    wait_map(frame)
    shown = np.array(frame.evaluate("() => Array.from(%s.coords)" % PLOT), dtype=np.float32).reshape(-1, 2)
    query = "run=blobs&embedding=points&method=umap&n_epochs=1000&format=bin"
    with urllib.request.urlopen(base + "/data/plugin/embedanalysis/projection?" + query, timeout=60) as answer:
        assert answer.status == 200  # cached: the map the tab was sent
        final = np.frombuffer(answer.read(), dtype="<f4").reshape(N, 2)
    np.testing.assert_array_equal(shown, final)
    assert not np.allclose(preview, final.astype(np.float64), atol=1e-3)  # it was a layout in progress
    assert not frame.evaluate("() => document.querySelector('.map-stage').classList.contains('previewing')")
    shot(page, "umap-final", "dark")
