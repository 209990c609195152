# Two commands: `make run` sets up and starts the app, `make test` sets up and runs the tests.
# Setup is idempotent: the virtualenv is rebuilt only when a requirements file changes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APP_STAMP := $(VENV)/.app-installed
TEST_STAMP := $(VENV)/.test-installed
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: run test test-fast lint typecheck setup dataset browser postgres bench clean help

help:
	@echo "make run    set up (virtualenv, dataset) and start the app"
	@echo "make test   set up (plus test tools, Chromium and PostgreSQL) and run the whole test suite"
	@echo "make test-fast  the tests that need no browser and train nothing long (the inner loop)"
	@echo "make lint   ruff and mypy over the code (make test runs it first)"
	@echo "make bench  measure the presets and the bundled model (minutes)"

run: setup dataset
	$(VENV)/bin/streamlit run ui/app_server.py

test: lint setup dataset browser postgres $(TEST_STAMP)
	$(PY) -m pytest

test-fast: setup dataset $(TEST_STAMP)
	$(PY) -m pytest -m "not slow and not browser"

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

typecheck: $(TEST_STAMP)
	$(VENV)/bin/mypy

setup: $(APP_STAMP)

$(APP_STAMP): requirements.txt
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(TEST_STAMP): $(APP_STAMP) requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	@touch $@

# The dataset: fine if fmnist_core finds a verified copy anywhere it looks; else Debian's package.
dataset: $(APP_STAMP)
	@FMNIST_OFFLINE=1 $(PY) -m fmnist_core info >/dev/null 2>&1 || $(MAKE) --no-print-directory install-dataset
	@FMNIST_OFFLINE=1 $(PY) -m fmnist_core info | head -1

.PHONY: install-dataset
install-dataset:
ifeq ($(IS_ROOT),yes)
	apt-get update -q && $(APT_INSTALL) dataset-fashion-mnist
else
	@echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist'" \
	      "or set FMNIST_DATA_DIR to a folder with the four IDX files." && exit 1
endif

# Debian's Chromium for the browser tests (Playwright's own browser download does not work here).
# The emoji font only matters for the screenshots (without it the pages' icons are empty
# boxes), so a missing font never stops the tests.
browser:
	@[ -x /usr/bin/chromium ] || $(MAKE) --no-print-directory install-browser
	@[ -e $(EMOJI_FONT) ] || $(MAKE) --no-print-directory install-emoji-font

.PHONY: install-browser install-emoji-font
install-emoji-font:
ifeq ($(IS_ROOT),yes)
	apt-get update -q && $(APT_INSTALL) fonts-noto-color-emoji
else
	@echo "Note: screenshots will show empty boxes for icons: sudo apt-get install fonts-noto-color-emoji"
endif

install-browser:
ifeq ($(IS_ROOT),yes)
	apt-get update -q && $(APT_INSTALL) chromium chromium-driver fonts-dejavu-core fonts-noto-color-emoji
else
	@echo "Chromium is missing: run 'sudo apt-get install chromium'" && exit 1
endif

# Debian's PostgreSQL for the test of a sweep shared through a database server
# (tests/test_sweep_postgres.py starts a throwaway cluster of its own from these programs).
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || $(MAKE) --no-print-directory install-postgres

.PHONY: install-postgres
install-postgres:
ifeq ($(IS_ROOT),yes)
	apt-get update -q && $(APT_INSTALL) postgresql
else
	@echo "Note: the shared-database sweep test is skipped without PostgreSQL: sudo apt-get install postgresql"
endif

bench: setup dataset
	$(PY) -m fmnist_core bench

clean:
	rm -rf $(VENV) .pytest_cache
