"""The History panel (issue 16.5) as a person sees it: real TensorBoard, real Chromium.

The logdir holds sklearn's digits at four steps of the same rows (noisy PCA drifting to LDA,
as training separates the classes) with 40 planted label flips, a fifth step with a row too
few (left out, and the panel says why), and the same rows at a single step (no panel).
Screenshots, light and dark, land in test-artifacts/ (and /tmp/shots/ for review).
"""

import json
import pathlib
import time
import urllib.request

import numpy as np
import pytest

from test_browser_tab import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, Tab, browser_fixture, shared_page_fixture, shared_tab  # noqa: F401 (skips without Chromium; browser, shared_page: fixtures)
from tensorboard_process import serving
from threadpoolctl import threadpool_limits

import label_error_protocol

playwright_sync = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser

STEPS = (100, 400, 1600, 6400)
MEMO_STEPS = (50, 100, 200, 400, 800, 1600)
STATE_MEMO = "run%3Dmemo%26embedding%3Dlogits%26metric%3Deuclidean"
FLIPS = 40
STATE = "run%3Dtrain%26embedding%3Dlogits%26metric%3Deuclidean"
SHOTS = pathlib.Path("/tmp/shots")


def write_logs(root: pathlib.Path):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from tb_embedanalysis import write_embedding

    digits = load_digits()
    x = digits.data.astype(np.float64)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(digits.target), size=FLIPS, replace=False)
    noisy = digits.target.copy()
    noisy[flipped] = (noisy[flipped] + 1) % 10  # planted label errors
    lda = LinearDiscriminantAnalysis(n_components=9).fit_transform(x, digits.target)
    early = PCA(n_components=9, random_state=0).fit_transform(x + rng.normal(scale=4.0, size=x.shape))
    early *= lda.std() / early.std()
    metadata = {"Index": [str(i) for i in range(len(noisy))], "Label": [str(v) for v in noisy]}
    images = (digits.images / 16.0).astype(np.float32)
    for t, step in enumerate(STEPS):
        w = t / (len(STEPS) - 1)
        vectors = ((1 - w) * early + w * lda).astype(np.float32)
        write_embedding(root / "train", vectors, name="logits", step=step, metadata=metadata, images=images,
                        invert_images=True)
    short = {key: values[:-1] for key, values in metadata.items()}
    with pytest.warns(Warning, match="step 50"):  # the writer says the rows changed (issue 16.6)
        write_embedding(root / "train", early[:-1].astype(np.float32), name="logits", step=50, metadata=short)
    write_embedding(root / "single", lda.astype(np.float32), name="logits", step=1, metadata=metadata)
    # A network that memorises its label errors (issue 26): the count, the cut, the marker.
    with threadpool_limits(1):
        run = label_error_protocol.make_run("digits", "confusable", "mlp256", 100, rows=400, last=MEMO_STEPS[-1],
                                            count=len(MEMO_STEPS), folds=0)
    labels = {"Index": [str(i) for i in range(run.noisy.size)], "Label": [str(v) for v in run.noisy]}
    for step, logits in zip(run.steps, run.logits):
        write_embedding(root / "memo", logits, name="logits", step=step, metadata=labels)
    return set(flipped.tolist())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("history_browser")
    flipped = write_logs(root / "logs")
    with serving(root) as base:
        yield base, flipped


@pytest.fixture
def tab(shared_page, served):
    with shared_tab(shared_page, served[0]) as tab:
        yield tab


def history_answer(base, run="train", route="history", **extra):
    query = "run=%s&embedding=logits&metric=euclidean" % run + "".join("&%s=%s" % kv for kv in extra.items())
    for _ in range(600):
        with urllib.request.urlopen(base + "/data/plugin/embedanalysis/%s?" % route + query, timeout=60) as response:
            body = json.loads(response.read())
            if response.status == 200:
                return body
        time.sleep(0.2)
    raise AssertionError("/history kept computing")


def open_history(tab):
    tab.open(STATE)
    tab.frame.wait_for_function("window.__embedanalysis.marks.history", timeout=120_000)
    return tab


CHART = """() => { const p = window.__embedanalysis.app.panels.history;
    return {n: p.chart.n, rings: (p.chart.marks.hard || []).map((q) => p.answer.points.index[q]),
            selected: p.chart.marks.selected === null ? null : p.answer.points.index[p.chart.marks.selected],
            hidden: p.node.hidden, drawn: Number(p.chart.canvas.dataset.drawn || 0)}; }"""


