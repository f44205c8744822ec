"""A million points end to end (issue 14, item 3): real TensorBoard over HTTP, real Chromium.

    .venv/bin/python bench/bench_million.py --n 100000              # quick try first
    .venv/bin/python bench/bench_million.py                         # 1,000,000 x 128, spread "typical"
    .venv/bin/python bench/bench_million.py --spread wide --skip-browser
    ... --readme bench/README.md                                    # also write the figures there
    .venv/bin/python bench/bench_million.py --smoke                 # 3,000 points: does it still run?

Data: N x 128 float32, 1,000 labels (an ImageNet-sized classifier), isotropic Gaussian
clusters around N(0, 1) centres, with 1 in 1,000 labels flipped to another label (planted
label errors), written with `write_embedding` (tensor .bytes + one-column metadata.tsv) into
a temporary logdir. The spread is the per-dimension noise σ relative to the centres:

  typical  σ = 0.50: a point's cosine to its class centre is 0.89 on average, the way a
           trained classifier's penultimate layer groups a class (tight, well apart);
  wide     σ = 0.60: cosine 0.86 (= bench_hardness.py's data). Here a point's 10th
           neighbour is as far as the next cluster's edge, no cell bound can prune, and the
           exact graph is the plain N^2 D product (see bench/README.md "Exact kNN graph").

Measured, all through HTTP on 127.0.0.1 against one `tensorboard` process with an empty cache:

  cold pass    /runs, then /hard_examples and /clusters polled (as the tab does) until both
               answer 200; progress printed; gives up after --timeout seconds;
  RSS          of the tensorboard process and its children (psutil), idle before the first
               request and peak during everything after, against the tensor's bytes;
  /neighbors   warm latency p50 / p95 of --queries random points (one keep-alive connection);
  /projection  PCA as float32 bytes: cold, then warm (median of 5);
  Chromium     the tab opened warm: map painted, coloured by label, hard examples ringed;
               then 3 s of wheel zoom and drag through real input events, frames counted by
               requestAnimationFrame and redraws by the scatter plot.

Peers on the same data in the same run (after TensorBoard stopped, so they don't share the
cores): faiss IndexFlatIP on normalised rows (= cosine, exact) and IndexFlatL2, k = 10, query
rows in chunks until --peer-seconds and extrapolated when not finished; scikit-learn
NearestNeighbors(algorithm="brute", metric="cosine") on --sklearn-rows query rows,
extrapolated linearly to N. Peak memory of the whole run stays below ~4 GB at 1M.
"""

import argparse
import http.client
import json
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from typing import Dict, List, Tuple

import numpy as np

import _support

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))  # its helpers

import chromium_launch  # tests/ helper: Chromium as the browser tests start it (no GPU here either)
from tensorboard_process import running_tensorboard

D = 128
LABELS = 1000
FLIP_RATE = 0.001
K = 10
SPREADS = {"typical": 0.5, "wide": 0.6}
TARGETS = {"cold_s": 180.0, "neighbors_ms": 20.0, "map_s": 2.0, "fps": 30.0, "rss_ratio": 1.3}
ROUTE = "/data/plugin/embedanalysis/"


