"""Debian's Chromium (/usr/bin/chromium) for the browser tests and the benches that open the
tab, driven by playwright's sync API; we never run `playwright install`.

It starts through tests/chromium_unboosted, which keeps it from raising its own threads to
nice -8 when run as root (see there): the other pytest-xdist worker then kept its share of
the two cores instead of stalling while a page rendered.
"""

import pathlib

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
LAUNCHER = str(pathlib.Path(__file__).resolve().parent / "chromium_unboosted")


def launch(playwright, *extra_args: str):
    """A headless Chromium browser (playwright's `Browser`) with CHROMIUM_ARGS and `extra_args`."""
    return playwright.chromium.launch(executable_path=LAUNCHER, args=CHROMIUM_ARGS + list(extra_args))
