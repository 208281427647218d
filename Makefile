# Two commands on a fresh clone:  make run  (the main job on the sample data)  and  make test.
# Each target sets up what it needs: the virtualenv, the pinned packages, the node test tools.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov

.PHONY: run test test-deep test-setup lint format bench card card-docs sample schema clean

# The main job on the bundled sample (one recorded tenant-hour), from a fresh demo state each time
# so that it always shows the alerts; `python -m shared run` keeps its state in state/ by default.
run: $(VENV)/.runtime
	rm -f state/sample-demo.sqlite3*
	$(BIN)/python -m shared run --state state/sample-demo.sqlite3

# pytest runs on xdist workers (-n auto in pyproject.toml) with the quick Hypothesis profile "ci";
# test-deep runs the property tests with three times their written examples
# (docs/architecture.md#running-the-tests).
# The test modules' compiled, assertion-rewritten form is cached in __pycache__ even where the
# environment sets PYTHONDONTWRITEBYTECODE: each worker would otherwise rewrite every module again.
PYTEST := CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

test: test-setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTEST)

test-deep: test-setup
	$(PYTEST) --hypothesis-profile=deep

# The three set-ups are independent: on a fresh clone they run at once; afterwards their stamps
# make this a no-op.
test-setup:
	@$(MAKE) --no-print-directory -j3 $(VENV)/.dev node_modules/.installed $(CHECKOV_VENV)/.installed

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev node_modules/.installed
	$(BIN)/python -m bench

# The Teams card of the sample alert, rendered in headless Chromium (Debian: chromium fonts-liberation).
# `make card` writes an untracked preview to CARD_OUT, with the payload beside it; `make card-docs`
# rewrites the tracked docs/teams-card.png and docs/sample-webhook-payload.json, and refuses to without
# the pinned font (Liberation Sans), whose metrics decide every line break.
CARD_OUT ?= docs/_build/teams-card.png
card: $(VENV)/.dev node_modules/.installed
	$(BIN)/python tools/render_teams_card.py --output $(CARD_OUT) --payload $(dir $(CARD_OUT))sample-webhook-payload.json

card-docs:
	$(MAKE) card CARD_OUT=docs/teams-card.png

sample: $(VENV)/.dev
	$(BIN)/python tools/generate_tenant.py --sample --out sample_data
	$(BIN)/python -m tests.oracle.sql_port sample_data --write-expected sample_data/expected.json

# docs/webhook-payload.v1.schema.json and docs/health-payload.v1.schema.json, generated from the payloads'
# pydantic models (shared/alert_document.py, shared/health_document.py).
schema: $(VENV)/.runtime
	$(BIN)/python -m shared.alert_document --schema > docs/webhook-payload.v1.schema.json
	$(BIN)/python -m shared.health_document --schema > docs/health-payload.v1.schema.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins old versions of common packages, so it lives in a virtualenv of its own.
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==3.3.30
	touch $@

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .pytest_cache .ruff_cache state
