# The verbs a newcomer looks for: make run, make test, make lint, make bench.
PYTHON ?= python3.13
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: deps run test lint types unit bench conformance clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 13), "Python 3.13+ is needed (pyenv: see .python-version)"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: $(STAMP) $(NODE_STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/pyright

test: lint types $(NODE_STAMP)
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

conformance: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.conformance.run

bench: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.bench

clean:
	rm -rf $(VENV) node_modules .local .pytest_cache .ruff_cache
