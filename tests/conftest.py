"""Suite-wide: if the interpreter aborts while exiting after the tests (a thread still inside
native code when Python finalizes), print every thread's Python stack so CI's log names it.

pytest's own faulthandler is switched off in pytest_unconfigure, before the interpreter
exits; this one is switched on after that and stays on through finalization.
"""

import faulthandler
import sys

import pytest


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if sys.__stderr__ is not None:  # None when Python runs without a stderr
        faulthandler.enable(file=sys.__stderr__, all_threads=True)
