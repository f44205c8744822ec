"""Start `tb-embedanalysis precompute` for the step just written, in the background, so the tab
is warm when someone opens it (write_embedding(..., precompute=True), EmbeddingCallback too).

Bounded: at most one precompute runs per training process. A step written while the last one
still runs is not queued (training outpaces the analysis; the tab computes that step itself
when asked); a later step starts the next one. The child is the same interpreter running the
CLI (`sys.executable -m tb_embedanalysis.cli precompute LOGDIR --run . --embedding NAME
--steps STEP`): it reads the files just written, never the caller's arrays, and it shares
nothing with the training process but the disk. Its output goes to
`<temp dir>/tb-embedanalysis-precompute.log`. Off by default.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
from typing import List, Optional, Union

logger = logging.getLogger(__name__)
LOG_NAME = "tb-embedanalysis-precompute.log"

_lock = threading.Lock()
_running: List[subprocess.Popen] = []  # the one child, while it runs


def log_path() -> str:
    return os.path.join(tempfile.gettempdir(), LOG_NAME)


def command(logdir: str, name: str, step: Optional[int], cache_dir: Optional[str]) -> List[str]:
    """The precompute command for one written step (the run is the logdir the writer wrote)."""
    argv = [sys.executable, "-m", "tb_embedanalysis.cli", "precompute", os.fspath(logdir), "--run", ".",
            "--embedding", name]
    if step is not None:
        argv += ["--steps", str(int(step))]
    if cache_dir:
        argv += ["--cache-dir", cache_dir]
    return argv


def start(logdir: str, name: str, step: Optional[int], option: Union[bool, str]) -> Optional[subprocess.Popen]:
    """The background precompute of (name, step) when `option` asks for one (True: into the
    tab's default cache dir; a string: that cache dir or fsspec URL) and none runs; else None."""
    if option is False or option is None:
        return None
    cache_dir = option if isinstance(option, str) else None
    with _lock:
        if _running and _running[0].poll() is None:
            logger.info("tb-embedanalysis: a precompute still runs (pid %d); step %s of %r is left to the tab",
                        _running[0].pid, step, name)
            return None
        _running.clear()
        with open(log_path(), "ab") as log:
            child = subprocess.Popen(command(logdir, name, step, cache_dir), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, close_fds=True)
        _running.append(child)
        return child


def running() -> Optional[subprocess.Popen]:
    """The precompute this process started and that still runs, if any."""
    with _lock:
        return _running[0] if _running and _running[0].poll() is None else None
