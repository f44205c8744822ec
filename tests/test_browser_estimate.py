"""The cluster card's first answer (issue 25.2) as a person sees it: real TensorBoard, real
Chromium. A cold /clusters of 40,000 rows shows the sample's estimate, marked as one with
its intervals, under the exact pass's progress bar; the exact table then replaces it.
Screenshots (light, dark) land in test-artifacts/ (git-ignored).
"""

import time
import urllib.parse
import urllib.request

import numpy as np
import pytest

from test_browser_tab import ARTIFACTS, TIMEOUT_MS, Tab, browser_fixture, playwright_sync  # noqa: F401 (browser: a fixture)
from tensorboard_process import running_tensorboard

pytestmark = pytest.mark.browser

# Every /clusters request the tab makes (url, sent, done: ms on the frame's clock; status), in order.
RECORD_POLLS = """(() => {
  const fetched = window.fetch.bind(window), polls = (window.__polls = []);
  window.fetch = async (url, options) => {
    const sent = performance.now(), response = await fetched(url, options);
    if (String(url).includes('clusters?')) polls.push({url: String(url), sent, done: performance.now(), status: response.status});
    return response;
  };
})()"""

N_ROWS = 40_000  # above estimate_sample.QUICK_MIN_ROWS; wide clusters: seconds of exact pass


def write_logs(root):
    from tb_embedanalysis import write_embedding

    rng = np.random.default_rng(25)
    centres = rng.standard_normal((12, 48))
    labels = rng.integers(0, 12, N_ROWS)
    x = (centres[labels] + 1.5 * rng.standard_normal((N_ROWS, 48))).astype(np.float32)
    write_embedding(root / "wide", x, name="features", metadata=["class_%02d" % v for v in labels])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("estimate_browser")
    write_logs(root / "logs")
    # no disk cache: every TensorBoard start is a cold pass
    with running_tensorboard(root / "logs", extra_args=["--embedanalysis_cache_dir", "none"]) as base:
        yield base


@pytest.mark.parametrize("scheme", ["dark"])  # light: the same code; seen by hand (one cold pass keeps it short)
def test_the_estimate_shows_first_then_the_exact_table_replaces_it(browser, served, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.add_init_script(RECORD_POLLS)
    tab = Tab(page, served)
    k = 10
    tab.open("run%3Dwide%26emb%3Dfeatures%26metric%3Deuclidean%26k%3D" + str(k))
    card = ".card-clusters"
    note = tab.frame.wait_for_selector(card + " .estimate-note", timeout=TIMEOUT_MS)
    text = note.inner_text()
    assert "Estimate" in text and "of 40,000 points" in text and "95%" in text
    # marked figures: "≈ value" with the interval under it, in the headline and the table
    accuracy = tab.frame.inner_text(card + " .estimate .figure:first-child .figure-value")
    assert accuracy.startswith("≈") and "–" in accuracy, accuracy
    recall_cells = tab.frame.query_selector_all(card + " .estimate .cluster-table td .interval")
    assert len(recall_cells) >= 12, "every label's figures have intervals"
    assert tab.frame.query_selector(card + " .progress") is not None, "the exact pass's progress stays shown"
    ARTIFACTS.mkdir(exist_ok=True)
    tab.frame.query_selector(card).screenshot(path=str(ARTIFACTS / ("estimate_%s.png" % scheme)))
    estimated_counts = {row.get_attribute("data-label"): row.query_selector("td:nth-child(2)").inner_text()
                        for row in tab.frame.query_selector_all(card + " .estimate tbody tr")}
    # the exact answer replaces it: no note, no intervals, the same (exact) counts
    tab.frame.wait_for_selector(card + " .estimate-note", state="detached", timeout=4 * TIMEOUT_MS)
    tab.frame.wait_for_selector(card + " .cluster-table tbody tr", timeout=TIMEOUT_MS)
    assert tab.frame.query_selector(card + " .interval") is None
    exact_accuracy = tab.frame.inner_text(card + " .figure:first-child .figure-value")
    assert not exact_accuracy.startswith("≈") and exact_accuracy.endswith("%")
    exact_counts = {row.get_attribute("data-label"): row.query_selector("td:nth-child(2)").inner_text()
                    for row in tab.frame.query_selector_all(card + " tbody tr")}
    assert exact_counts == estimated_counts
    tab.frame.query_selector(card).screenshot(path=str(ARTIFACTS / ("estimate_replaced_%s.png" % scheme)))
    # transport.js: after a poll the server held (0.5 s), the next one leaves at once; a
    # pause counted from the answer (100 ms and more) left a result that ended in it unseen.
    polls = tab.frame.evaluate("() => window.__polls")
    same_url = [[p for p in polls if p["url"] == url] for url in {p["url"] for p in polls}]
    gaps = [after["sent"] - before["done"] for series in same_url for before, after in zip(series, series[1:])
            if before["status"] == 202 and before["done"] - before["sent"] >= 400]
    assert len(gaps) >= 2 and sorted(gaps)[len(gaps) // 2] < 50, polls
    assert tab.errors == []
    context.close()
    # Let the tab's other answers finish (hard examples, step comparison) so that TensorBoard
    # is idle when it is stopped: a loaded machine took longer than the helper waits.
    for route in ("hard_examples", "compare"):
        settled(served, route, run="wide", embedding="features", metric="euclidean", k=k)


def settled(base, route, **query):
    deadline = time.monotonic() + 600
    url = base + "/data/plugin/embedanalysis/" + route + "?" + urllib.parse.urlencode(query)
    while True:
        with urllib.request.urlopen(url, timeout=120) as response:
            if response.status == 200:
                return
        assert time.monotonic() < deadline, route
        time.sleep(0.2)
