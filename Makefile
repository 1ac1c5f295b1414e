# Flowpilot: `make dev` runs everything on the embedded default, `make test` tests everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The web app: npm packages from the lockfile, the production build the API serves, and
# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser).
FRONTEND := frontend
NPM_STAMP := $(FRONTEND)/node_modules/.installed
FRONTEND_BUILD := $(FRONTEND)/dist/index.html
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src -type f) $(FRONTEND)/index.html \
	$(FRONTEND)/vite.config.ts $(wildcard $(FRONTEND)/tsconfig*.json)
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: dev test lint frontend frontend-check e2e bench bench-api bench-load bench-n8n-install install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

$(FRONTEND_BUILD): $(NPM_STAMP) $(FRONTEND_SOURCES)
	cd $(FRONTEND) && npm run build

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

install: $(STAMP) $(NPM_STAMP)

frontend: $(FRONTEND_BUILD)

dev: $(STAMP) $(FRONTEND_BUILD)
	$(BIN)/flowpilot dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Type check, production build (its first load within budget) and unit tests of the web app.
frontend-check: $(NPM_STAMP)
	cd $(FRONTEND) && npm run build && npm run --silent size && npx vitest run

# The web app in Chromium against the real stack (flowpilot dev on ports of its own).
e2e: $(STAMP) $(FRONTEND_BUILD) $(CHROMIUM)
	cd $(FRONTEND) && CHROMIUM_PATH=$(CHROMIUM) npx playwright test

test: lint frontend-check
	$(BIN)/pytest
	$(MAKE) e2e

bench: $(STAMP)
	$(BIN)/python bench/engine.py

bench-api: $(STAMP)
	$(BIN)/python bench/api.py

# 200 runs of a 10-node workflow in flight under mixed API traffic for 60 s, against raw Temporal.
bench-load: $(STAMP)
	$(BIN)/python bench/load.py --output bench/LOAD_RESULTS.md

clean:
	rm -rf $(VENV) .flowpilot .pytest_cache .ruff_cache
	rm -rf $(FRONTEND)/node_modules $(FRONTEND)/dist $(FRONTEND)/test-results $(FRONTEND)/e2e/.state

# n8n, only for the head-to-head of `bench/api.py --n8n` (about 2.3 GB in bench/n8n).
bench-n8n-install:
	cd bench/n8n && npm install --no-audit --no-fund
