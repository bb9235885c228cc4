# The two commands of the README: `make demo` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Telemetry of dbt, Dagster and Great Expectations stays off everywhere.
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test test-crash test-lake lake-postgres lint dev clean bench bench-lake

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(STAMP)
	$(BIN)/reentry demo --workdir demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not crash and not lake"

# Runs killed at every step boundary and finished by the next (about 15 minutes; CI runs it).
test-crash: $(STAMP)
	$(BIN)/python -m pytest -m crash

# The warehouse on DuckLake against a PostgreSQL the tests start themselves (CI runs it).
test-lake: $(STAMP)
	$(BIN)/python -m pytest -m lake

# A PostgreSQL for the lake's catalog in .lake/ (prints the variables a lake run reads).
lake-postgres:
	@scripts/lake-postgres start .lake

# Dagster's UI on the demo work folder: the whole graph, runs, checks, sensor and schedule.
dev: $(STAMP)
	@test -f demo/published/warehouse.duckdb || $(BIN)/reentry demo --workdir demo
	@mkdir -p demo/.dagster && cp reentry/defs/dagster.yaml demo/.dagster/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/demo/.dagster REENTRY_WORKDIR=demo REENTRY_DEMO=1 \
		$(BIN)/dagster dev -m reentry.defs.definitions

# The benchmark (not part of `make test`): 10^4, 10^5, 10^6 persons; results in bench/results/.
bench: $(STAMP)
	$(BIN)/python -m bench.run

# The lake against the file at 10^5 and 10^6 persons (a PostgreSQL of its own); bench/results/lake.md.
bench-lake: $(STAMP)
	$(BIN)/python -m bench.lake

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint dbt_project

clean:
	rm -rf demo .pytest_cache
