"""Concurrent HTTP clients against a running TensorBoard, for the load test and bench/bench_load.py.

Each client is a thread with its own keep-alive `http.client` connection (TensorBoard speaks
HTTP/1.1). It picks a route from a weighted mix, sends it, reads the whole answer and sorts
it into: 200 (latency kept per route), 202 (the engine is computing: counted apart, the
client waits a little and asks again, as the tab does), or an error (any 5xx, any 4xx,
a wrong Content-Type, a body that does not check out, a dropped connection). The loop
stops by itself at its deadline: nothing here runs unbounded.
"""

from __future__ import annotations

import collections
import dataclasses
import http.client
import json
import random
import threading
import time
import urllib.parse
from typing import Callable, Dict, List, Optional, Sequence, Tuple

PREFIX = "/data/plugin/embedanalysis"
POLL_SECONDS = 0.2  # a client that got 202 waits this long before its next request


@dataclasses.dataclass(frozen=True)
class Target:
    """The embedding the clients query: run, name, N, and whether it has a sprite."""

    run: str
    embedding: str
    n: int
    has_sprite: bool = True


#: route -> weight of the default mix (a tab user mostly clicks points: neighbours, thumbnails).
DEFAULT_MIX = {"/neighbors": 4, "/thumbnail": 4, "/clusters": 2, "/hard_examples": 2, "/projection": 1}


def request_for(route: str, target: Target, rng: random.Random) -> Dict[str, str]:
    """Query parameters of one request of `route` (fixed k/metric so the caches can warm)."""
    query = {"run": target.run, "embedding": target.embedding}
    if route == "/neighbors":
        query.update(index=str(rng.randrange(target.n)), k="10")
    elif route == "/thumbnail":
        query.update(index=str(rng.randrange(target.n)))
    elif route == "/hard_examples":
        query.update(limit="50", offset=str(rng.choice([0, 0, 50])))
    elif route == "/projection":
        query.update(method="pca", format="bin")
    return query


def check_body(route: str, target: Target, status: int, headers, body: bytes) -> Optional[str]:
    """None if a 200 answer of `route` looks right, else what is wrong with it."""
    content_type = headers.get("Content-Type", "")
    if headers.get("X-Content-Type-Options") != "nosniff":
        return "no X-Content-Type-Options: nosniff"
    if route == "/thumbnail":
        if not content_type.startswith("image/png") or not body.startswith(b"\x89PNG"):
            return "thumbnail is not a PNG (%s)" % content_type
        return None
    if route == "/projection":
        if content_type != "application/octet-stream" or len(body) != target.n * 8:
            return "projection: %s, %d bytes for N=%d" % (content_type, len(body), target.n)
        return None
    if not content_type.startswith("application/json"):
        return "%s answered %s" % (route, content_type)
    payload = json.loads(body)
    if route == "/neighbors" and len(payload["neighbors"]) != 10:
        return "neighbors: %d neighbours, asked for 10" % len(payload["neighbors"])
    if route == "/clusters" and payload["overall"]["n"] != target.n:
        return "clusters: n=%s, expected %d" % (payload["overall"]["n"], target.n)
    if route == "/hard_examples" and "examples" not in payload:
        return "hard_examples without examples"
    return None


@dataclasses.dataclass
class RouteStats:
    latencies: List[float] = dataclasses.field(default_factory=list)  # seconds, 200 answers only
    pending: int = 0  # 202 answers
    errors: int = 0


@dataclasses.dataclass
class LoadReport:
    seconds: float
    clients: int
    routes: Dict[str, RouteStats]
    error_samples: List[str]

    @property
    def answered(self) -> int:
        return sum(len(s.latencies) + s.pending + s.errors for s in self.routes.values())

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.routes.values())

    def table(self) -> str:
        """A Markdown table: per route ok / 202 / errors, p50 / p99 latency in ms."""
        lines = ["| route | 200 | 202 | errors | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|"]
        for route, stats in sorted(self.routes.items()):
            lines.append("| %s | %d | %d | %d | %s | %s |" % (
                route, len(stats.latencies), stats.pending, stats.errors,
                _ms(percentile(stats.latencies, 50)), _ms(percentile(stats.latencies, 99))))
        lines.append("")
        lines.append("%d requests in %.1f s with %d clients: %.1f requests/s, %d errors"
                     % (self.answered, self.seconds, self.clients, self.answered / self.seconds, self.errors))
        return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100.0 * (len(ordered) - 1))))]


