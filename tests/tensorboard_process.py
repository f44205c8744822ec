"""Start the real `tensorboard` command on a loopback port of its own, for tests and benchmarks.

TensorBoard binds port 0 (the kernel picks a free port as it binds) and the URL is read
from the line it prints. A port chosen beforehand (bind, close, pass the number on) could
be taken in between by any other process on the machine, e.g. another pytest-xdist
worker's TensorBoard: then TensorBoard exits "could not bind" and the test errors.
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import json
import time
import urllib.parse
import urllib.request
from typing import Union

# TensorBoard's serving line (tensorboard/program.py, print_serving_message).
SERVING = re.compile(r"TensorBoard \S+ at (http://127\.0\.0\.1:\d+)/ \(Press CTRL\+C to quit\)")
#: How long TensorBoard may take to answer its first request: importing TensorFlow takes
#: 5-15 s on an idle 2-core machine and over a minute on one shared by a whole team. This
#: bounds a TensorBoard that never comes up, not a slow start.
START_SECONDS = 240.0


def settled_json(base: str, route: str, **query) -> dict:
    """The 200 JSON answer of the plugin's `route` at `base` (a TensorBoard's URL), asking
    again every 0.2 s while it answers 202 (computing), for at most 600 tries."""
    url = "%s/data/plugin/embedanalysis/%s?%s" % (base, route, urllib.parse.urlencode(query))
    for _ in range(600):
        with urllib.request.urlopen(url, timeout=60) as response:
            if response.status == 200:
                return json.loads(response.read())
        time.sleep(0.2)
    raise AssertionError("%s kept computing" % route)


def free_port() -> int:
    """A port that was free a moment ago: only for servers that cannot bind port 0 and
    report theirs (the caller must cope with it being taken meanwhile)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_tensorboard(logdir: Union[str, "os.PathLike[str]"], *, extra_args=(), timeout: float = START_SECONDS,
                        with_process: bool = False):
    """Yields the base URL once TensorBoard answers (with `with_process`, (base URL, Popen),
    e.g. to sample its memory); stops it afterwards. Its output goes to a
    tensorboard-*.log file beside the logdir."""
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    command = [tensorboard, "--logdir", str(logdir), "--port", "0", "--host", "127.0.0.1",
               "--reload_interval", "0", *extra_args]
    fd, log_path = tempfile.mkstemp(prefix="tensorboard-", suffix=".log", dir=os.path.join(str(logdir), os.pardir))
    with os.fdopen(fd, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = None
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError("tensorboard exited with %s; see %s" % (process.returncode, log_path))
            if base is None:
                with open(log_path, encoding="utf-8", errors="replace") as output:
                    found = SERVING.search(output.read())
                base = found.group(1) if found else None
            if base is not None:
                try:
                    urllib.request.urlopen(base + "/data/plugins_listing", timeout=10).read()
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("tensorboard did not answer within %.0f s; see %s" % (timeout, log_path))
            time.sleep(0.3)
        yield (base, process) if with_process else base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serving(root: "os.PathLike[str]"):
    """running_tensorboard over `root`/logs with its disk cache in `root`/cache: the set-up of
    every browser test module (each writes its logs into `root`/logs first)."""
    folder = os.fspath(root)
    return running_tensorboard(os.path.join(folder, "logs"),
                               extra_args=["--embedanalysis_cache_dir", os.path.join(folder, "cache")])
