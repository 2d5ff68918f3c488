# Two entry points: `make demo` (the quickstart) and `make test` (lint + the whole suite).
# Both create the virtualenv on first use; nothing outside the repository is touched.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-stamp

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# --only-summary: Locust's request table once, at the end, not every 2 s; the ML summary follows it.
demo: $(STAMP)
	$(BIN)/locust -f locustfiles/quickstart.py --headless -u 50 -r 10 -t 60s --only-summary --ml-html reports/quickstart.html

test: $(STAMP) lint
	BIN=$(BIN) tests/run.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
