# The verbs a newcomer looks for: make run, make test, make lint, make bench.
PYTHON ?= python3.13
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PEERS_STAMP := .venv-peers/.installed
AZCLI_STAMP := .venv-azcli/.installed

.PHONY: deps haproxy chromium peers run test lint types unit bench bench-stdio bench-bridge loadtest saturate coldstart profile eval-risk eval-search eval-models eval-forecast drill drill-scale eval-retrain conformance package preflight backup restore clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 13), "Python 3.13+ is needed (pyenv: see .python-version)"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# mcp-proxy from PyPI, the peer `make loadtest` compares with: its own venv (it pins another MCP SDK).
$(PEERS_STAMP):
	test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install --quiet mcp-proxy==0.13.0
	touch $@

peers: $(PEERS_STAMP)

$(AZCLI_STAMP): requirements-azcli.txt
	test -x .venv-azcli/bin/python || $(PYTHON) -m venv .venv-azcli
	.venv-azcli/bin/python -m pip install --quiet -r requirements-azcli.txt
	.venv-azcli/bin/python -m pip install --quiet --no-deps azure-cli==2.91.0
	touch $@

# HAProxy (Debian's package) is the local stand-in for Front Door: the routing tests and the drill drive it.
haproxy:
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; } || \
		{ echo "HAProxy is needed: install Debian's haproxy package (apt-get install haproxy)"; exit 1; }

# Debian's Chromium: the operator page's tests drive it with Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		{ echo "Chromium is needed for the browser tests: install Debian's chromium package"; exit 1; }

deps: $(STAMP) $(NODE_STAMP) $(PEERS_STAMP) $(AZCLI_STAMP) haproxy chromium

run: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/pyright

test: lint types $(NODE_STAMP) $(PEERS_STAMP) $(AZCLI_STAMP) haproxy chromium
	$(PY) -m pytest

unit: $(STAMP) $(AZCLI_STAMP)
	$(PY) -m pytest tests/unit

conformance: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.conformance.run

package: $(STAMP)
	$(PY) -m infra.package

# The deployment checked offline against Azure's own artefacts (the Functions worker, official
# schemas, resource type definitions) plus `make package`; `make test` runs the same checks.
preflight: $(STAMP)
	$(PY) -m infra.preflight

bench: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.bench

# A stdio server's calls through the bridge (and the hub) against the same server over stdio.
bench-stdio: $(STAMP) $(NODE_STAMP) $(PEERS_STAMP)
	$(PY) -m infra.bench_stdio

bench-bridge: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.bench_bridge

loadtest: $(STAMP) $(NODE_STAMP) $(PEERS_STAMP)
	$(PY) -m infra.loadtest --json .artifacts/loadtest.json

# Concurrency stepped up until p95 crosses 300 ms: calls/s per instance, hub and mcp-proxy.
saturate: $(STAMP) $(NODE_STAMP) $(PEERS_STAMP)
	$(PY) -m infra.saturate --json .artifacts/saturate.json

coldstart: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.coldstart

profile: $(STAMP) $(NODE_STAMP)
	$(PY) -m infra.profile

eval-risk: $(STAMP)
	$(PY) -m infra.eval_risk

eval-search: $(STAMP)
	$(PY) -m infra.search_eval

eval-models: $(STAMP)
	$(PY) -m infra.search_eval.models

eval-forecast: $(STAMP)
	$(PY) -m infra.eval_forecast

# HOG=1: the same drill with one busy process per core beside it (CPU contention, as on a busy host).
drill: $(STAMP) $(NODE_STAMP) haproxy
	$(PY) -m infra.drill $(if $(HOG),--hog $$(nproc))

# Three synthetic weeks through the forecaster and the capacity controller: the plan beside the
# load, minutes under-provisioned, cost against a static plan for the peak.
drill-scale: $(STAMP)
	$(PY) -m infra.drill_scale

# The risk model's retraining on two recorded drills: the decision and both models' scores.
eval-retrain: $(STAMP)
	$(PY) -m infra.eval_retrain

# Backup and restore of the hub's tables (default: the Azurite of `make run`; on Azure, set
# MCPHUB_BACKUP_CONNECTION_STRING / MCPHUB_RESTORE_CONNECTION_STRING). make restore ARCHIVE=backups/....tar
LOCAL_STORAGE := DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;
backup: $(STAMP)
	MCPHUB_BACKUP_CONNECTION_STRING="$${MCPHUB_BACKUP_CONNECTION_STRING:-$(LOCAL_STORAGE)}" $(PY) -m shared.backup backup $(if $(OUT),--out $(OUT))

restore: $(STAMP)
	@test -n "$(ARCHIVE)" || { echo "usage: make restore ARCHIVE=backups/mcphub-backup-<time>.tar"; exit 2; }
	MCPHUB_RESTORE_CONNECTION_STRING="$${MCPHUB_RESTORE_CONNECTION_STRING:-$(LOCAL_STORAGE)}" $(PY) -m shared.backup restore $(ARCHIVE)

clean:
	rm -rf $(VENV) .venv-peers .venv-azcli node_modules .local .pytest_cache .ruff_cache