# -- data --------------------------------------------------------------------------------
def make_data(n, sigma, *, seed=0):
    """(vectors (n, D) float32, given labels (n,) int, planted flip rows (sorted), mean
    cosine of a point to its true class centre over the first 20,000 rows)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(LABELS, D)).astype(np.float32)
    true = rng.integers(0, LABELS, n)
    x = np.empty((n, D), dtype=np.float32)
    for start in range(0, n, 65536):  # bounded temporaries
        rows = true[start:start + 65536]
        x[start:start + rows.size] = centres[rows] + sigma * rng.normal(size=(rows.size, D)).astype(np.float32)
    flipped = np.sort(rng.choice(n, max(1, int(round(FLIP_RATE * n))), replace=False))
    given = true.copy()
    given[flipped] = (true[flipped] + rng.integers(1, LABELS, flipped.size)) % LABELS
    a, c = x[:20000].astype(np.float64), centres[true[:20000]].astype(np.float64)
    cosine = float(np.mean(np.einsum("ij,ij->i", a, c) / np.linalg.norm(a, axis=1) / np.linalg.norm(c, axis=1)))
    return x, given, flipped, cosine


def write_logdir(logdir, n, sigma):
    from tb_embedanalysis import write_embedding

    x, given, flipped, cosine = make_data(n, sigma)
    written = write_embedding(logdir / "million", x, name="points",
                              metadata={"Label": ["class%04d" % c for c in given]})
    return {"tensor_path": written.tensor_path, "tensor_bytes": int(x.nbytes), "flipped": flipped,
            "cosine_to_centre": cosine}


# -- HTTP ----------------------------------------------------------------------------------
class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 (reopened if the server closes it)."""

    def __init__(self, base):
        parsed = urllib.parse.urlparse(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.conn = None

    def get(self, path, params=None):
        """(status, body bytes, seconds)."""
        url = path + ("?" + urllib.parse.urlencode(params) if params else "")
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            started = time.perf_counter()
            try:
                self.conn.request("GET", url)
                response = self.conn.getresponse()
                body = response.read()
                return response.status, body, time.perf_counter() - started
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, path, params=None):
        status, body, _ = self.get(path, params)
        if status != 200:
            raise RuntimeError("%s answered %d: %s" % (path, status, body[:300]))
        return json.loads(body)


class RssSampler(threading.Thread):
    """RSS of a process and its children every 0.1 s; peak since the last reset. Without
    psutil (a smoke run) every figure is 0."""

    def __init__(self, pid, psutil):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid) if psutil is not None else None
        self.psutil = psutil
        self.now = self.peak = 0
        self.phases: Dict[str, int] = {}  # phase name -> peak during it (see phase())
        self.timeline: List[Tuple[float, int]] = []  # (perf_counter, RSS): 10 samples a second, ~100 kB an hour
        self.stop = threading.Event()

    def phase(self, name):
        """Close the phase `name`: its peak is the peak since the last phase ended."""
        self.phases[name] = max(self.peak, self.now)
        self.peak = self.now

    def sample(self):
        total = 0
        if self.root is None:
            return total
        for proc in [self.root] + self.root.children(recursive=True):
            try:
                total += proc.memory_info().rss
            except self.psutil.Error:  # a child that just exited
                pass
        return total

    def run(self):
        while not self.stop.wait(0.1):
            try:
                self.now = self.sample()
            except self.psutil.Error:
                return
            self.peak = max(self.peak, self.now)
            self.timeline.append((time.perf_counter(), self.now))


def cold_pass(client, run, timeout):
    """Poll /hard_examples and /clusters until both are 200 or `timeout` s; returns a dict."""
    params = {"run": run, "embedding": "points", "k": K, "metric": "cosine"}
    started = time.perf_counter()
    _, _, runs_s = client.get(ROUTE + "runs")
    routes = {"hard_examples": dict(params, limit=1000), "clusters": params}
    done: Dict[str, float] = {}
    answers: Dict[str, dict] = {}
    stages: List[Tuple[float, str, str]] = []
    last_print = 0.0
    while len(done) < len(routes):
        for name, p in routes.items():
            if name in done:
                continue
            status, body, _ = client.get(ROUTE + name, p)
            elapsed = time.perf_counter() - started
            if status == 200:
                done[name], answers[name] = elapsed, json.loads(body)
            elif status == 202:
                state = json.loads(body)
                if state.get("message") not in [m for _, _, m in stages]:
                    stages.append((elapsed, name, state.get("message")))
                if elapsed - last_print >= 5:
                    last_print = elapsed
                    print("  %6.1f s  /%s  %3.0f %%  %s" % (elapsed, name, 100 * (state.get("progress") or 0),
                                                             state.get("message")), flush=True)
            else:
                raise RuntimeError("/%s answered %d: %s" % (name, status, body[:300]))
        elapsed = time.perf_counter() - started
        if len(done) < len(routes) and elapsed > timeout:
            return {"finished": False, "seconds": elapsed, "done": done, "stages": stages, "runs_s": runs_s}
        time.sleep(0.2)  # the tab's first poll delay; the server itself holds each poll 0.5 s
    return {"finished": True, "seconds": max(done.values()), "done": done, "stages": stages,
            "runs_s": runs_s, "answers": answers, "started": started}


