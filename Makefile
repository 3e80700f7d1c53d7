# Developer commands. Every target installs the project into .venv first.
#
#   make demo    archive the example job results into synth_results.db
#   make test    run pytest on SQLite and on a throwaway PostgreSQL server
#   make lint    run ruff and mypy
#   make schema-doc  regenerate docs/schema.md from a migrated PostgreSQL database
#
# PYTEST_ARGS adds pytest options, e.g. make test PYTEST_ARGS='-k sqlite -x'.

SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
# Written after a successful install, so the install re-runs only when
# pyproject.toml is newer than this file or .venv was deleted.
INSTALL_STAMP := $(VENV)/.install-stamp
THROWAWAY_POSTGRES := bash scripts/throwaway-postgres.sh
PYTEST_ARGS ?=

.PHONY: install demo test lint schema-doc

install: $(INSTALL_STAMP)

$(INSTALL_STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -e '.[dev]'
	touch $@

demo: $(INSTALL_STAMP)
	$(VENV)/bin/etl sync --from examples/

# Uses ETL_TEST_POSTGRES_URL when it is set. Otherwise, if initdb is found,
# `throwaway-postgres.sh run` starts a server, runs pytest and stops the server
# even when pytest fails. Without either, the PostgreSQL tests are skipped, or
# fail when ETL_REQUIRE_POSTGRES=1.
test: $(INSTALL_STAMP)
	@if [[ -z "$${ETL_TEST_POSTGRES_URL:-}" ]] && $(THROWAWAY_POSTGRES) bindir >/dev/null 2>&1; then \
		echo "Starting a throwaway PostgreSQL server for the tests"; \
		$(THROWAWAY_POSTGRES) run $(VENV)/bin/pytest $(PYTEST_ARGS); \
	else \
		if [[ -z "$${ETL_TEST_POSTGRES_URL:-}" ]]; then \
			echo "ETL_TEST_POSTGRES_URL is not set and initdb was not found, so PostgreSQL tests are skipped unless ETL_REQUIRE_POSTGRES=1"; \
		fi; \
		$(VENV)/bin/pytest $(PYTEST_ARGS); \
	fi

# Runs all three checks, even after one fails, and fails if any of them failed.
lint: $(INSTALL_STAMP)
	@status=0; \
	for check in "ruff check ." "ruff format --check ." "mypy --strict etl"; do \
		echo "$(VENV)/bin/$$check"; \
		$(VENV)/bin/$$check || status=1; \
	done; \
	exit $$status

# Migrates a temporary database on ETL_TEST_POSTGRES_URL's server, or on a
# throwaway server when the variable is unset, and writes docs/schema.md.
schema-doc: $(INSTALL_STAMP)
	@if [[ -z "$${ETL_TEST_POSTGRES_URL:-}" ]]; then \
		$(THROWAWAY_POSTGRES) run $(VENV)/bin/python scripts/generate_schema_doc.py; \
	else \
		$(VENV)/bin/python scripts/generate_schema_doc.py; \
	fi
