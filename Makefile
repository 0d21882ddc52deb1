# Two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BROWSER_DIR := tests/e2e/browser
BROWSER_STAMP := $(BROWSER_DIR)/node_modules/.installed-stamp
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint typecheck unit bench lock clean openapi browser-deps chromium

$(STAMP): requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 13), "Leadstream needs Python 3.13, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Options of `leadstream local` go in ARGS, e.g. make run ARGS='--port 8788 --aws-port 5788'
run: $(STAMP)
	$(BIN)/leadstream local $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck browser-deps
	$(BIN)/pytest

# What the browser tests need besides .venv: Debian's Chromium (Playwright's own browser download cannot
# work on our machines) and analytics-next from the npm registry. Where either cannot be installed, make
# says so and goes on: those tests are then skipped, naming what to install.
browser-deps: chromium $(BROWSER_STAMP)

chromium:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then as_root=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root="sudo -n"; \
	else echo "NOTE: $(CHROMIUM) is missing and installing it needs root: the browser tests will be skipped." \
	    "Install it with: sudo apt-get install -y chromium"; exit 0; fi; \
	install="$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"; \
	echo "Installing Debian's chromium for the browser tests"; \
	$$install || { $$as_root apt-get update -qq && $$install; } \
	    || echo "NOTE: could not install chromium: the browser tests will be skipped." \
	        "Install it with: sudo apt-get install -y chromium"

# analytics-next as package-lock.json pins it; installed again whenever package.json or the lock changes.
$(BROWSER_STAMP): $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	@if ! command -v npm >/dev/null; then \
	    echo "NOTE: npm is missing: the browser tests will be skipped. Install Node.js and npm" \
	        "(sudo apt-get install -y nodejs npm), then run make test again."; exit 0; fi; \
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund && touch $(CURDIR)/$@

bench: $(STAMP)
	$(BIN)/python -m bench $(ONLY)

# The CRM API's OpenAPI document, generated from the code (a test fails when the committed copy is stale).
openapi: $(STAMP)
	$(BIN)/python -m handlers.openapi functions/handlers/openapi.json

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet '.[dev]' setuptools
	.lock-venv/bin/pip freeze --exclude leadstream > requirements-dev.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache $(BROWSER_DIR)/node_modules
