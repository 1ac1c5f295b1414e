# Flowpilot: `make dev` runs everything on the embedded default, `make test` tests everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench bench-api bench-n8n-install install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/flowpilot dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/engine.py

bench-api: $(STAMP)
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .flowpilot .pytest_cache .ruff_cache

# n8n, only for the head-to-head of `bench/api.py --n8n` (about 2.3 GB in bench/n8n).
bench-n8n-install:
	cd bench/n8n && npm install --no-audit --no-fund