def warm_routes(client, run, n, queries):
    rng = np.random.default_rng(7)
    times = []
    base = {"run": run, "embedding": "points", "metric": "cosine"}  # the cold pass's metric (and graph)
    client.get(ROUTE + "neighbors", dict(base, index=0, k=K))  # row norms once per fingerprint
    for i in rng.choice(n, queries, replace=False):
        status, body, seconds = client.get(ROUTE + "neighbors", dict(base, index=int(i), k=K))
        if status != 200:
            raise RuntimeError("/neighbors answered %d: %s" % (status, body[:300]))
        times.append(seconds)
    proj = dict(base, method="pca", format="bin")
    started = time.perf_counter()
    while True:
        status, body, _ = client.get(ROUTE + "projection", proj)
        if status == 200:
            break
        if status != 202:
            raise RuntimeError("/projection answered %d: %s" % (status, body[:300]))
        time.sleep(0.2)
    cold = time.perf_counter() - started
    warm = [client.get(ROUTE + "projection", proj)[2] for _ in range(5)]
    ms = 1000 * np.asarray(times)
    return {"neighbors_p50_ms": float(np.percentile(ms, 50)), "neighbors_p95_ms": float(np.percentile(ms, 95)),
            "projection_cold_s": cold, "projection_warm_s": statistics.median(warm), "projection_bytes": len(body)}


# -- browser -------------------------------------------------------------------------------
# Input is dispatched inside the page, one event per animation frame, so the figure is what
# the page can paint, not how fast the driver delivers events (a CDP round trip per event was
# slower than a frame here). Dragging needs a real pointer down first (pointer capture).
INTERACT = """async ({kind, ms}) => {
    const plot = window.__embedanalysis.app.panels.map.plot, canvas = plot.canvas;
    const rect = canvas.getBoundingClientRect();
    const cx = rect.left + rect.width / 2, cy = rect.top + rect.height / 2;
    const draws0 = plot.drawCount, t0 = performance.now(), drawMs = [];
    let frames = 0, seen = plot.drawCount;
    await new Promise((done) => {
        const tick = () => {
            if (plot.drawCount !== seen) { seen = plot.drawCount; drawMs.push(plot.lastDrawMs); }
            if (performance.now() - t0 >= ms) return done();
            frames++;
            if (kind === 'zoom') {
                canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: frames % 2 ? 120 : -120, clientX: cx, clientY: cy,
                                                              bubbles: true, cancelable: true}));
            } else {
                const a = frames * 0.3;
                canvas.dispatchEvent(new PointerEvent('pointermove', {pointerId: 1, isPrimary: true, buttons: 1,
                    clientX: cx + 80 * Math.cos(a), clientY: cy + 80 * Math.sin(a), bubbles: true}));
            }
            requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
    });
    drawMs.sort((a, b) => a - b);
    return {seconds: (performance.now() - t0) / 1000, raf: frames, draws: plot.drawCount - draws0,
            drawMedianMs: drawMs.length ? drawMs[drawMs.length >> 1] : null};
}"""