def _ms(seconds: Optional[float]) -> str:
    return "-" if seconds is None else "%.1f" % (seconds * 1000)


class _Client:
    def __init__(self, host: str, port: int, timeout: float):
        self._host, self._port, self._timeout = host, port, timeout
        self._connection: Optional[http.client.HTTPConnection] = None

    def get(self, path: str) -> Tuple[int, http.client.HTTPMessage, bytes]:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            self._connection.request("GET", path)
            response = self._connection.getresponse()
            body = response.read()
        except Exception:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, response.headers, body

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None


Check = Callable[[str, Dict[str, str], int, object, bytes], Optional[str]]


def run_load(base_url: str, target: Target, *, clients: int, seconds: float, seed: int = 0,
             mix: Optional[Dict[str, int]] = None, extra_check: Optional[Check] = None,
             timeout: float = 60.0) -> LoadReport:
    """`clients` threads hammer `base_url` for `seconds`; returns what they saw."""
    parsed = urllib.parse.urlparse(base_url)
    mix = dict(mix or DEFAULT_MIX)
    if not target.has_sprite:
        mix.pop("/thumbnail", None)
    routes, weights = list(mix), list(mix.values())
    stats: Dict[str, RouteStats] = collections.defaultdict(RouteStats)
    samples: List[str] = []
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds

    def client_loop(number: int):
        rng = random.Random(seed * 1000 + number)
        client = _Client(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout)
        try:
            while time.monotonic() < deadline:
                route = rng.choices(routes, weights)[0]
                query = request_for(route, target, rng)
                path = PREFIX + route + "?" + urllib.parse.urlencode(query)
                t0 = time.monotonic()
                problem: Optional[str] = None
                headers: Optional[http.client.HTTPMessage] = None
                try:
                    status, headers, body = client.get(path)
                except Exception as error:  # noqa: BLE001 - a dropped connection is an error to count
                    status, body, problem = -1, b"", "%s: %r" % (type(error).__name__, error)
                elapsed = time.monotonic() - t0
                if problem is None and status == 200:
                    problem = check_body(route, target, status, headers, body)
                    if problem is None and extra_check is not None:
                        problem = extra_check(route, query, status, headers, body)
                elif problem is None and status != 202:
                    problem = "HTTP %d: %s" % (status, body[:300].decode("utf-8", "replace"))
                with lock:
                    entry = stats[route]
                    if problem is not None:
                        entry.errors += 1
                        if len(samples) < 20:
                            samples.append("%s?%s -> %s" % (route, urllib.parse.urlencode(query), problem))
                    elif status == 202:
                        entry.pending += 1
                    else:
                        entry.latencies.append(elapsed)
                if status == 202:
                    time.sleep(POLL_SECONDS)
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, args=(i,), name="load-client-%d" % i, daemon=True)
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout + 5)
    return LoadReport(seconds=time.monotonic() - started, clients=clients, routes=dict(stats),
                      error_samples=samples)


class RssSampler:
    """Peak resident memory of a process (and its children), sampled in a thread (psutil)."""

    def __init__(self, pid: int, interval: float = 0.2):
        import psutil  # only the benchmark and its test need it

        self._process = psutil.Process(pid)
        self._interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self):
        import psutil

        while not self._stop.is_set():
            try:
                rss = self._process.memory_info().rss
                rss += sum(child.memory_info().rss for child in self._process.children(recursive=True))
            except psutil.Error:
                break
            self.peak_bytes = max(self.peak_bytes, rss)
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
