# gembatch: `make demo` runs the main job (light install), `make test` runs lint and the whole test suite
# (which builds both distributions and smoke-tests the wheels in a fresh virtualenv).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost

.PHONY: install test lint pytest demo demo-vertex bench clean browser-deps docs dist package-test pre-commit

install: $(VENV)/.installed

# The installer: uv (itself from the package index, into the venv) when it can be had, else pip.
# GEMBATCH_INSTALLER=pip forces pip. `make demo` installs only what the demo needs
# ($(VENV)/.demo-installed); `make install` (and so `make test`) adds the dev and test tools.
GEMBATCH_INSTALLER ?= auto
define venv_install
	@if [ "$(GEMBATCH_INSTALLER)" != pip ] && [ ! -x $(BIN)/uv ]; then \
		$(BIN)/python -m pip install --quiet uv >/dev/null 2>&1 || echo "uv not available: installing with pip"; fi
	@if [ "$(GEMBATCH_INSTALLER)" != pip ] && [ -x $(BIN)/uv ]; then \
		echo "uv pip install $(1)"; $(BIN)/uv pip install --quiet --python $(BIN)/python $(1) \
			|| { echo "uv failed: installing with pip"; $(BIN)/python -m pip install --quiet $(1); }; \
	else echo "pip install $(1)"; $(BIN)/python -m pip install --quiet $(1); fi
endef

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# gembatch/_version.py too: an editable install records the version in its metadata.
$(VENV)/.demo-installed: pyproject.toml $(wildcard widgets/pyproject.toml) gembatch/_version.py | $(VENV)/bin/python
	@# the distributions' names before 0.1.0 (gembatch, gembatch-widgets), left by an older checkout
	@$(BIN)/python -m pip uninstall --quiet --yes gembatch gembatch-widgets >/dev/null 2>&1 || true
	$(call venv_install,-e ".[notebook]" $(if $(wildcard widgets/pyproject.toml),-e ./widgets))
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	touch $@

$(VENV)/.installed: $(VENV)/.demo-installed
	$(call venv_install,-e ".[dev]" $(if $(wildcard widgets/pyproject.toml),-e "./widgets[test]"))
	touch $@

lint: install
	$(BIN)/ruff check gembatch tests bench $(wildcard widgets)
	$(BIN)/mypy

pytest: install browser-deps
	$(BIN)/pytest -q
	@# the notebooks get an empty response cache of their own, like every test
	GEMBATCH_CACHE_DIR=$$(mktemp -d) $(BIN)/pytest -q --nbval-lax --nbval-current-env notebooks/

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
# The notebook's log goes to $(DEMO_DIR)/papermill.log; the end shows its last lines and one short block.
# Speed 20000 (48 emulated hours in 8.6 s): a faster clock can expire jobs whose answers a busy
# machine has not generated yet.
DEMO_DIR ?= runs/demo-12k
demo: $(VENV)/.demo-installed
	@mkdir -p $(DEMO_DIR)
	@start=$$(date +%s); \
	echo "running notebooks/20_runbook_12k.ipynb (log: $(DEMO_DIR)/papermill.log)"; \
	if ! $(BIN)/python -m papermill notebooks/20_runbook_12k.ipynb $(DEMO_DIR)/runbook.ipynb -k python3 --cwd . \
		--no-progress-bar --log-output -p run_dir $(DEMO_DIR) -p display_mode static \
		> $(DEMO_DIR)/papermill.log 2>&1; then tail -n 40 $(DEMO_DIR)/papermill.log; exit 1; fi; \
	grep -E '^[0-9:]{8} ' $(DEMO_DIR)/papermill.log | tail -n 3; \
	$(BIN)/python -m gembatch.runbook $(DEMO_DIR) --since $$start

# The same 12k runbook on Vertex AI batch prediction, all local (docs/vertex.md): the emulator's Vertex
# surface and fake-gcs-server in the kernel's process; DEMO_VERTEX_DATASET=local.demo uses BigQuery
# tables (the BigQuery stand-in) instead of Cloud Storage. Installs only the vertex extra besides `demo`'s.
DEMO_VERTEX_DIR ?= runs/demo-vertex
DEMO_VERTEX_DATASET ?=
# Vertex has no tier quota, so its plan is one job; the emulator holds Vertex jobs to its tier's
# enqueued-token quota as well, so the rehearsal cuts jobs of 2M tokens (within it), as a team would.
DEMO_VERTEX_CHUNK_TOKENS ?= 2000000
DEMO_VERTEX_DEPS := -e ".[notebook,vertex]"
$(VENV)/.demo-vertex-installed: $(VENV)/.demo-installed
	$(call venv_install,$(DEMO_VERTEX_DEPS))
	touch $@

demo-vertex: $(VENV)/.demo-vertex-installed
	@mkdir -p $(DEMO_VERTEX_DIR)
	@start=$$(date +%s); \
	echo "running notebooks/20_runbook_12k.ipynb on vertex-emulator (log: $(DEMO_VERTEX_DIR)/papermill.log)"; \
	if ! $(BIN)/python -m papermill notebooks/20_runbook_12k.ipynb $(DEMO_VERTEX_DIR)/runbook.ipynb -k python3 \
		--cwd . --no-progress-bar --log-output -p run_dir $(DEMO_VERTEX_DIR) -p display_mode static \
		-p backend vertex-emulator -p chunk_tokens $(DEMO_VERTEX_CHUNK_TOKENS) $(if $(DEMO_VERTEX_DATASET),-p dataset $(DEMO_VERTEX_DATASET)) \
		> $(DEMO_VERTEX_DIR)/papermill.log 2>&1; then tail -n 40 $(DEMO_VERTEX_DIR)/papermill.log; exit 1; fi; \
	grep -E '^[0-9:]{8} ' $(DEMO_VERTEX_DIR)/papermill.log | tail -n 3; \
	$(BIN)/python -m gembatch.runbook $(DEMO_VERTEX_DIR) --since $$start

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