def click_canvas(tab, canvas_expr, position, before_click=None):
    """Click at a canvas-relative CSS position (the tab is inside TensorBoard's iframe)."""
    tab.frame.evaluate("() => (%s).scrollIntoView({block: 'center'})" % canvas_expr)
    rect = tab.frame.evaluate("() => { const r = (%s).getBoundingClientRect(); return {x: r.left, y: r.top}; }" % canvas_expr)
    box = tab.page.locator("iframe").first.bounding_box()
    x, y = box["x"] + rect["x"] + position["x"], box["y"] + rect["y"] + position["y"]
    tab.page.mouse.move(x, y)
    if before_click:
        before_click()
    tab.page.mouse.click(x, y)


def test_panel_draws_every_point_and_rings_the_planted_flips(tab, served):
    base, flipped = served
    answer = history_answer(base)
    open_history(tab)
    tab.frame.wait_for_function("() => (%s)().drawn > 0" % CHART)
    chart = tab.frame.evaluate(CHART)
    assert not chart["hidden"] and chart["n"] == answer["n"] == 1797
    scores = np.asarray(answer["points"]["score"])
    expected = min(50, int((scores >= 0.5).sum()))
    assert len(chart["rings"]) == expected > 0
    assert len(set(chart["rings"]) & flipped) >= 0.75 * FLIPS  # the planted errors are what is ringed
    # The step with a row too few is named, with why.
    left_out = tab.frame.locator(".card-history .left-out-list li[data-step='50']")
    assert "1796 rows" in left_out.inner_text()
    accuracy = tab.frame.locator(".history-accuracy svg.step-chart circle")
    assert accuracy.count() == 2 * len(STEPS)  # kNN accuracy, and the likely errors' fit (issue 26)
    # A single step has no history: no panel.
    tab.choose("single", "logits")
    tab.frame.wait_for_function("() => window.__embedanalysis.app.panels.history.node.hidden")


def test_clicking_a_ringed_point_selects_it_and_shows_its_steps(tab):
    open_history(tab)
    tab.frame.wait_for_function("() => (%s)().drawn > 0" % CHART)
    target = tab.frame.evaluate("""() => { const p = window.__embedanalysis.app.panels.history;
        const q = p.chart.marks.hard[0]; return {row: p.answer.points.index[q], pos: p.chart.screenPosition(q)}; }""")

    def hover_card():  # hovering tells the point's row, label and score
        tip = tab.frame.locator(".cartography-tooltip:not([hidden])")
        tip.wait_for()
        assert "#" in tip.inner_text() and "history score" in tip.inner_text()

    click_canvas(tab, "window.__embedanalysis.app.panels.history.chart.canvas", target["pos"], hover_card)
    view = tab.frame.locator(".history-point .point-history")
    view.wait_for()
    row = int(view.get_attribute("data-index"))
    # The ringed point, or one drawn on top of it at the same place.
    near = tab.frame.evaluate("""([a, b]) => { const p = window.__embedanalysis.app.panels.history;
        const pa = p.chart.screenPosition(p.rowToPosition[a]), pb = p.chart.screenPosition(p.rowToPosition[b]);
        return Math.hypot(pa.x - pb.x, pa.y - pb.y); }""", [row, target["row"]])
    assert near < 8
    assert tab.frame.evaluate(CHART)["selected"] == row
    assert view.locator("svg.margin-spark circle").count() == len(STEPS)
    assert view.locator(".vote-steps li").count() == len(STEPS)
    assert "rank" in view.inner_text()
    # The rest of the tab hears the selection: the neighbour panel lists its neighbours.
    tab.frame.locator(".neighbor-list .point-row").first.wait_for()
    assert tab.frame.locator(".query-head .index").text_content() == "#%d" % row


def test_hard_example_cards_carry_a_margin_sparkline(tab):
    open_history(tab)
    tab.frame.wait_for_function("window.__embedanalysis.marks.hardSparklines", timeout=120_000)
    cards = tab.frame.locator(".card-hard .hard-card")
    assert cards.count() > 0
    assert tab.frame.locator(".card-hard .hard-card .hard-spark svg.margin-spark").count() == cards.count()
    dots = cards.first.locator("svg.margin-spark circle")
    assert dots.count() == len(STEPS)


