# claimflow: `make demo` issues a real signed token on embedded local services;
# `make test` runs every test tier, the linters and the SAM checks. Both bootstrap their venvs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RUNTIME_VERSION := 3.12
PYTHON_RUNTIME  := $(shell scripts/find-python $(RUNTIME_VERSION))
VENV            := .venv
VENV_SAM        := .venv-sam
VENV_SCAN       := .venv-scan
PY              := $(VENV)/bin/python
SAM             := $(VENV_SAM)/bin/sam
export PYTHONPATH := $(CURDIR)/layers/claimflow:$(CURDIR)/tools:$(CURDIR)/examples
# sam build (BuildMethod: python3.12) looks for python3.12 on PATH.
export PATH := $(dir $(PYTHON_RUNTIME)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help
help:
	@echo "make demo    issue a real signed token through the issuer and the seed's workflows (local)"
	@echo "make dev     keep the local services running and print how to call them"
	@echo "make test    every test tier, ruff, mypy, checkov, sam validate --lint and sam build"
	@echo "make bench   benchmarks; writes bench/results.json"
	@echo "make reliability  fault, bad-input, SSRF and secret suites + load; writes docs/reliability.md"

$(VENV)/.stamp: requirements-dev.txt layers/claimflow/requirements.txt
	@test -n "$(PYTHON_RUNTIME)" || { echo "Python $(RUNTIME_VERSION) not found" >&2; exit 1; }
	$(PYTHON_RUNTIME) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -r requirements-dev.txt -r layers/claimflow/requirements.txt
	touch $@

$(VENV_SAM)/.stamp: requirements-sam.txt
	$(PYTHON_RUNTIME) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/python -m pip install -qq --upgrade pip
	$(VENV_SAM)/bin/python -m pip install -qq -r requirements-sam.txt
	touch $@

$(VENV_SCAN)/.stamp: requirements-scan.txt
	$(PYTHON_RUNTIME) -m venv $(VENV_SCAN)
	$(VENV_SCAN)/bin/python -m pip install -qq --upgrade pip
	$(VENV_SCAN)/bin/python -m pip install -qq -r requirements-scan.txt
	touch $@

.PHONY: venv venv-sam venv-scan
venv: $(VENV)/.stamp
venv-sam: $(VENV_SAM)/.stamp
venv-scan: $(VENV_SCAN)/.stamp

.PHONY: demo
demo: venv
	$(PY) -m claimflow_local demo

.PHONY: dev
dev: venv
	$(PY) -m claimflow_local dev

.PHONY: lint
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m claimflow_local.cli check

.PHONY: pytest
pytest: venv
	$(PY) -m pytest

.PHONY: sam-check
sam-check: venv-sam
	$(SAM) validate --lint
	$(SAM) build --cached --parallel

.PHONY: scan
scan: venv-scan
	$(VENV_SCAN)/bin/checkov --skip-download --file template.yaml --framework cloudformation --compact --quiet

.PHONY: test
test: lint sam-check scan pytest

.PHONY: bench
bench: venv
	$(PY) -m bench

.PHONY: clean
clean:
	rm -rf $(VENV) $(VENV_SAM) $(VENV_SCAN) .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-result.json

.PHONY: load
load: venv
	$(PY) -m bench.load

.PHONY: reliability
reliability: venv
	$(PY) -m bench.reliability
