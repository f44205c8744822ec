"""What the bench scripts share: the --smoke flag and the optional peers.

`--smoke` runs a script end to end at a tiny size in seconds, so that `make test`
(tests/test_bench_smoke.py) notices when a bench stops running; its figures mean nothing.
The peers (faiss-cpu, usearch, pynndescent, psutil: the `bench` extra) are not in the test
environment: a full run needs them, a smoke run skips what needs a missing one and says so.
"""

from __future__ import annotations

import argparse
import importlib
import os
import types
from typing import TYPE_CHECKING, Optional, TypeVar, Union

if TYPE_CHECKING:
    from tb_embedanalysis.analysis.reports import Pending

T = TypeVar("T")

SMOKE_HELP = "a tiny run (seconds) that only checks the bench still works; its figures mean nothing"
BENCH_EXTRA = "pip install -e .[bench]"


def add_smoke_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)


def smoke_kernels(smoke: bool) -> None:
    """In a --smoke run started by the test suite, our numba kernels load from the folder it
    keeps across runs (NUMBA_CACHE_DIR, tests/conftest.py) instead of compiling for seconds in
    each script; a run by hand compiles them as before (and none of that is timed: the
    benches warm their kernels before the clock)."""
    if smoke and os.environ.get("NUMBA_CACHE_DIR"):
        from tb_embedanalysis.analysis import numba_cache

        numba_cache.use_cache_dir(os.environ["NUMBA_CACHE_DIR"])  # a NUMBA_CACHE_DIR set is the folder used


def peer(name: str, *, required: bool, what: str = "") -> Optional[types.ModuleType]:
    """The module `name` (a peer from the bench extra); when it is not installed, stop with
    a message if `required` (a full run), else print that `what` is skipped and give None."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if required:
            raise SystemExit("%s needs %s, a peer of the benchmarks: %s"
                             % (what or "this bench", name, BENCH_EXTRA)) from None
        print("skipped %s: %s is not installed (%s)" % (what or name, name, BENCH_EXTRA), flush=True)
        return None


def finished(result: Union[T, "Pending"]) -> T:
    """An engine result asked for with wait=True (the default), which is never Pending."""
    from tb_embedanalysis.analysis.reports import Pending

    if isinstance(result, Pending):
        raise RuntimeError("the engine answered Pending (%s) although asked to wait" % result.message)
    return result
