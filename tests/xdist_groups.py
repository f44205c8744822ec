"""How `make test` shares the suite out over its two pytest-xdist workers (-n 2 --dist loadfile).

* A module's tests stay together on one worker (loadfile), so its module-scoped fixtures
  (a real TensorBoard, a Chromium, a trained demo, a written logdir) are built once and
  not once per worker.
* The modules in HEAVY form one group, run one after another on one worker: each builds
  the package in the source tree (build/, *.egg-info: two builds at once would share
  them), keeps both cores busy, or asserts a bound in seconds or megabytes that was set
  on a machine where it ran alone. The other worker meanwhile runs the rest.

The group is made here, by the scheduler, because xdist's own `xdist_group` marks do
nothing with pytest 9.2: `--dist loadgroup` appends the group to each test's node id, which
pytest 9.2's structured node ids ignore, so the tests are silently spread out one by one
(pytest-dev/pytest-xdist#1386, fix pending in #1388). The scheduler only sees node ids,
so the group is a list of files rather than a marker. Registered in conftest.py by
importing the hook; without -n (targeted runs) none of this applies.
"""

from typing import Dict

import pytest

HEAVY_GROUP = "heavy"
#: module -> why it must not run beside another module of this list.
HEAVY: Dict[str, str] = {
    "tests/test_install_floors.py": "builds the package in the source tree, installs a venv",
    "tests/test_install_beside_tensorflow.py": "builds the package in the source tree, installs venvs",
    "tests/test_packaging.py": "builds wheels in the source tree",
    "tests/test_release.py": "builds sdist and wheel in the source tree",
    "tests/test_bench_smoke.py": "the benches keep both cores busy (2-thread graphs, TensorBoard + Chromium)",
    "tests/test_analysis_numba_cache.py": "a second start must take under 40 % of the first",
    "tests/test_memory_bounds.py": "bounds in seconds and MB, measured in children",
    "tests/test_analysis_heap.py": "pages returned to the OS, measured in a child's RSS",
    "tests/test_result_bounds.py": "a server child's RSS against its budget",
    "tests/test_security_search.py": "each compile bomb refused within 1 s, TensorBoard's memory flat",
    "tests/test_tensorboard_shutdown.py": "TensorBoard exits within seconds of SIGTERM",
    "tests/test_load_short.py": "8 clients for 5 s against a cold TensorBoard: every route answers",
    "tests/test_live_training.py": "a writer must save often enough while clients query",
}


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's: unknown without it
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None  # another --dist asked for: xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class LoadFileWithHeavyGroup(LoadScopeScheduling):
        """loadfile's scopes (one per module), except that the HEAVY modules share one."""

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return HEAVY_GROUP if module in HEAVY else module

    return LoadFileWithHeavyGroup(config, log)
