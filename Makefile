# Targets for contributors and CI. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.DEFAULT_GOAL := help
.PHONY: help setup test demo lint unit bench clean

help: ## List the targets with one line each
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed ## Create .venv with the engine and every tool the checks and tests need

lint: setup ## ruff, mypy --strict and terraform fmt
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	terraform fmt -check -recursive

unit: setup ## The engine's tests only (no Terraform)
	$(PY) -m pytest tests/unit tests/live

test: setup ## Set up, then run every check and the whole test suite (CI runs this)
	$(MAKE) lint
	$(PY) -m pytest

demo: setup ## Apply examples/complete against a local moto server, run a cleanup, print the report
	$(PY) -m tests.support.demo

bench: setup ## Print the engine's speed, memory and API-call figures
	$(PY) bench/engine.py
	$(PY) bench/api_calls.py

clean: ## Remove the virtualenv, caches and Terraform working files of the tests
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find tests examples -name .terraform -type d -prune -exec rm -rf {} +
	find tests examples \( -name .terraform.lock.hcl -o -name tf_resources.json -o -name 'terraform.tfstate*' \) -delete
