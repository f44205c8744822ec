"""`tb-embedanalysis demo` serves through demo/serve.py: the tab's URL is the last line
printed, nothing of TensorFlow's start-up comes after it (issue 17 item 10)."""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import List

from tb_embedanalysis.demo import serve
from tensorboard_process import START_SECONDS, free_port


def test_tab_url():
    assert serve.tab_url("http://localhost:6006/") == "http://localhost:6006/#embedanalysis"


def test_serve_prints_the_tab_url_last_and_answers(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    for attempt in range(3):  # the port, free when chosen, may be taken before the demo binds it
        port = free_port()
        child = subprocess.Popen([sys.executable, "-m", "tb_embedanalysis.demo.serve", "--logdir", str(tmp_path),
                                  "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        try:
            lines: List[str] = []
            assert child.stdout is not None
            deadline = time.monotonic() + START_SECONDS
            while not (lines and lines[-1].endswith("#embedanalysis")) and child.poll() is None:
                assert time.monotonic() < deadline, lines
                lines.append(child.stdout.readline().decode().rstrip("\n"))
            if child.poll() == 2 and any("--port" in line for line in lines) and attempt < 2:
                child.stdout.close()
                continue  # demo/serve.py's clean error for a taken port (test below)
            assert lines[-1] == f"http://localhost:{port}/#embedanalysis", lines
            assert not any("I0000" in line or "absl" in line or "NOTE" in line for line in lines), lines
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/embedanalysis/runs", timeout=30) as answer:
                assert answer.status == 200
            time.sleep(1)  # anything TensorBoard would print after the URL comes within this
            child.terminate()
            rest = child.communicate(timeout=30)[0].decode()
            assert "Traceback" not in rest and "I0000" not in rest, rest
            return
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


def test_a_taken_port_is_a_clean_error(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve.main(["--logdir", str(tmp_path), "--port", str(port)]) == 2
    assert "--port" in capsys.readouterr().err
    # Refused before TensorBoard starts: its log reloader thread (which cannot be stopped, and
    # aborted the test run at exit while reading through TensorFlow) was never started.
    assert not [thread.name for thread in threading.enumerate() if thread.name == "Reloader"]
