"""Time from opening the Embedding Analysis tab to its first painted map and cluster table.

For N in (10,000, 100,000) synthetic points (32-d, 20 Gaussian labels, no sprite) written
with `write_embedding`, a real `tensorboard` serves the logdir and Debian's Chromium opens
`/#embedanalysis`. The tab records when the map and the cluster table were first painted
(`window.__embedanalysis.marks`, ms since the epoch, taken one animation frame after the
DOM/canvas update; the map is painted as soon as its coordinates arrive and recoloured
when the per-point labels do, both are reported); we subtract the moment TensorBoard created the tab's iframe (opening
the tab; TensorBoard's own page load before it is printed separately). Each N is opened twice:

  cold  the server computes the projection, kNN graph and statistics on demand;
  warm  a second page, the server answers from its caches (what a user sees on reload).

Also printed: one full redraw of the scatter plot (ms, median of 15 zoom steps), i.e. how
smooth wheel-zooming is at that size. Target: ≤ 1.5 s to both paints at 10,000 (issue 14
item 4 asks it cold).

--timeline also prints, for each opening, what happened in between on one clock (seconds
from opening the tab): every request the tab made as the browser saw it (Resource Timing:
queued = waiting for one of the six connections, then sent, first byte, done; each 202 poll
is its own line; the tab's own script and style files in one line: how many, in how many
waves the browser asked for them, an import waterfall being one wave per level of the module
graph), every request as our plugin served it, and every analysis job's submit,
start and end (bench/timeline/sitecustomize.py, loaded into the tensorboard process only
for this flag).

    .venv/bin/python bench/bench_tab_paint.py [--sizes 10000 100000] [--keep DIR] [--timeline]
    .venv/bin/python bench/bench_tab_paint.py --smoke    # 500 points, cold, with --timeline: does it still run?

Issue 25's unprunable cases (--data; each label one Gaussian cluster around an N(0, 1)
centre, no k-means cell inside a cluster prunes): `tight` spread 0.3 (bench_exact_large.py's),
`typical` 0.5 (bench_memory.py's), `wide` 0.8 (as wide as the centres' distance apart), with
--dim, --labels, the tab's --k and --cold-only (one cold opening per size, no warm one):

    .venv/bin/python bench/bench_tab_paint.py --sizes 200000 --data tight --dim 64 --labels 10 --cold-only
    .venv/bin/python bench/bench_tab_paint.py --sizes 100000 --data wide --dim 64 --labels 50 --cold-only
    .venv/bin/python bench/bench_tab_paint.py --sizes 100000 --data typical --dim 64 --labels 10 --k 1000 --cold-only

--latency-ms N has Chromium add N ms to every request's round trip (DevTools network
emulation), as when TensorBoard is reached over a network (an SSH tunnel, a remote machine)
rather than on the same machine.

--seed-kernels compiles the start-up warm-up's numba kernels into the fresh cache directory
before the server starts (what an earlier start on the machine leaves there), so a cold
opening measures the analysis, not also a first-ever start's compile:

    .venv/bin/python bench/bench_tab_paint.py --sizes 1000000 --data tight --dim 64 --labels 10 --cold-only --first-answer --seed-kernels

--first-answer stops each opening at the cluster card's first answer (the sample's estimate,
issue 25 item 2) instead of the exact table (the server, and its exact pass, then stop):

    .venv/bin/python bench/bench_tab_paint.py --sizes 100000 --data wide --dim 64 --labels 50 --k 1000 --cold-only --first-answer
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

import _support

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))  # its helpers

import chromium_launch  # tests/ helper: how the browser tests start Chromium
from tensorboard_process import running_tensorboard

HERE = pathlib.Path(__file__).resolve().parent

TARGET_WARM_S = 1.5


#: --data: the spread of each label's cluster around its N(0, 1) centre (see the docstring).
SPREADS = {"tight": 0.3, "typical": 0.5, "wide": 0.8}


def write_logdir(root: pathlib.Path, n: int, *, data: str = "default", dim: int = 32, n_labels: int = 20) -> None:
    from tb_embedanalysis import write_embedding

    rng = np.random.default_rng(n)
    labels = rng.integers(0, n_labels, size=n)
    if data == "default":  # 20 labels, 32-d, centres N(0, 9), spread 1: the first figures' data
        vectors = (rng.normal(size=(n_labels, dim))[labels] * 3.0 + rng.normal(size=(n, dim))).astype(np.float32)
    else:
        vectors = rng.normal(size=(n_labels, dim)).astype(np.float32)[labels]
        vectors += np.float32(SPREADS[data]) * rng.standard_normal((n, dim), dtype=np.float32)
    write_embedding(root / ("n%d" % n), vectors, name="points",
                    metadata={"Id": ["p%d" % i for i in range(n)], "Label": ["class%02d" % c for c in labels]})


RESOURCES = """() => performance.getEntriesByType('resource').map((e) => ({
    name: e.name, start: e.startTime, connect: e.connectStart, request: e.requestStart,
    first: e.responseStart, end: e.responseEnd, status: e.responseStatus}))"""


def static_waves(statics, gap_s: float = 0.01):
    """The tab's own files (scripts, styles) grouped by when the browser asked for them: a
    group starts after a gap of more than `gap_s` with no new request. An import waterfall
    shows as one group per level of the module graph; preloaded files as one group."""
    waves: list = []
    for r in sorted(statics, key=lambda r: r["start"]):
        if waves and r["start"] / 1000 - waves[-1][-1]["start"] / 1000 <= gap_s:
            waves[-1].append(r)
        else:
            waves.append([r])
    return waves


def print_timeline(opened_ms: float, resources, server_log: pathlib.Path, since_s: float, marks) -> None:
    """One line per browser request, server request and job, seconds from opening the tab."""
    origin = opened_ms / 1000
    rows = []
    statics = []
    for r in resources:
        route = r["name"].split("/data/plugin/embedanalysis/")[-1].split("?")[0]
        if "/data/plugin/embedanalysis/" not in r["name"]:
            continue  # TensorBoard's own requests
        if "." in route:  # our static files: summarised below
            statics.append(r)
            continue
        rows.append((r["start"] / 1000, "browser  %-14s queued %5.3f  sent %6.3f  first byte %6.3f  done %6.3f  %s"
                     % (route, (r["request"] - r["start"]) / 1000, r["request"] / 1000, r["first"] / 1000,
                        r["end"] / 1000, r["status"] or "")))
    if statics:
        waves = static_waves(statics)
        rows.append((min(r["start"] for r in statics) / 1000,
                     "static   %d files asked in %d waves (%s), all done %6.3f"
                     % (len(statics), len(waves),
                        ", ".join("%.3f: %d" % (w[0]["start"] / 1000, len(w)) for w in waves),
                        max(r["end"] for r in statics) / 1000)))
    if server_log.exists():
        for line in server_log.read_text().splitlines():
            e = json.loads(line)
            if e.get("start", e.get("t", 0)) < since_s and e.get("kind") != "kernel-warmup":
                continue  # before this opening (the start-up warm-up shown whenever it ran)
            if e["ev"] == "request" and e["route"] == "/*":
                continue  # a static file: the browser's summary line above
            if e["ev"] == "request":
                rows.append((e["start"] - origin, "server   %-14s %6.3f → %6.3f  %s" % (
                    e["route"].strip("/"), e["start"] - origin, e["end"] - origin, e["status"])))
            else:
                rows.append((e["t"] - origin, "job      %-10s %-14s %6.3f  (%s)" % (
                    e["ev"][4:], e["kind"], e["t"] - origin, e["thread"])))
    for name, t in marks.items():
        rows.append(((t - opened_ms) / 1000, "PAINTED  %-14s %6.3f" % (name, (t - opened_ms) / 1000)))
    for t, text in sorted(rows):
        print("  %7.3f  %s" % (t, text))


def open_tab(browser, base: str, run: str, timeout_s: float, timeline=None, k=None, first_answer=False, latency_ms=0):
    """Opens the tab in a fresh page.

    Returns ({map, mapLabels, clusters: s}, TensorBoard shell s, redraw ms). Times count from the
    moment TensorBoard creates the tab's iframe (its performance.timeOrigin), i.e. from
    opening the tab once TensorBoard's own page has loaded; the shell figure is how long
    TensorBoard itself took before that (not ours, printed for context). first_answer: stop
    at the cluster card's first answer (its estimate, or the table if that came first).
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    if latency_ms:  # Chromium's own emulation (DevTools), for the page and its same-origin iframe
        context.new_cdp_session(page).send("Network.emulateNetworkConditions", {
            "offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1})
    page.set_default_timeout(timeout_s * 1000)
    try:
        page.goto(base + "/#embedanalysis&ea=" + "run%3D" + run + ("" if k is None else "%26k%3D" + str(k)))
        frame = page.wait_for_selector('iframe[src*="plugin_entry.html?name=embedanalysis"]',
                                       state="attached").content_frame()
        # Recolouring needs every row's label; if that request fails the map says so
        # ("labels unavailable") and we report no time for it.
        table = ("(window.__embedanalysis.marks.clusters || window.__embedanalysis.marks['clusters-estimate'])"
                 if first_answer else "window.__embedanalysis.marks.clusters")
        frame.wait_for_function("() => window.__embedanalysis && window.__embedanalysis.marks.map && "
                                + table + " && (window.__embedanalysis.marks.mapLabels || "
                                "document.querySelector('.map-info').textContent.includes('labels unavailable'))",
                                timeout=timeout_s * 1000, polling=50)
        opened = frame.evaluate("() => performance.timeOrigin")
        shell = (opened - page.evaluate("() => performance.timeOrigin")) / 1000
        marks = frame.evaluate("() => window.__embedanalysis.marks")
        redraws = frame.evaluate("""async () => {
            const plot = window.__embedanalysis.app.panels.map.plot, times = [];
            for (let i = 0; i < 15; i++) {
                plot.zoomAt(plot.width / plot.dpr / 2, plot.height / plot.dpr / 2, i % 2 ? 1 / 1.2 : 1.2);
                await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
                times.push(plot.lastDrawMs);
            }
            return times;
        }""")
        seconds = {name: (marks[name] - opened) / 1000 if name in marks else float("nan")
                   for name in ("map", "mapLabels", "clusters", "clusters-estimate")}
        if timeline is not None:
            server_log, since_s = timeline
            print_timeline(opened, frame.evaluate(RESOURCES), server_log, since_s, marks)
        return seconds, shell, statistics.median(redraws)
    finally:
        context.close()


def seed_kernels(cache: pathlib.Path) -> None:
    """The start-up warm-up's kernels compiled into `cache`'s numba folder, in a child process
    (kernel_warmup.py; what an earlier start on this machine leaves there)."""
    import subprocess

    code = ("import sys; from tb_embedanalysis.analysis import kernel_warmup; "
            "kernel_warmup.start(sys.argv[1]).join()")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(cache)], check=True)
    print("kernels compiled into the fresh cache directory before the server: %.1f s"
          % (time.perf_counter() - started), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a cold paint")
    parser.add_argument("--keep", help="write the logdir here instead of a temporary directory")
    parser.add_argument("--timeline", action="store_true", help="print each opening's requests and jobs")
    parser.add_argument("--data", choices=["default", *SPREADS], default="default", help="see the docstring")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--k", type=int, help="the tab's k (default: the tab's own, 10)")
    parser.add_argument("--cold-only", action="store_true", help="open each size once, cold")
    parser.add_argument("--seed-kernels", action="store_true",
                        help="compile the exact search's kernels into the fresh cache directory before the server "
                             "starts, as a TensorBoard started before on this machine has them (numba's cache; no "
                             "result is cached)")
    parser.add_argument("--first-answer", action="store_true",
                        help="stop at the cluster card's first answer (the estimate), not the exact table")
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="emulate this round-trip latency per request (a TensorBoard reached over a network)")
    _support.add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.timeout, args.timeline = [500], 120.0, True
        args.cold_only = True  # the warm opening is the same steps again
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(args.keep or tmp)
        logdir = root / "logs"
        for n in args.sizes:
            if not (logdir / ("n%d" % n)).exists():
                write_logdir(logdir, n, data=args.data, dim=args.dim, n_labels=args.labels)
        rows = []
        cache = pathlib.Path(tmp) / "cache"  # always fresh: "cold" must mean cold
        server_log = pathlib.Path(tmp) / "timeline.jsonl"
        if args.seed_kernels:
            seed_kernels(cache)
        if args.timeline:  # read by bench/timeline/sitecustomize.py in the tensorboard process
            os.environ["EMBEDANALYSIS_TIMELINE"] = str(server_log)
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE / "timeline"), os.environ.get("PYTHONPATH")]))
        with running_tensorboard(logdir, extra_args=["--embedanalysis_cache_dir", str(cache)]) as base, \
                sync_playwright() as p:
            browser = chromium_launch.launch(p)
            try:
                for n in args.sizes:
                    for kind in ("cold",) if args.cold_only else ("cold", "warm"):
                        if args.timeline:
                            print("N=%d %s: timeline (s from opening the tab)" % (n, kind))
                        t, shell, redraw = open_tab(browser, base, "n%d" % n, args.timeout,
                                                    (server_log, time.time()) if args.timeline else None, args.k,
                                                    first_answer=args.first_answer, latency_ms=args.latency_ms)
                        rows.append((n, kind, t["map"], t["mapLabels"], t["clusters"], redraw))
                        print("N=%7d %-4s  map %6.2f s (coloured %.2f s)   cluster table %6.2f s (estimate %.2f s)"
                              "   redraw %5.1f ms   (TensorBoard's own page before the tab: %.2f s)   load %.1f"
                              % (n, kind, t["map"], t["mapLabels"], t["clusters"], t["clusters-estimate"], redraw,
                                 shell, os.getloadavg()[0]), flush=True)
            finally:
                browser.close()
    print()
    print("%9s  %-4s  %12s  %12s  %14s  %10s" % ("points", "run", "map paint", "coloured", "table paint", "redraw"))
    for n, kind, t_map, t_coloured, t_table, redraw in rows:
        print("%9s  %-4s  %10.2f s  %10.2f s  %12.2f s  %7.1f ms"
              % (format(n, ","), kind, t_map, t_coloured, t_table, redraw))
    warm = [r for r in rows if r[0] == 10_000 and r[1] == "warm"]
    if warm:
        worst = max(warm[0][2:5])
        print("\n10,000 points, warm: %.2f s to both paints (target ≤ %.1f s): %s"
              % (worst, TARGET_WARM_S, "OK" if worst <= TARGET_WARM_S else "MISSED"))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
