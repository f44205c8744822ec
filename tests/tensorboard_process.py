"""Start the real `tensorboard` command on a free loopback port, for tests and benchmarks."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Union


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_tensorboard(logdir: Union[str, "os.PathLike[str]"], *, extra_args=(), timeout: float = 90.0, with_process: bool = False):
    """Yields the base URL once TensorBoard answers (with `with_process`, (base URL, Popen),
    e.g. to sample its memory); stops it afterwards."""
    port = free_port()
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    command = [tensorboard, "--logdir", str(logdir), "--port", str(port), "--host", "127.0.0.1",
               "--reload_interval", "0", *extra_args]
    log = open(os.path.join(str(logdir), os.pardir, "tensorboard-%d.log" % port), "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError("tensorboard exited with %s; see %s" % (process.returncode, log.name))
            try:
                urllib.request.urlopen(base + "/data/plugins_listing", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield (base, process) if with_process else base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