def test_churn_pickers_change_the_answer(tab, served):
    open_history(tab)
    churn = tab.frame.locator(".history-churn .churn")
    churn.wait_for()
    assert (churn.get_attribute("data-step-a"), churn.get_attribute("data-step-b")) == ("100", "6400")
    first = float(tab.frame.locator(".churn-mean").text_content())
    bars = [int(v) for v in tab.frame.locator(".churn-bar").evaluate_all("bars => bars.map((b) => b.dataset.count)")]
    assert sum(bars) == 1797 and len(bars) == 11  # overlap 0..k of every point
    tab.select("churn_a", "1600")
    tab.frame.locator(".history-churn .churn[data-step-a='1600']").wait_for()
    second = float(tab.frame.locator(".churn-mean").text_content())
    assert second > first  # neighbours change less over the last two steps than over all four
    moved = tab.frame.locator(".churn-moved .moved-point").first
    index = moved.get_attribute("data-index")
    moved.click()
    tab.frame.locator(".history-point .point-history[data-index='%s']" % index).wait_for()


def test_confusion_cell_shows_its_timeline(tab):
    open_history(tab)
    tab.frame.locator(".cm-cell").first.wait_for()
    cell = tab.frame.locator(".cm-cell:not(.diag):not(.zero)").first
    given, voted = cell.get_attribute("data-label"), cell.get_attribute("data-predicted")
    cell.click()
    pair = tab.frame.locator(".history-timeline .timeline-pair[data-label='%s'][data-predicted='%s']" % (given, voted))
    pair.wait_for()
    words = pair.locator(".timeline-words").inner_text()
    assert ("“%s”" % given) in words and ("“%s”" % voted) in words
    assert pair.locator("svg.step-chart circle").count() == len(STEPS)


def test_map_draws_arrows_for_points_moved_since_a_step(tab):
    open_history(tab)
    tab.frame.wait_for_function("document.querySelector('.map-overlay').hidden")
    offered = tab.frame.locator("select[name=moved_since] option").all_text_contents()
    assert offered == ["50", "100", "400", "1600"]  # every other step of this embedding, oldest first
    tab.select("moved_since", "100")  # choosing a step turns the arrows on
    tab.frame.wait_for_function("window.__embedanalysis.marks.mapArrows", timeout=120_000)
    arrows = tab.frame.evaluate("() => window.__embedanalysis.app.panels.map.plot.arrows")
    assert len(arrows) == 100
    assert all(a["distance"] >= b["distance"] for a, b in zip(arrows, arrows[1:]))
    assert "moved most since step 100" in tab.frame.locator(".moved-info").text_content()
    tab.frame.locator(".card-map").screenshot(path=str(ARTIFACTS / "history_map_arrows.png"))
    SHOTS.mkdir(exist_ok=True)
    tab.frame.locator(".card-map").screenshot(path=str(SHOTS / "history_map_arrows.png"))
    # t-SNE and UMAP maps are not aligned between steps: the control says so, no arrows.
    tab.frame.click("button[data-method=tsne]")
    tab.frame.wait_for_function("() => !window.__embedanalysis.app.panels.map.plot.arrows")
    assert tab.frame.locator("input[name=show_moved]").is_disabled()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots(tab, theme):
    open_history(tab)
    tab.frame.locator(".history-churn .churn").wait_for()
    tab.frame.wait_for_function("window.__embedanalysis.marks.hardSparklines", timeout=120_000)
    if theme == "dark":
        tab.page.evaluate("document.body.classList.add('dark-mode')")
        tab.frame.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    # A ringed point selected, so the point's history is on screen too.
    tab.frame.evaluate("""() => { const p = window.__embedanalysis.app.panels.history;
        p.store.selectPoint(p.answer.points.index[p.chart.marks.hard[0]]); }""")
    tab.frame.locator(".history-point .point-history").wait_for()
    tab.page.wait_for_timeout(300)
    SHOTS.mkdir(exist_ok=True)
    tab.page.set_viewport_size({"width": 1400, "height": 3600})  # the tab scrolls inside its iframe: show all of it
    tab.page.wait_for_timeout(400)
    for folder in (ARTIFACTS, SHOTS):
        tab.page.screenshot(path=str(folder / ("history_tab_%s.png" % theme)))
        tab.frame.locator(".card-history").screenshot(path=str(folder / ("history_%s.png" % theme)))
        tab.frame.locator(".card-hard").screenshot(path=str(folder / ("history_hard_%s.png" % theme)))


