# claimflow: `make demo` issues a real signed token on embedded local services;
# `make test` runs every test tier, the linters and the SAM checks. Both bootstrap their venvs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RUNTIME_VERSION := 3.12
PYTHON_RUNTIME  := $(shell scripts/find-python $(RUNTIME_VERSION))
VENV            := .venv
VENV_SAM        := .venv-sam
VENV_SCAN       := .venv-scan
VENV_DOCS       := .venv-docs
# The Lambda runtime's own packages (boto3, AWS's runtime interface client) for local sandboxes.
LAMBDA_RUNTIME  := .lambda-runtime/python$(RUNTIME_VERSION)
PY              := $(VENV)/bin/python
SAM             := $(VENV_SAM)/bin/sam
export PYTHONPATH := $(CURDIR)/layers/claimflow:$(CURDIR)/tools:$(CURDIR)/examples
# sam build (BuildMethod: python3.12) looks for python3.12 on PATH.
export PATH := $(dir $(PYTHON_RUNTIME)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# Every target carries a `## what it does` comment; `make help` lists them (a test keeps it so).
.PHONY: help
help: ## this list
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z-]*:[^=]*## / {printf "make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# First runs install; each step says so, and pip shows what it fetches (a minute or two in all).
PIP_INSTALL := -m pip install --disable-pip-version-check --progress-bar on

$(VENV)/.stamp: requirements-dev.txt layers/claimflow/requirements.txt
	@test -n "$(PYTHON_RUNTIME)" || { echo "Python $(RUNTIME_VERSION) not found" >&2; exit 1; }
	@echo "== 1/4 the project venv ($(VENV)): the layer's packages and the test tools"
	$(PYTHON_RUNTIME) -m venv $(VENV)
	$(PY) $(PIP_INSTALL) -r requirements-dev.txt -r layers/claimflow/requirements.txt
	touch $@

$(VENV_SAM)/.stamp: requirements-sam.txt
	@echo "== 2/4 SAM CLI ($(VENV_SAM)): sam build, sam validate, sam local"
	$(PYTHON_RUNTIME) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/python $(PIP_INSTALL) -r requirements-sam.txt
	touch $@

$(VENV_SCAN)/.stamp: requirements-scan.txt
	@echo "== 4/4 checkov ($(VENV_SCAN)): the template's security scan"
	$(PYTHON_RUNTIME) -m venv $(VENV_SCAN)
	$(VENV_SCAN)/bin/python $(PIP_INSTALL) -r requirements-scan.txt
	touch $@

$(VENV_DOCS)/.stamp: requirements-docs.txt
	@echo "== docs tools ($(VENV_DOCS)): mkdocs, mkdocs-material, mkdocstrings"
	$(PYTHON_RUNTIME) -m venv $(VENV_DOCS)
	$(VENV_DOCS)/bin/python $(PIP_INSTALL) -r requirements-docs.txt
	touch $@

$(LAMBDA_RUNTIME)/.stamp: requirements-lambda-runtime.txt requirements-lambda-ric.txt
	@echo "== 3/4 the local Lambda runtime ($(LAMBDA_RUNTIME)): boto3 and awslambdaric, outside every venv"
	rm -rf $(LAMBDA_RUNTIME)
	$(PYTHON_RUNTIME) $(PIP_INSTALL) --target $(LAMBDA_RUNTIME) -r requirements-lambda-runtime.txt
	$(PYTHON_RUNTIME) $(PIP_INSTALL) --target $(LAMBDA_RUNTIME) --no-deps --only-binary=:all: \
		-r requirements-lambda-ric.txt || echo "no awslambdaric wheel here: sandboxes run the built-in runtime client"
	touch $@

.PHONY: venv venv-sam venv-scan venv-docs lambda-runtime build
venv: $(VENV)/.stamp ## the project venv (.venv)
venv-sam: $(VENV_SAM)/.stamp ## SAM CLI's venv (.venv-sam)
venv-scan: $(VENV_SCAN)/.stamp ## checkov's venv (.venv-scan)
venv-docs: $(VENV_DOCS)/.stamp ## the docs tools' venv (.venv-docs)
lambda-runtime: $(LAMBDA_RUNTIME)/.stamp ## boto3 and awslambdaric as Lambda's runtime has them, for local runs

