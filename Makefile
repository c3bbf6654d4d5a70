# gembatch: `make demo` runs the main job, `make test` runs lint and the whole test suite
# (which builds both distributions and smoke-tests the wheels in a fresh virtualenv).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost

.PHONY: install test lint pytest demo demo-vertex bench clean browser-deps docs dist package-test pre-commit

install: $(VENV)/.installed

# gembatch/_version.py too: an editable install records the version in its metadata.
$(VENV)/.installed: pyproject.toml $(wildcard widgets/pyproject.toml) gembatch/_version.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# the distributions' names before 0.1.0 (gembatch, gembatch-widgets), left by an older checkout
	$(BIN)/python -m pip uninstall --quiet --yes gembatch gembatch-widgets 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@if [ -f widgets/pyproject.toml ]; then $(BIN)/python -m pip install --quiet -e "./widgets[test]"; fi
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	touch $@

lint: install
	$(BIN)/ruff check gembatch tests bench $(wildcard widgets)
	$(BIN)/mypy

pytest: install browser-deps
	$(BIN)/pytest -q
	$(BIN)/pytest -q --nbval-lax --nbval-current-env notebooks/

# Debian's chromium for the widgets' real-browser test (never `playwright install`: it downloads browsers).
browser-deps:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser-deps: installing Debian's chromium"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "browser-deps: chromium could not be installed; the browser test will be skipped"; \
	else echo "browser-deps: chromium is missing and needs root + apt-get; the browser test will be skipped"; fi

test: lint pytest

# The 12k runbook, headless, on the embedded emulator; re-running resumes (or finds it done).
DEMO_DIR ?= runs/demo-12k
demo: install
	@mkdir -p $(DEMO_DIR)
	$(BIN)/python -m papermill notebooks/20_runbook_12k.ipynb $(DEMO_DIR)/runbook.ipynb -k python3 --cwd . \
		--no-progress-bar --log-output -p run_dir $(DEMO_DIR) -p display_mode static -p emulator_speed 100000
	@echo "executed notebook: $(DEMO_DIR)/runbook.ipynb"
	@echo "results:           $(DEMO_DIR)/results.parquet"
	@echo "summary:           $(DEMO_DIR)/summary.json"

# The same rehearsal on Vertex AI batch prediction: Cloud Storage in and out, all local (docs/vertex.md).
DEMO_VERTEX_DIR ?= runs/demo-vertex
demo-vertex: install
	$(BIN)/python -m gembatch.emulator._vertex_demo $(DEMO_VERTEX_DIR)

# Regenerate the tables of docs/tier1-12k.md from the catalogue and the planner.
docs: install
	$(BIN)/python -m gembatch.docs

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# sdists and wheels of both distributions (gembatch-runner, gembatch-runner-widgets), checked by twine.
DIST_DIR ?= dist
dist: install
	rm -rf $(DIST_DIR)
	$(BIN)/python -m build --outdir $(DIST_DIR) .
	$(BIN)/python -m build --outdir $(DIST_DIR) widgets
	$(BIN)/twine check --strict $(DIST_DIR)/*

# Build, check contents and metadata, install the wheels in a fresh virtualenv, run 10 articles
# on the emulator (tests/test_packaging.py; also part of `make test`).
package-test: install
	$(BIN)/pytest -q -m packaging

# The hooks of .pre-commit-config.yaml on every file: local hooks that run .venv's tools, so no
# network. `.venv/bin/pre-commit install` runs them on each commit.
pre-commit: install
	$(BIN)/pre-commit run --all-files

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(DIST_DIR)
