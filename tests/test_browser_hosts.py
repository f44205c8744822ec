"""DNS rebinding in a real Chromium (issue 24.2): a page at a name of the attacker's that now
resolves to this machine (Chromium's --host-resolver-rules plays the attacker's DNS) is the
same origin as TensorBoard to the browser; it still cannot read our routes nor tag, and the
tab opened by that name says which flag would allow it. The tab's own page (the address
TensorBoard printed) keeps working: test_browser_tags.py.
"""

import json
import os
import urllib.parse
import urllib.request

import numpy as np
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

from tensorboard_process import serving  # noqa: E402  (tests/ helper)
from test_browser_tab import ARTIFACTS, CHROMIUM, launch  # noqa: E402  (one Chromium set-up)

pytestmark = pytest.mark.browser

if not os.path.exists(CHROMIUM):  # pragma: no cover - environment without the browser
    pytest.skip("Debian's chromium is not installed (make chromium)", allow_module_level=True)

ROUTE = "/data/plugin/embedanalysis/"
NAME = "rebind.test"


@pytest.fixture(scope="module")
def tensorboard_url(tmp_path_factory):
    from tb_embedanalysis import write_embedding

    root = tmp_path_factory.mktemp("browser_hosts")
    rng = np.random.default_rng(3)
    write_embedding(str(root / "logs" / "run"), rng.normal(size=(60, 4)).astype(np.float32), name="emb",
                    metadata={"label": [str(i % 3) for i in range(60)], "id": [str(i) for i in range(60)]})
    with serving(root) as base:
        yield base


@pytest.fixture(scope="module")
def rebinding_browser():
    with playwright_sync.sync_playwright() as p:
        browser = launch(p, "--host-resolver-rules=MAP %s 127.0.0.1" % NAME)
        yield browser
        browser.close()


def _tags(base):
    query = urllib.parse.urlencode({"run": "run", "embedding": "emb"})
    with urllib.request.urlopen("%stags?%s" % (base + ROUTE, query), timeout=30) as response:
        return json.loads(response.read())["tags"]


def test_a_rebinding_page_can_neither_read_nor_tag(rebinding_browser, tensorboard_url):
    port = urllib.parse.urlsplit(tensorboard_url).port
    page = rebinding_browser.new_page(viewport={"width": 1400, "height": 800})
    page.set_default_timeout(60_000)
    try:
        page.goto("http://%s:%d/#embedanalysis" % (NAME, port))  # TensorBoard's own page: not ours to refuse
        frame = page.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]',
                                       state="attached").content_frame()
        # The tab loads (static files are the same for everyone) and says why it shows nothing.
        frame.wait_for_function("document.body.innerText.includes('--embedanalysis_allowed_hosts %s')" % NAME)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hosts_refused.png"))
        # What the attacker's script does, from that same origin, with the guard headers.
        answers = page.evaluate("""async () => {
            const read = await fetch('/data/plugin/embedanalysis/runs');
            const write = await fetch('/data/plugin/embedanalysis/tags', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-Embedanalysis-Request': '1'},
                body: JSON.stringify({run: 'run', embedding: 'emb', indices: [4], tag: 'ok'})});
            return [read.status, write.status, (await write.json()).error];
        }""")
    finally:
        page.close()
    assert answers[:2] == [403, 403], answers  # before: 200 and 200, row 4 tagged
    assert "--embedanalysis_allowed_hosts %s" % NAME in answers[2]
    assert _tags(tensorboard_url) == []
