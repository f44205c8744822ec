"""Tagging in the tab, as a person does it: real TensorBoard, real Chromium (issue 18.3/18.4).

A hard example tagged from its card keeps its chip after a reload; "hide ok" takes the
points tagged ok out of the gallery; a page of another origin (a second local HTTP server)
that posts a form, or fetches with the guard header, to the tab's /tags writes nothing.
Screenshots (light and dark) land in test-artifacts/.
"""

import http.server
import json
import os
import pathlib
import threading
import urllib.parse
import urllib.request

import numpy as np
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

from tensorboard_process import serving  # noqa: E402  (tests/ helper)
from test_browser_tab import ARTIFACTS, CHROMIUM, browser_fixture, checked_page  # noqa: E402,F401  (one Chromium set-up; browser: a fixture)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000
ROUTE = "/data/plugin/embedanalysis/tags"

if not os.path.exists(CHROMIUM):  # pragma: no cover - environment without the browser
    pytest.skip("Debian's chromium is not installed (make chromium)", allow_module_level=True)


def _write_logs(logdir: pathlib.Path):
    from sklearn.datasets import load_digits

    from tb_embedanalysis import write_embedding

    digits = load_digits()
    n = 400
    x = digits.data[:n].astype(np.float32)
    labels = [str(t) for t in digits.target[:n]]
    for i in range(0, n, 25):  # planted label errors: the gallery's first cards
        labels[i] = str((int(labels[i]) + 3) % 10)
    write_embedding(logdir / "digits", x, name="digits", metadata={"Index": [str(i) for i in range(n)], "Label": labels},
                    images=(digits.images[:n] / 16.0).astype(np.float32), invert_images=True)


@pytest.fixture(scope="module")
def tensorboard_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_tags")
    _write_logs(root / "logs")
    with serving(root) as base:
        yield base


@pytest.fixture
def page(browser):
    with checked_page(browser) as page:
        yield page


def _tags(base):
    query = urllib.parse.urlencode({"run": "digits", "embedding": "digits"})
    with urllib.request.urlopen("%s%s?%s" % (base, ROUTE, query), timeout=30) as response:
        return json.loads(response.read())


def _open(page, base):
    page.goto(base + "/#embedanalysis")
    handle = page.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]', state="attached")
    frame = handle.content_frame()
    frame.wait_for_selector(".card-hard .hard-item")
    return frame


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / ("%s.png" % name)))


def test_tag_a_hard_example_reload_and_hide_ok(page, tensorboard_url):
    frame = _open(page, tensorboard_url)
    items = frame.locator(".card-hard .hard-item")
    first = items.nth(0)
    first_index = int(first.get_attribute("data-index"))
    first.locator("button[name=tag_label-error]").click()
    frame.wait_for_selector('.hard-item[data-index="%d"] .tag-chip.tag-label-error' % first_index)
    second = items.nth(1)
    second_index = int(second.get_attribute("data-index"))
    second.locator("button[name=tag_ok]").click()
    frame.wait_for_selector('.hard-item[data-index="%d"] .tag-chip.tag-ok' % second_index)
    # The selected point's view: tag it and give a corrected label.
    first.locator(".hard-card").click()
    frame.wait_for_selector('.point-tags[data-index="%d"]' % first_index)
    frame.fill(".point-tags input[name=corrected_label]", "7")
    frame.click(".point-tags .tag-correct button[type=submit]")
    frame.wait_for_selector('.hard-item[data-index="%d"] .tag-chip:has-text("→ 7")' % first_index)
    _shot(page, "tags_light")
    frame.locator(".card-hard").screenshot(path=str(ARTIFACTS / "tags_gallery_light.png"))
    page.evaluate("document.body.classList.add('dark-mode')")
    frame.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    _shot(page, "tags_dark")
    frame.locator(".card-hard").screenshot(path=str(ARTIFACTS / "tags_gallery_dark.png"))
    page.evaluate("document.body.classList.remove('dark-mode')")
    stored = {t["index"]: t for t in _tags(tensorboard_url)["tags"]}
    assert stored[first_index]["tag"] == "label error" and stored[first_index]["corrected_label"] == "7"
    assert stored[second_index]["tag"] == "ok"

    frame = _open(page, tensorboard_url)  # reload: the chips come back from the database
    frame.wait_for_selector('.hard-item[data-index="%d"] .tag-chip.tag-label-error' % first_index)
    assert "→ 7" in frame.locator('.hard-item[data-index="%d"] .tag-chip' % first_index).inner_text()
    frame.wait_for_selector('.hard-item[data-index="%d"] .tag-chip.tag-ok' % second_index)

    frame.check("input[name=hide_ok]")
    frame.wait_for_selector(".hide-ok:has-text('1 hidden')")
    shown = [int(i) for i in frame.locator(".card-hard .hard-item").evaluate_all("els => els.map(e => e.dataset.index)")]
    assert second_index not in shown and first_index in shown
    # Tagging ok with "hide ok" on takes the card out of the queue.
    frame.locator('.hard-item[data-index="%d"] button[name=tag_ok]' % first_index).click()
    frame.wait_for_selector(".hide-ok:has-text('2 hidden')")
    assert frame.locator('.hard-item[data-index="%d"]' % first_index).count() == 0
    _shot(page, "tags_hide_ok")


class _Evil(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):  # http.server's name
        body = ("""<!doctype html><html><body>
<form id=f method=post enctype=text/plain action="%s">
<input name='{"run":"digits","embedding":"digits","indices":[5],"tag":"ok","x":"' value='"}'>
</form>
<form id=g method=post action="%s"><input name=indices value=6><input name=tag value=ok></form>
<iframe name=sink></iframe>
<script>
window.fetchResult = fetch("%s", {method: "POST", mode: "cors",
  headers: {"Content-Type": "application/json", "X-Embedanalysis-Request": "1"},
  body: JSON.stringify({run: "digits", embedding: "digits", indices: [7], tag: "ok"})})
  .then(r => "answered " + r.status, e => "blocked: " + e);
document.getElementById('f').target = 'sink';
document.getElementById('g').target = 'sink';
document.getElementById('f').submit();
setTimeout(() => document.getElementById('g').submit(), 300);
</script></body></html>""" % (self.target, self.target, self.target)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_page_of_another_origin_cannot_tag(page, tensorboard_url):
    before = _tags(tensorboard_url)["tags"]
    _Evil.target = tensorboard_url + ROUTE
    server = http.server.HTTPServer(("127.0.0.1", 0), _Evil)  # port 0: the kernel picks a free one
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page.goto("http://127.0.0.1:%d/" % server.server_address[1])
        result = page.evaluate("window.fetchResult")
        assert result.startswith("blocked"), result  # the CORS preflight is never granted
        page.wait_for_timeout(1500)  # both forms were submitted into the iframe
        sink = page.frame(name="sink")
        assert sink is not None and "X-Embedanalysis-Request" in sink.content()  # TensorBoard's 403 answer
    finally:
        server.shutdown()
        server.server_close()
    after = _tags(tensorboard_url)["tags"]
    assert after == before
