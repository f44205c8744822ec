# The two commands a newcomer needs (see README): `make demo` and `make test`.
# Both create .venv and install what they need; nothing else must be installed by hand.

PYTHON_SYSTEM ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_LOGDIR ?= demo_logs
PORT ?= 6006
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-fast bench dist chromium clean

# pip --quiet shows nothing for minutes, so each step first says what it installs and how
# long that takes. The editable install maps frontend/ and demo/ into the package (setup.py
# package_dir), which makes setuptools print an "Editable installation" notice box (mind
# same-named folders in the working directory: nothing to act on here); it buried the
# demo's URL, so that one notice is silenced by its message.
PIP_INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet

$(PY):
	@echo "== Creating $(VENV) and updating pip, setuptools and wheel (under a minute)"
	@$(PYTHON_SYSTEM) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip setuptools wheel

# One stamp per extra set, remade when the packaging changes.
$(VENV)/.installed-tf: setup.py pyproject.toml | $(PY)
	@echo "== Installing tb-embedanalysis with TensorFlow, TensorBoard, scikit-learn, openTSNE and"
	@echo "   umap-learn into $(VENV) (first time a few hundred MB: 1-5 minutes; quiet meanwhile)"
	@$(PIP_INSTALL) -e ".[tf]"
	@touch $@

$(VENV)/.installed-test: setup.py pyproject.toml | $(PY)
	@echo "== Installing tb-embedanalysis with TensorFlow and the test tools into $(VENV)"
	@echo "   (first time a few hundred MB: 1-5 minutes; quiet meanwhile)"
	@$(PIP_INSTALL) -e ".[tf,test]"
	@touch $@

$(VENV)/.installed-release: setup.py pyproject.toml | $(PY)
	@echo "== Installing tb-embedanalysis with build and twine into $(VENV) (1-5 minutes the first time)"
	@$(PIP_INSTALL) -e ".[release]"
	@touch $@

# Browser tests drive Debian's Chromium through playwright (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Ends with the tab's URL as its last line (demo/serve.py).
demo: $(VENV)/.installed-tf
	@echo "== Writing the demo runs into $(DEMO_LOGDIR) (first time ~30 s; existing runs are kept)"
	@$(VENV)/bin/tb-embedanalysis demo --logdir $(DEMO_LOGDIR) --port $(PORT)

# On two workers (the CI machine's two cores), a module's tests on one worker; a plain
# `pytest` (targeted runs) stays serial. tests/xdist_groups.py says what never runs side by side.
XDIST := -n 2 --dist loadfile

test: $(VENV)/.installed-test chromium
	$(PY) -m pytest -q $(XDIST)

# Everything except the real-browser tests (no Chromium needed).
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -q -m "not browser" $(XDIST)

bench: $(VENV)/.installed-test
	@echo "== Installing the bench peers (faiss-cpu, pynndescent, usearch, ...)"
	@$(PIP_INSTALL) -e ".[tf,test,bench]"
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# A release in one command: sdist and wheel into dist/ (built in an isolated environment,
# the wheel from the sdist, so the sdist is known to be complete), then checked the way
# PyPI renders them. The version is __version__ in tb_embedanalysis/__init__.py; give it a
# section in CHANGELOG.md first. Upload: $(PY) -m twine upload dist/*
dist: $(VENV)/.installed-release
	@rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts
