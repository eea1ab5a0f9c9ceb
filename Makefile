# Targets for contributors and CI. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

# checkov gets a virtualenv of its own: it pins boto3, botocore and packaging far below what the
# engine and moto need. The stamp carries the version, so changing CHECKOV_VERSION reinstalls.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

# asl-validator (npm) checks the state machine definition the module renders; it lives in .tools.
ASL_VALIDATOR_VERSION ?= 4.0.0
ASL_VALIDATOR := .tools/node_modules/.bin/asl-validator
ASL_VALIDATOR_INSTALLED := .tools/.installed-$(ASL_VALIDATOR_VERSION)

# The engine's and handlers' tests (tests/unit, tests/live) run again on the Lambda runtime's Python,
# in .venv-runtime; a missing interpreter fails `make test` rather than skipping the check.
# RUNTIME_PYTHON_VERSION matches the default of lambda_runtime in variables.tf (tests/docs checks it).
# The interpreter: RUNTIME_PYTHON if given, else pyenv's $(RUNTIME_PYTHON_VERSION), else the newest
# $(RUNTIME_PYTHON_VERSION).x under $PYENV_ROOT/versions, else python$(RUNTIME_PYTHON_VERSION) on the PATH.
# The stamp carries the version, so changing RUNTIME_PYTHON_VERSION rebuilds the virtualenv.
RUNTIME_PYTHON_VERSION ?= 3.12
RUNTIME_PYTHON ?=
RUNTIME_VENV ?= .venv-runtime
RUNTIME_INSTALLED := $(RUNTIME_VENV)/.installed-$(RUNTIME_PYTHON_VERSION)

# Debian's chromium renders the HTML report in the browser tests (tests/live/test_html_report.py);
# `make browser` installs it with apt when it is missing (as root, or through sudo).
CHROMIUM ?= chromium

.DEFAULT_GOAL := help
.PHONY: help setup browser lint docs docs-check validate renders checkov check test unit module-tests runtime-tests demo bench clean

help: ## List the targets with one line each
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-13s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(ASL_VALIDATOR_INSTALLED):
	rm -rf .tools
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund --loglevel=error 'asl-validator@$(ASL_VALIDATOR_VERSION)'
	touch $@

$(CHECKOV_INSTALLED):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

$(RUNTIME_INSTALLED): pyproject.toml
	@version='$(RUNTIME_PYTHON_VERSION)'; pyenv_root="$${PYENV_ROOT:-$$HOME/.pyenv}"; interpreter=; \
	for candidate in '$(RUNTIME_PYTHON)' \
	    "$$(pyenv prefix "$$version" 2>/dev/null | head -n 1)/bin/python$$version" \
	    $$(ls -d "$$pyenv_root/versions/$$version" "$$pyenv_root/versions/$$version".* 2>/dev/null \
	        | sort -rV | sed "s|\$$|/bin/python$$version|") \
	    "$$(command -v "python$$version")"; do \
	  [ -n "$$candidate" ] || continue; \
	  found=$$("$$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue; \
	  if [ "$$found" = "$$version" ]; then interpreter=$$candidate; break; fi; \
	done; \
	if [ -z "$$interpreter" ]; then \
	  echo "error: no Python $$version, the Python of the Lambda runtime (lambda_runtime in variables.tf)." >&2; \
	  echo "Install it with \`pyenv install $$version\` (or your package manager's python$$version)," >&2; \
	  echo "or name one with RUNTIME_PYTHON=/path/to/python$$version." >&2; \
	  exit 1; \
	fi; \
	echo "rm -rf $(RUNTIME_VENV); $$interpreter -m venv $(RUNTIME_VENV)"; \
	rm -rf $(RUNTIME_VENV) && "$$interpreter" -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RUNTIME_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed $(ASL_VALIDATOR_INSTALLED) ## Create .venv (engine, tools) and .tools (asl-validator, npm)

browser: ## Install Debian's chromium for the browser tests, unless it is there
	@command -v $(CHROMIUM) >/dev/null || { \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q chromium; }

lint: setup ## ruff, ruff format --check, mypy --strict and terraform fmt
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict scripts
	terraform fmt -check -recursive

docs: setup ## Regenerate the README's Inputs and outputs tables from variables.tf and outputs.tf
	$(PY) scripts/tfdocs.py --write

docs-check: setup ## The README checks: generated tables, policy reference, policy examples, make targets
	$(PY) -m pytest -q tests/docs

validate: setup ## terraform init and validate of the module and each example (offline, in a temp copy)
	$(PY) -m pytest -q tests/module/test_validate.py

renders: setup ## What the module renders, checked: the definition by asl-validator, IAM documents by parliament
	$(PY) -m pytest -q tests/module/test_checkers.py

checkov: $(CHECKOV_INSTALLED) ## Scan the module with checkov (installed into .venv-checkov; see .checkov.yaml)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

check: lint docs-check validate renders checkov ## Every check without the test suite: lint, docs, validate, renders, checkov

unit: setup browser ## The engine's tests only (no Terraform)
	$(PY) -m pytest tests/unit tests/live

# The runtime's interpreter runs every test; property tests draw a quarter of their examples there
# (tests/support/properties.py): the full search already ran on the project's Python.
RUNTIME_WORKERS ?= 2
runtime-tests: $(RUNTIME_INSTALLED) browser ## The engine's tests on the Lambda runtime's Python (in .venv-runtime)
	PROPERTY_EXAMPLE_SCALE=0.25 $(RUNTIME_VENV)/bin/python -m pytest -q -n $(RUNTIME_WORKERS) tests/unit tests/live

# The module's tests mostly wait: the AWS provider sleeps on purpose after creating things (5 s
# before it first asks whether a new Lambda function is active; about a minute for an S3 lifecycle
# configuration to read back the same ten times). Two workers overlap those waits. Each worker takes
# whole files (--dist loadfile) and starts its own moto server, so a root applied for the session
# must serve the tests of one file only: tests/module/conftest.py refuses one shared by two files.
MODULE_WORKERS ?= 2
module-tests: setup ## The module's tests: terraform apply against the emulation, executions of the real handlers
	$(PY) -m pytest -n $(MODULE_WORKERS) --dist loadfile tests/module

# The module's tests wait more than they compute, so `test` runs the runtime's tests beside them, on
# one worker; the others run on two before.
test: setup browser ## Set up, then run every check and the whole test suite (CI runs this)
	$(MAKE) lint checkov
	$(PY) -m pytest -n 2 tests/unit tests/live tests/docs
	$(MAKE) -j2 --output-sync=target module-tests runtime-tests RUNTIME_WORKERS=1

demo: setup ## Apply examples/complete (or EXAMPLE=basic) to a local moto server, run a cleanup, print the report
	$(PY) -m tests.support.demo --example $(or $(EXAMPLE),complete)

bench: setup ## Print the engine's speed, memory and API-call figures
	$(PY) bench/engine.py
	$(PY) bench/api_calls.py
	$(PY) bench/archive_calls.py
	$(PY) bench/faults.py

clean: ## Remove the virtualenvs, caches, Lambda zips and Terraform working files of the tests
	rm -rf $(VENV) $(CHECKOV_VENV) $(RUNTIME_VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis builds
	find tests examples -name .terraform -type d -prune -exec rm -rf {} +
	find tests examples -name builds -type d -prune -exec rm -rf {} +
	find tests examples \( -name .terraform.lock.hcl -o -name tf_resources.json -o -name 'terraform.tfstate*' \) -delete
