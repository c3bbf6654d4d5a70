# gembatch: `make demo` runs the main job, `make test` runs lint and the whole test suite.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost

.PHONY: install test lint pytest demo bench clean browser-deps

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(wildcard widgets/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@if [ -f widgets/pyproject.toml ]; then $(BIN)/python -m pip install --quiet -e "./widgets[test]"; fi
	touch $@

lint: install
	$(BIN)/ruff check gembatch tests bench $(wildcard widgets)
	$(BIN)/mypy

pytest: install browser-deps
	$(BIN)/pytest -q

# Debian's chromium for the widgets' real-browser test (never `playwright install`: it downloads browsers).
browser-deps:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser-deps: installing Debian's chromium"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "browser-deps: chromium could not be installed; the browser test will be skipped"; \
	else echo "browser-deps: chromium is missing and needs root + apt-get; the browser test will be skipped"; fi

test: lint pytest

demo: install
	$(BIN)/python -m gembatch.demo

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