# What deploys is what runs locally: sam build (cached: seconds when nothing changed).
build: venv-sam ## sam build --cached: the artifacts that deploy and that local runs execute (ARCH=arm64 for Graviton)
	@echo "== sam build --cached"
	$(if $(ARCH),CLAIMFLOW_ARCH=$(ARCH)) $(SAM) build --cached --parallel

# Local runs build first (sam build --cached) and run the built artifacts through the runtime client.
LOCAL := venv venv-sam lambda-runtime

.PHONY: demo
demo: $(LOCAL) ## issue a real signed token through the issuer and the seed's workflows (local)
	$(PY) -m claimflow_local demo

.PHONY: dev
dev: $(LOCAL) ## keep the local stack running, reloading what you save (ports 3000-3006; PORT_BASE=4000 moves them)
	$(if $(PORT_BASE),CLAIMFLOW_DEV_PORT_BASE=$(PORT_BASE)) $(PY) -m claimflow_local dev

.PHONY: provider
provider: ## node-oidc-provider on 127.0.0.1:3100 whose tokens carry the workflows' claims (needs make dev running)
	cd examples/oidc_provider && npm ci --no-audit --no-fund
	cd examples/oidc_provider && PORT=3100 CLAIMFLOW_HOOK_URL=http://127.0.0.1:$$(( $${CLAIMFLOW_DEV_PORT_BASE:-3000} + 6 ))/hooks/generic \
		CLAIMFLOW_HOOK_SECRET="$$($(PY) -c 'import json; print(json.load(open("../../local/settings.json"))["hooks"]["generic"]["secret"])')" \
		node provider.mjs

.PHONY: lint
lint: venv ## ruff, mypy, the import contracts and claimflow check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m claimflow_local.cli check

.PHONY: pytest
pytest: $(LOCAL) ## every test tier (unit, functional, template, faults)
	$(PY) -m pytest

.PHONY: sam-check
sam-check: venv-sam ## sam validate --lint and sam build
	$(SAM) validate --lint
	$(SAM) build --cached --parallel

.PHONY: scan
scan: venv-scan ## checkov on template.yaml
	$(VENV_SCAN)/bin/checkov --skip-download --file template.yaml --framework cloudformation --compact --quiet

.PHONY: test
test: lint sam-check scan docs-build pytest ## everything CI runs: lint, sam-check, scan, docs-build and pytest

# The docs site (mkdocs.yml, docs/): its reference pages are generated from the code on every build.
DOCS_PORT := $(or $(PORT),8000)

.PHONY: docs docs-build
docs docs-build: export CLAIMFLOW_DOCS_PYTHON := $(CURDIR)/$(PY)
docs docs-build: export NO_MKDOCS_2_WARNING := 1
docs: venv venv-docs ## serve the docs site on 127.0.0.1:8000, rebuilt as you save (PORT=8001 moves it)
	$(VENV_DOCS)/bin/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-build: venv venv-docs ## build the docs site into site/ with mkdocs build --strict (a broken link fails)
	$(VENV_DOCS)/bin/mkdocs build --strict --quiet

.PHONY: bench
bench: $(LOCAL) ## benchmarks, as ratios against baselines in the same run; writes bench/results.json
	$(PY) -m bench

.PHONY: clean
clean: ## remove the venvs, the build and the caches
	rm -rf $(VENV) $(VENV_SAM) $(VENV_SCAN) $(VENV_DOCS) site .lambda-runtime .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-result.json

.PHONY: load
load: $(LOCAL) ## the load run alone (bench.load)
	$(PY) -m bench.load

.PHONY: bench-recording
bench-recording: $(LOCAL) ## what recording costs a login, and replay's speed (bench.recording; writes bench/recording-results.json)
	$(PY) -m bench.recording

.PHONY: reliability
reliability: $(LOCAL) ## fault, bad-input, SSRF and secret suites + load; writes docs/reliability.md
	$(PY) -m bench.reliability
