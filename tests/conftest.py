"""Suite-wide: if the interpreter aborts while exiting after the tests (a thread still inside
native code when Python finalizes), print every thread's Python stack so CI's log names it.

pytest's own faulthandler is switched off in pytest_unconfigure, before the interpreter
exits; this one is switched on after that and stays on through finalization.

numba's cache: every AnalysisEngine with a cache dir points numba at <cache dir>/numba
(analysis/numba_cache.py), and tests make their cache dirs in tmp_path, so the suite would
recompile UMAP's and pynndescent's kernels (~25 s) in every run. A NUMBA_CACHE_DIR set
before is kept, so the suite keeps one folder across runs.
"""

import faulthandler
import os
import sys
import tempfile

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "tb-embedanalysis-tests-numba"))

import pytest

from xdist_groups import pytest_xdist_make_scheduler  # noqa: F401  (the hook: what make test's 2 workers share)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if sys.__stderr__ is not None:  # None when Python runs without a stderr
        faulthandler.enable(file=sys.__stderr__, all_threads=True)
