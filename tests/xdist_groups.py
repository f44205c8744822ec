"""How `make test` shares the suite out over its two pytest-xdist workers (-n 2 --dist loadgroup).

* A module's tests stay together on one worker, so its module-scoped fixtures (a real
  TensorBoard, a Chromium, a trained demo, a written logdir) are built once and not once
  per worker. Each module is an `xdist_group` named after its file, unless marked otherwise.
* Tests marked `heavy` form one group, run one after another on one worker: each keeps
  both cores busy (builds, installs, the benches, 2-thread kNN graphs) or asserts a bound
  in seconds or megabytes that was set on a machine where it ran alone. Two of them side
  by side would each get half the machine they were measured on.

Without -n (a plain `pytest`, as for targeted runs) the marks change nothing.
Registered in conftest.py by importing the hook.
"""

import pytest

HEAVY = "heavy"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("xdist"):
        return  # a venv from before pytest-xdist was a test requirement: nothing to share out
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        if item.get_closest_marker(HEAVY) is not None:
            item.add_marker(pytest.mark.xdist_group(HEAVY))
        else:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
