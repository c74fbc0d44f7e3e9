# The README's commands. Every install step lives here so a fresh clone needs nothing by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AZURITE_DIR := .local/azurite
PYTEST_ARGS ?=

.PHONY: install test dev bench lint infra-check clean

install: $(VENV)/.installed $(AZURITE_DIR)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Azurite is pinned by devhost/azurite/package-lock.json and installed with `npm ci`.
$(AZURITE_DIR)/.installed: devhost/azurite/package.json devhost/azurite/package-lock.json
	mkdir -p $(AZURITE_DIR)
	cp devhost/azurite/package.json devhost/azurite/package-lock.json $(AZURITE_DIR)/
	cd $(AZURITE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# curl runs the README's example walks (tests/test_readme_examples.py); Debian's, when missing.
test: install
	@command -v curl >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq curl)
	$(PY) -m devhost.services exec -- $(PY) -m pytest $(PYTEST_ARGS)

dev: install
	$(PY) -m devhost

# wrk generates the HTTP load (bench/load.py); Debian's package, installed when missing.
BENCH ?=
bench: install
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m devhost.services exec -- $(PY) -m bench $(BENCH)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

infra-check: install
	$(PY) -m pytest tests/infra -q
	@if command -v bicep >/dev/null 2>&1; then bicep build infra/main.bicep --stdout >/dev/null && echo "bicep build: ok"; \
	elif command -v az >/dev/null 2>&1; then az bicep build --file infra/main.bicep --stdout >/dev/null && echo "az bicep build: ok"; \
	else echo "bicep build: skipped (no bicep CLI on this machine); structural tests ran"; fi

clean:
	rm -rf .local/run .pytest_cache
