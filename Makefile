# claimflow: `make demo` issues a real signed token on embedded local services;
# `make test` runs every test tier, the linters and the SAM checks. Both bootstrap their venvs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RUNTIME_VERSION := 3.12
PYTHON_RUNTIME  := $(shell scripts/find-python $(RUNTIME_VERSION))
VENV            := .venv
VENV_SAM        := .venv-sam
VENV_SCAN       := .venv-scan
# The Lambda runtime's own packages (boto3, AWS's runtime interface client) for local sandboxes.
LAMBDA_RUNTIME  := .lambda-runtime/python$(RUNTIME_VERSION)
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

$(LAMBDA_RUNTIME)/.stamp: requirements-lambda-runtime.txt requirements-lambda-ric.txt
	@echo "== the local Lambda runtime ($(LAMBDA_RUNTIME)): boto3 and awslambdaric, outside every venv"
	rm -rf $(LAMBDA_RUNTIME)
	$(PYTHON_RUNTIME) -m pip install --disable-pip-version-check -q --target $(LAMBDA_RUNTIME) -r requirements-lambda-runtime.txt
	$(PYTHON_RUNTIME) -m pip install --disable-pip-version-check -q --target $(LAMBDA_RUNTIME) --no-deps --only-binary=:all: \
		-r requirements-lambda-ric.txt || echo "no awslambdaric wheel here: sandboxes run the built-in runtime client"
	touch $@

.PHONY: venv venv-sam venv-scan lambda-runtime build
venv: $(VENV)/.stamp
venv-sam: $(VENV_SAM)/.stamp
venv-scan: $(VENV_SCAN)/.stamp
lambda-runtime: $(LAMBDA_RUNTIME)/.stamp

# What deploys is what runs locally: sam build (cached: seconds when nothing changed).
build: venv-sam
	@echo "== sam build --cached"
	$(SAM) build --cached --parallel

# Local runs build first (sam build --cached) and run the built artifacts through the runtime client.
LOCAL := venv venv-sam lambda-runtime

.PHONY: demo
demo: $(LOCAL)
	$(PY) -m claimflow_local demo

.PHONY: dev
dev: $(LOCAL)
	$(PY) -m claimflow_local dev

.PHONY: lint
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m claimflow_local.cli check

.PHONY: pytest
pytest: $(LOCAL)
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
bench: $(LOCAL)
	$(PY) -m bench

.PHONY: clean
clean:
	rm -rf $(VENV) $(VENV_SAM) $(VENV_SCAN) .lambda-runtime .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-result.json

.PHONY: load
load: $(LOCAL)
	$(PY) -m bench.load

.PHONY: reliability
reliability: $(LOCAL)
	$(PY) -m bench.reliability