def browser_figures(base, run, timeout, *, analysed=True, interact_ms=1500):
    """({map, mapLabels, clusters, rings: s from opening the tab}, pan/zoom figures). Without
    `analysed` (the cold pass did not finish) only the uncoloured map is waited for."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = chromium_launch.launch(p)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(timeout * 1000)
            # The metric the cold pass used (the peers' metric): the tab's default is auto, and a
            # different choice would make the "warm" tab compute a second graph.
            page.goto(base + "/#embedanalysis&ea=run%3D" + run + "%26metric%3Dcosine")
            iframe = page.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]', state="attached")
            frame = iframe.content_frame() if iframe is not None else None
            if frame is None:
                raise RuntimeError("TensorBoard showed no frame for the tab")
            # The first moment the map holds the hard-example rings (the map panel's `hard`).
            frame.wait_for_function("() => window.__embedanalysis", polling=20)
            frame.evaluate("""() => { const tick = () => { const a = window.__embedanalysis.app;
                const m = a && a.panels && a.panels.map;
                if (m && m.hard && m.coords) { window.__benchRings = performance.timeOrigin + performance.now(); return; }
                requestAnimationFrame(tick); }; tick(); }""")
            frame.wait_for_function("() => window.__embedanalysis.marks.map && window.__embedanalysis.marks.mapLabels"
                                    " && window.__embedanalysis.marks.clusters && window.__benchRings" if analysed else
                                    "() => window.__embedanalysis.marks.map", polling=50, timeout=timeout * 1000)
            opened = frame.evaluate("() => performance.timeOrigin")
            marks = dict(frame.evaluate("() => window.__embedanalysis.marks"))
            marks["rings"] = frame.evaluate("() => window.__benchRings")
            paint = {name: (marks[name] - opened) / 1000 if marks.get(name) else None
                     for name in ("map", "mapLabels", "clusters", "rings")}
            page.wait_for_timeout(500)
            frame.evaluate("() => { window.__embedanalysis.app.panels.map.plot.canvas.id = '__bench_map'; }")
            box = frame.locator("#__bench_map").bounding_box()
            if box is None:
                raise RuntimeError("the map's canvas is not on screen")
            zoom = frame.evaluate(INTERACT, {"kind": "zoom", "ms": interact_ms})
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            pan = frame.evaluate(INTERACT, {"kind": "pan", "ms": interact_ms})
            page.mouse.up()
            fps = {key: zoom[key] + pan[key] for key in ("seconds", "raf", "draws")}
            fps.update(zoom=zoom, pan=pan, drawMedianMs=max(zoom["drawMedianMs"] or 0, pan["drawMedianMs"] or 0))
            context.close()
            return paint, fps
        finally:
            browser.close()


# -- peers ---------------------------------------------------------------------------------
def faiss_graph(faiss, xn, index_kind, budget, chunk=8192):
    """Seconds for the exact k-NN graph of all rows (measured, or extrapolated from the
    chunks done within `budget`), rows done."""
    index = faiss.IndexFlatIP(D) if index_kind == "ip" else faiss.IndexFlatL2(D)
    started = time.perf_counter()
    index.add(xn)
    done = 0
    while done < len(xn) and time.perf_counter() - started < budget:
        index.search(xn[done:done + chunk], K + 1)
        done = min(len(xn), done + chunk)
    seconds = time.perf_counter() - started
    del index
    return seconds * len(xn) / done, done


def sklearn_graph(x, rows):
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=K + 1, algorithm="brute", metric="cosine").fit(x)
    started = time.perf_counter()
    nn.kneighbors(x[:rows])
    return (time.perf_counter() - started) * len(x) / rows


# -- report --------------------------------------------------------------------------------
def verdict(value, target, lower_is_better=True):
    if value is None:
        return "not reached"
    ok = value <= target if lower_is_better else value >= target
    return "meets" if ok else "MISSES"


def markdown(r):
    n, mb = r["n"], r["tensor_bytes"] / 2**20
    lines = ["N = %s × %d float32 (%.0f MB), %d labels, %d planted flips, spread `%s` (σ = %.2f, cosine to class "
             "centre %.3f), cosine, k = %d, %d cores, load average %.1f at the start."
             % (format(n, ","), D, mb, LABELS, r["flips"], r["spread"], r["sigma"], r["cosine_to_centre"], K,
                os.cpu_count() or 1, r["load"]),
             "", "| figure | measured | target | |", "|---|---:|---:|---|"]
    cold = r["cold"]
    if cold["finished"]:
        lines.append("| cold pass (/runs → /hard_examples and /clusters 200) | %.1f s | ≤ 180 s | %s |"
                     % (cold["seconds"], verdict(cold["seconds"], TARGETS["cold_s"])))
    else:
        lines.append("| cold pass | gave up after %.0f s at %s | ≤ 180 s | MISSES |"
                     % (cold["seconds"], cold["reached"]))
    for t, name, message in cold["stages"]:
        lines.append("| … `/%s` says \"%s\" from | %.1f s | | |" % (name, message, t))
    rss = r["rss"]
    lines.append("| RSS idle → peak (tensorboard + children) | %.0f → %.0f MB | | |" % (rss["idle_mb"], rss["peak_mb"]))
    ratio = (rss["peak_mb"] - rss["idle_mb"]) / mb
    lines.append("| peak above idle / tensor bytes | %.2f × | ≤ 1.3 × | %s |" % (ratio, verdict(ratio, TARGETS["rss_ratio"])))
    if rss.get("loaded_mb"):
        lines.append("| RSS when the pass starts its kNN graph (tensor loaded) / peak above it / tensor bytes "
                     "| %.0f MB / %.2f × | | |" % (rss["loaded_mb"], (rss["peak_mb"] - rss["loaded_mb"]) / mb))
    for name, peak in rss.get("phases_mb", {}).items():
        lines.append("| … peak during the %s, above idle / tensor bytes | %.2f × | | |"
                     % (name, (peak - rss["idle_mb"]) / mb))
    if "flips_found" in r:
        lines.append("| planted flips among the %d hardest | %d of %d | | |" % (r["flips"], r["flips_found"], r["flips"]))
    w = r.get("warm")
    if w:
        lines.append("| /neighbors warm p50 / p95 (%d points) | %.1f / %.1f ms | ≤ 20 ms | %s |"
                     % (r["queries"], w["neighbors_p50_ms"], w["neighbors_p95_ms"],
                        verdict(w["neighbors_p95_ms"], TARGETS["neighbors_ms"])))
        lines.append("| /projection PCA bytes (%.1f MB): cold / warm | %.2f s / %.3f s | | |"
                     % (w["projection_bytes"] / 2**20, w["projection_cold_s"], w["projection_warm_s"]))
    b = r.get("browser")
    if b:
        paint, fps = b
        shown = ["%.2f" % paint[k] if paint[k] is not None else "–" for k in ("map", "mapLabels", "rings", "clusters")]
        worst = None if None in (paint["map"], paint["mapLabels"], paint["rings"]) else max(
            paint["map"], paint["mapLabels"], paint["rings"])
        lines.append("| Chromium, warm: map painted / coloured / rings / cluster table | %s s | ≤ 2 s | %s |"
                     % (" / ".join(shown), verdict(worst, TARGETS["map_s"]) if worst is not None else
                        "map only: %s (no colours/rings without the pass)" % verdict(paint["map"], TARGETS["map_s"])))
        rate = fps["draws"] / fps["seconds"]
        lines.append("| pan/zoom: redraws/s (zoom / pan; frames/s), median redraw | %.1f (%.1f / %.1f; %.1f), %.0f ms | ≥ 30 /s | %s |"
                     % (rate, fps["zoom"]["draws"] / fps["zoom"]["seconds"], fps["pan"]["draws"] / fps["pan"]["seconds"],
                        fps["raf"] / fps["seconds"], fps["drawMedianMs"] or float("nan"),
                        verdict(rate, TARGETS["fps"], lower_is_better=False)))
    p = r.get("peers")
    if p:
        ours = cold["seconds"] if cold["finished"] else None
        for name, (seconds, rows) in p.items():
            how = "measured" if rows == n else "extrapolated from %s rows" % format(rows, ",")
            vs = "; our whole pass is %.2f × its time" % (ours / seconds) if ours else ""
            lines.append("| peer: %s kNN graph | %.0f s, %s%s | | |" % (name, seconds, how, vs))
    return "\n".join(lines)


def write_readme(path, tag, text):
    """Replace (or append to the "A million points" section) the block between the markers."""
    path = pathlib.Path(path)
    content = path.read_text()
    start, end = "<!-- bench_million %s -->" % tag, "<!-- /bench_million %s -->" % tag
    block = "%s\n%s\n%s" % (start, text, end)
    if start in content:
        before, rest = content.split(start, 1)
        content = before + block + rest.split(end, 1)[1]
    else:
        heading = "## A million points"
        if heading not in content:
            content = content.rstrip("\n") + "\n\n" + heading + " — `bench_million.py`\n"
        after = content.index(heading)
        nxt = content.find("\n## ", after + len(heading))
        nxt = len(content) if nxt < 0 else nxt
        content = content[:nxt].rstrip("\n") + "\n\n" + block + "\n" + content[nxt:]
    path.write_text(content)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--spread", choices=sorted(SPREADS), default="typical")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before the cold pass is given up")
    parser.add_argument("--queries", type=int, default=200, help="random points for /neighbors")
    parser.add_argument("--peer-seconds", type=float, default=240.0, help="budget per faiss peer (then extrapolated)")
    parser.add_argument("--sklearn-rows", type=int, default=2000)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--readme", help="write the figures into this bench/README.md")
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:  # every stage, tiny: 3,000 points, 10 queries, peers for a moment, no README
        args.n, args.queries, args.timeout, args.peer_seconds, args.sklearn_rows = 3000, 10, 120.0, 1.0, 100
        args.readme = None
    psutil = _support.peer("psutil", required=not args.smoke, what="the RSS figures")
    faiss = None if args.skip_peers else _support.peer("faiss", required=not args.smoke, what="the faiss peers")
    interact_ms = 300 if args.smoke else 1500
    sigma = SPREADS[args.spread]
    report = {"n": args.n, "spread": args.spread, "sigma": sigma, "queries": args.queries, "load": os.getloadavg()[0]}

    with tempfile.TemporaryDirectory(prefix="bench_million_") as tmp:
        logdir = pathlib.Path(tmp) / "logs"
        started = time.perf_counter()
        data = write_logdir(logdir, args.n, sigma)
        report.update(tensor_bytes=data["tensor_bytes"], flips=int(data["flipped"].size),
                      cosine_to_centre=data["cosine_to_centre"])
        print("wrote %s x %d (%.0f MB), spread %s (cosine to centre %.3f) in %.1f s"
              % (format(args.n, ","), D, data["tensor_bytes"] / 2**20, args.spread, data["cosine_to_centre"],
                 time.perf_counter() - started), flush=True)
        cache = pathlib.Path(tmp) / "cache"  # empty: "cold" means cold
        with running_tensorboard(logdir, extra_args=["--embedanalysis_cache_dir", str(cache)],
                                 with_process=True) as (base, process):
            rss = RssSampler(process.pid, psutil)
            time.sleep(2.0)
            idle = statistics.median(rss.sample() for _ in range(5))
            rss.start()
            client = Client(base)
            print("tensorboard idle RSS %.0f MB; cold pass (timeout %.0f s):" % (idle / 2**20, args.timeout), flush=True)
            cold = cold_pass(client, "million", args.timeout)
            rss.phase("cold pass")
            report["cold"] = cold
            if cold["finished"]:
                print("cold pass done in %.1f s (/runs %.1f s; %s)" % (
                    cold["seconds"], cold["runs_s"], ", ".join("/%s %.1f s" % kv for kv in cold["done"].items())))
                hardest = [ex["index"] for ex in cold["answers"]["hard_examples"]["examples"]][:data["flipped"].size]
                report["flips_found"] = int(np.isin(hardest, data["flipped"]).sum())
                print("hard_total %d; planted flips among the %d hardest: %d"
                      % (cold["answers"]["hard_examples"]["hard_total"], len(hardest), report["flips_found"]))
            else:
                last = cold["stages"][-1] if cold["stages"] else (0, "?", "?")
                status, body, _ = client.get(ROUTE + last[1], {"run": "million", "embedding": "points", "k": K})
                state = json.loads(body) if status == 202 else {}
                cold["reached"] = "%.0f %% (%s)" % (100 * (state.get("progress") or 0), state.get("message"))
                print("GAVE UP after %.0f s: %s reached %s" % (cold["seconds"], last[1], cold["reached"]), flush=True)
            if cold["finished"]:
                report["warm"] = warm_routes(client, "million", args.n, args.queries)
                rss.phase("warm routes")
                print("warm: %s" % json.dumps(report["warm"]), flush=True)
                if not args.skip_browser:
                    report["browser"] = browser_figures(base, "million", args.timeout, interact_ms=interact_ms)
                    print("browser: paint %s; pan/zoom %s" % report["browser"], flush=True)
            rss.stop.set()
            rss.join()
            rss.phase("browser" if cold["finished"] and not args.skip_browser else "rest")
            report["rss"] = {"idle_mb": idle / 2**20, "peak_mb": max(rss.phases.values()) / 2**20,
                             "phases_mb": {name: peak / 2**20 for name, peak in rss.phases.items()}}
            graph_from = [t for t, _, message in cold["stages"] if message and "kNN graph" in message]
            if graph_from and cold.get("started"):  # the tensor is in our store from here on
                at = cold["started"] + graph_from[0]
                report["rss"]["loaded_mb"] = next((v for t, v in rss.timeline if t >= at), 0) / 2**20
            print("RSS idle %.0f MB, peak %.0f MB" % (idle / 2**20, rss.peak / 2**20), flush=True)
        if not cold["finished"]:
            # The unfinished graph job would share the cores with what we time: a fresh server
            # for the routes that need no graph (neighbours, PCA map, the uncoloured paint).
            print("restarting tensorboard to time the routes that need no kNN graph", flush=True)
            with running_tensorboard(logdir, extra_args=["--embedanalysis_cache_dir", str(cache)]) as base:
                client = Client(base)
                client.get(ROUTE + "runs")
                report["warm"] = warm_routes(client, "million", args.n, args.queries)
                rss.phase("warm routes")
                print("warm: %s" % json.dumps(report["warm"]), flush=True)
                if not args.skip_browser:
                    report["browser"] = browser_figures(base, "million", args.timeout, analysed=False,
                                                         interact_ms=interact_ms)
                    print("browser: paint %s; pan/zoom %s" % report["browser"], flush=True)

        if not args.skip_peers:
            x = np.fromfile(data["tensor_path"], dtype=np.float32).reshape(args.n, D)
            x /= np.linalg.norm(x, axis=1, keepdims=True)  # cosine = inner product of unit rows
            peers = {"scikit-learn brute (cosine)": (sklearn_graph(x, min(args.sklearn_rows, args.n)),
                                                      min(args.sklearn_rows, args.n))}
            print("sklearn brute: %.0f s (extrapolated)" % peers["scikit-learn brute (cosine)"][0], flush=True)
            for kind, name, budget in (("ip", "faiss IndexFlatIP (cosine)", args.peer_seconds),
                                       ("l2", "faiss IndexFlatL2", args.peer_seconds / 4)):
                if faiss is None:
                    continue
                peers[name] = faiss_graph(faiss, x, kind, budget)
                print("%s: %.0f s (%d rows done)" % ((name,) + peers[name]), flush=True)
            report["peers"] = peers

    text = markdown(report)
    print()
    print(text)
    if args.readme:
        write_readme(args.readme, "%s n=%d" % (args.spread, args.n), text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
