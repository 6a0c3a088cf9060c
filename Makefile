# Two commands on a fresh machine: `make run` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DATA   ?= ./stacklens-data

.PHONY: run test lint typecheck pytest bench clean system-deps node-deps image-test

$(VENV)/.server: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server]'
	touch $@

$(VENV)/.dev: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.server $@

## make run: install and start the hub on the embedded store; prints the URL and a first admin key
run: $(VENV)/.server
	$(VENV)/bin/stacklens serve --data-dir $(DATA)

## make test: install what the tests need (Python and Debian packages), lint, type-check, run the suite
test: $(VENV)/.dev system-deps node-deps lint typecheck pytest

system-deps:
	bash scripts/install-system-deps.sh

# A real Loki client (winston-loki) for the protobuf+snappy push tests.
WINSTON := tests/ingest/loki/winston
# The OpenCode plugin (built with its own TypeScript), and the real OpenCode with
# oh-my-opencode that its end-to-end test runs it in.
PLUGIN   := clients/opencode
OPENCODE := tests/clients/opencode
# The real langfuse (v3) and langsmith JS SDKs, running seed 001's services in tests.
LANGFUSE  := tests/clients/langfuse
LANGSMITH := tests/clients/langsmith
node-deps: $(WINSTON)/node_modules/.installed $(PLUGIN)/dist/index.js $(OPENCODE)/node_modules/.installed \
	$(LANGFUSE)/node_modules/.installed $(LANGSMITH)/node_modules/.installed
$(LANGFUSE)/node_modules/.installed: $(LANGFUSE)/package.json $(LANGFUSE)/package-lock.json
	cd $(LANGFUSE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@
$(LANGSMITH)/node_modules/.installed: $(LANGSMITH)/package.json $(LANGSMITH)/package-lock.json
	cd $(LANGSMITH) && npm ci --no-audit --no-fund --loglevel=error
	touch $@
$(WINSTON)/node_modules/.installed: $(WINSTON)/package.json $(WINSTON)/package-lock.json
	cd $(WINSTON) && npm ci --no-audit --no-fund --loglevel=error
	touch $@
$(PLUGIN)/dist/index.js: $(PLUGIN)/package.json $(PLUGIN)/package-lock.json $(PLUGIN)/tsconfig.json $(wildcard $(PLUGIN)/src/*.ts)
	cd $(PLUGIN) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
# npm install, not npm ci: oh-my-opencode's per-platform optional packages are left out of
# the lock file by npm, and npm ci then refuses the lock as out of sync.
$(OPENCODE)/node_modules/.installed: $(OPENCODE)/package.json $(OPENCODE)/package-lock.json
	cd $(OPENCODE) && npm install --no-audit --no-fund --loglevel=error
	touch $@

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(VENV)/.dev
	$(VENV)/bin/mypy

pytest: $(VENV)/.dev
	$(PY) -m pytest -q -p no:cacheprovider

## make image-test: build the container image from Debian packages and smoke-test its contents
image-test: system-deps
	bash deploy/image/smoke-test.sh

bench: $(VENV)/.dev
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
