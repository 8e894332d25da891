# Integrations platform on Dagster. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INTEGRATION_REQUIREMENTS := $(wildcard integrations/*/requirements.txt)
DEV_PORT ?= 3000
DEV_HOME ?= $(CURDIR)/.dagster_home

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt $(INTEGRATION_REQUIREMENTS)
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, got " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]' $(foreach r,$(INTEGRATION_REQUIREMENTS),-r $(r))
	touch $(STAMP)

.PHONY: setup
setup: $(STAMP) ## Create .venv with the pinned dependencies

.PHONY: run
run: setup ## Run hello_world end to end in-process (no server, no DAGSTER_HOME)
	HELLO_WORLD_API_KEY=$${HELLO_WORLD_API_KEY:-demo-api-key} \
		$(BIN)/integrations run hello_world --config integrations/hello_world/config.example.yaml

.PHONY: test
test: setup ## Run every test
	$(BIN)/pytest -q

.PHONY: lint
lint: setup ## ruff format --check and ruff check
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

.PHONY: typecheck
typecheck: setup ## mypy on the framework
	$(BIN)/mypy

.PHONY: check
check: lint typecheck test ## Everything CI checks: lint, types, tests

.PHONY: validate
validate: setup ## Validate integrations.json and every integration
	$(BIN)/integrations validate

.PHONY: dev
dev: setup ## Start the Dagster UI (http://127.0.0.1:3000) with the integrations loaded
	mkdir -p $(DEV_HOME)
	HELLO_WORLD_API_KEY=$${HELLO_WORLD_API_KEY:-demo-api-key} DAGSTER_HOME=$(DEV_HOME) \
		$(BIN)/dagster dev -m integrations_pipeline -h 127.0.0.1 -p $(DEV_PORT)

.PHONY: bench
bench: setup ## Run the benchmarks (prints ratios: framework vs plain Dagster, HTTP toolkit, memory)
	$(BIN)/python benchmarks/bench_framework.py
	$(BIN)/python benchmarks/bench_http.py
	$(BIN)/python benchmarks/bench_memory.py

.PHONY: clean
clean: ## Remove .venv and local state
	rm -rf $(VENV) .integrations .dagster_home