def test_count_cut_line_and_memorisation_marker(tab, served):
    """Issue 26: the History card says how many label errors and marks where memorisation
    starts; the gallery ranked by history draws the cut line after the estimated count."""
    base = served[0]
    answer = history_answer(base, run="memo")
    memo, errors = answer["memorisation"], answer["errors"]
    assert memo["verdict"] == "ok" and memo["onset_step"] in MEMO_STEPS[2:]
    tab.open(STATE_MEMO)
    tab.frame.wait_for_function("window.__embedanalysis.marks.history", timeout=120_000)
    summary = tab.frame.locator(".card-history .history-summary .errors-estimate")
    assert summary.inner_text() == errors["message"] and ("about %d likely label errors" % errors["cut"]) in errors["message"]
    assert tab.frame.locator(".card-history .memorisation-note").inner_text() == memo["message"]
    marker = tab.frame.locator(".history-accuracy svg.step-chart .chart-marker")
    assert marker.count() == 1 and "memorisation %d" % memo["onset_step"] in marker.text_content()
    # The marker stands at the onset step: the x of that step's dot.
    at = tab.frame.evaluate("""(i) => { const svg = document.querySelector('.history-accuracy svg.step-chart');
        const line = svg.querySelector('.chart-marker-line').getAttribute('d');
        return [Number(line.slice(1).split(',')[0]), Number(svg.querySelectorAll('circle')[i].getAttribute('cx'))]; }""",
                            MEMO_STEPS.index(memo["onset_step"]))
    assert abs(at[0] - at[1]) < 0.5
    # The gallery by history, on the page holding the cut: the line after exactly the examples
    # scoring at least the cut's score.
    offset = max(0, errors["cut"] - 12)
    page = history_answer(base, run="memo", route="hard_examples", method="history", offset=offset, limit=24)
    above = sum(ex["score"] >= errors["cut_score"] for ex in page["examples"])
    assert 0 < above < len(page["examples"])
    tab.frame.evaluate("(o) => window.__embedanalysis.app.panels.hard.store.setHardFilter({method: 'history', offset: o})",
                       offset)
    line = tab.frame.locator(".card-hard .hard-grid .hard-cut")
    line.wait_for()
    assert "about %d likely label errors above this line" % errors["cut"] in line.inner_text()
    low, high = round(100 * errors["expected_found_low"]), round(100 * errors["expected_found"])
    assert line.inner_text().endswith("should find about %s %%" % ("%d–%d" % (low, high) if low < high else high))
    assert tab.frame.evaluate("""() => { const line = document.querySelector('.card-hard .hard-grid .hard-cut');
        return [...line.parentElement.children].indexOf(line); }""") == above
    assert tab.frame.locator(".card-hard .errors-estimate").inner_text() == errors["message"]
    for theme in ("light", "dark"):
        if theme == "dark":
            tab.page.evaluate("document.body.classList.add('dark-mode')")
            tab.frame.wait_for_function("document.documentElement.dataset.theme === 'dark'")
            tab.page.wait_for_timeout(300)
        for folder in (ARTIFACTS, SHOTS):
            folder.mkdir(exist_ok=True)
            tab.frame.locator(".card-history").screenshot(path=str(folder / ("label_errors_history_%s.png" % theme)))
            tab.frame.locator(".card-hard").screenshot(path=str(folder / ("label_errors_hard_%s.png" % theme)))


def post_tags(base, body):
    request = urllib.request.Request(base + "/data/plugin/embedanalysis/tags", data=json.dumps(body).encode("utf-8"),
                                     headers={"Content-Type": "application/json", "X-Embedanalysis-Request": "1"},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200


def test_hide_ok_takes_tagged_points_out_of_the_rings(tab, served):
    """Issue 18 item 4: History, like the gallery, can hide points tagged "ok" (a queue)."""
    base, _ = served
    scores = np.asarray(history_answer(base)["points"]["score"])
    order = np.lexsort((np.arange(scores.size), -scores))
    top = [int(i) for i in order[:3]]
    post_tags(base, {"run": "train", "embedding": "logits", "indices": top, "tag": "ok"})
    try:
        open_history(tab)
        tab.frame.wait_for_function("() => (%s)().drawn > 0" % CHART)
        assert set(top) <= set(tab.frame.evaluate(CHART)["rings"])  # off: tagged points are still ringed
        tab.frame.locator(".card-history input[name=history_hide_ok]").check()
        tab.frame.wait_for_function("() => !(%s)().rings.includes(%d)" % (CHART, top[0]))
        rings = tab.frame.evaluate(CHART)["rings"]
        expected = [int(i) for i in order if int(i) not in top and scores[i] >= 0.5][:50]
        assert sorted(rings) == sorted(expected)  # the next likeliest took their places
        assert "3 hidden" in tab.frame.locator(".card-history .cartography-caption + label").inner_text()
        # The gallery's toggle is the same one.
        assert tab.frame.locator(".card-hard input[name=hide_ok]").is_checked()
    finally:
        post_tags(base, {"run": "train", "embedding": "logits", "indices": top, "tag": None})
