PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint clean setup screenshots audit

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "python 3.11 is required ($(PY) not found)" >&2; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/medsettle serve --demo --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.calculator --visits 10000 --runs 7 --json docs/bench-calculator.json
	$(BIN)/python -m benchmarks.clearing --settlements 10000000 --runs 5 --json docs/bench-clearing.json
	$(BIN)/python -m benchmarks.http_load --db sqlite --counters 16 --visits 480 --runs 3 --json docs/bench-http-sqlite.json
	$(BIN)/python -m benchmarks.http_load --db sqlite --workers 2 --counters 32 --visits 960 --runs 3 --json docs/bench-http-sqlite-2-workers.json
	$(BIN)/python -m benchmarks.http_load --db postgres --workers 2 --counters 16 --visits 480 --runs 3 --json docs/bench-http-postgres.json
	$(BIN)/python -m benchmarks.http_load --db postgres --workers 2 --counters 16 --visits 480 --runs 3 --history 1000000 --json docs/bench-http-postgres-history.json
	$(BIN)/python -m benchmarks.contention --db sqlite --counters 16 --persons 2 --visits 320 --json docs/bench-contention-sqlite.json
	$(BIN)/python -m benchmarks.contention --db sqlite --workers 2 --counters 16 --persons 2 --visits 320 --json docs/bench-contention-sqlite-2-workers.json
	$(BIN)/python -m benchmarks.contention --db postgres --workers 2 --counters 16 --persons 2 --visits 320 --json docs/bench-contention-postgres.json

screenshots: $(STAMP)
	MEDSETTLE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest -q tests/web/test_browser.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# pip-audit over the installed packages; fails on a known vulnerability that has a fix,
# reports "skipped" when the vulnerability database is out of reach (docs/operations.md)
audit: $(STAMP)
	$(BIN)/python .ci/audit.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
