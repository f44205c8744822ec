# The two commands a newcomer needs (see README): `make demo` and `make test`.
# Both create .venv and install what they need; nothing else must be installed by hand.

PYTHON_SYSTEM ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_LOGDIR ?= demo_logs
PORT ?= 6006
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-fast bench chromium clean

$(PY):
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

# One stamp per extra set, remade when the packaging changes.
$(VENV)/.installed-tf: setup.py pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[tf]"
	touch $@

$(VENV)/.installed-test: setup.py pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[tf,test]"
	touch $@

# Browser tests drive Debian's Chromium through playwright (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

demo: $(VENV)/.installed-tf
	$(VENV)/bin/tb-embedanalysis demo --logdir $(DEMO_LOGDIR) --port $(PORT)

test: $(VENV)/.installed-test chromium
	$(PY) -m pytest -q

# Everything except the real-browser tests (no Chromium needed).
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -q -m "not browser"

bench: $(VENV)/.installed-test
	$(PY) -m pip install --quiet -e ".[tf,test,bench]"
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts
