"""The validation of the marts: the gate before a publish, and its report.

A mart's suite is its dbt data tests plus the GX-only expectations on it:

- **The rules on the data are dbt tests**, stated once, beside the columns
  (dbt_project/models/marts/_marts__models.yml; the generic tests sums_to_total,
  non_increasing, inside_interval, between, ... in dbt_project/macros/tests). They run as SQL
  in DuckDB, once, inside `dbt build` (a failing test already stops the build), and nothing in
  Python restates them or their code lists.
- **Great Expectations checks what dbt cannot state** (expectations.yml): each mart's row
  count, not empty unless nothing it rests on was delivered, and within bounds of the
  previous publish. Counts are taken in DuckDB and judged on a one-row frame.
- **The gate and the report merge both**: the dbt tests' outcomes come from the build's
  run_results.json (or from `dbt test`, when a mart's tests did not run in that build or when
  no build is given, e.g. a copy of a database), the row counts from GX. Per mart, the report
  lists every rule with pass or fail; a failing rule fails the mart's blocking check.

Why not GX suites generated from the dbt tests: they would run every rule twice, the second
time through pandas frames, which took 68 s at 1,000,000 persons; SQL in DuckDB is what
scales, and dbt already runs it. Why not only dbt: the row counts compare with another
database (the previous publish) and depend on what was delivered.

The public marts, and so the gate, come from the dbt manifest (rules.public_marts): every
model of the folder `marts`. A public mart without dbt tests is an error
(rules.check_coverage), so no mart passes the gate unchecked.

Privacy: dbt reports only a status and a number of failing rows per test (never a row), and
for the person-level marts (expectations.yml) the report keeps neither counts nor dbt's
messages; their GX results are BOOLEAN_ONLY. The report names rules and counts rows; it holds
no value of any row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reentry.store import Warehouse, as_warehouse

from .expectations import (
    SCHEMA,
    existing_tables,
    load_expectations,
    previous_counts,
    row_count_outcomes,
)
from .report import ExpectationOutcome, ValidationReport, write_report
from .rules import (
    DbtRule,
    check_coverage,
    public_marts,
    read_run_results,
    test_selectors,
)

# Runs dbt tests (their selectors) on a database and returns their results by unique id.
TestRunner = Callable[[Path, Sequence[str]], dict[str, dict]]

__all__ = [
    "ExpectationOutcome",
    "ValidationReport",
    "public_marts",
    "validate_marts",
    "write_report",
]

_PASSED = ("pass", "success", "warn")  # a test of severity warn does not block


def _dbt_outcome(rule: DbtRule, result: Mapping[str, Any] | None, person_level: bool):
    status = None if result is None else result.get("status")
    error = None
    counts: dict[str, float] = {}
    if status is None:
        error = "the dbt test did not run"
    elif status == "skipped":
        error = "skipped: a model the test reads did not build"
    elif status in ("error", "runtime error"):
        message = str(result.get("message") or "error").splitlines()[0][:300]
        # A database error may quote a value: withheld for person-level marts.
        error = "the dbt test raised an error" if person_level else message
    elif status == "fail" and not person_level:
        counts["unexpected_count"] = result.get("failures") or 0
    return ExpectationOutcome(
        table=rule.mart,
        expectation=rule.name,
        success=status in _PASSED,
        expectation_type=rule.test,
        columns=list(rule.columns),
        counts=counts,
        error=error,
        source="dbt",
    )


def _dbt_results(
    database: Warehouse | Path,
    marts: Sequence[str],
    rules: Mapping[str, list[DbtRule]],
    run_results: Path | None,
    run_tests: TestRunner | None,
) -> tuple[dict[str, dict], list[str]]:
    """The dbt results of the marts' tests: from the build's run_results.json, and from
    `dbt test` for each test the build did not run (every test without a build: a test
    left out with a model the build excluded). Returns the results and the marts with a
    test run now."""
    results = read_run_results(run_results) if run_results is not None else {}
    untested = [r for m in marts for r in rules[m] if r.unique_id not in results]
    if untested:
        if run_tests is None:
            raise ValueError(
                f"{len(untested)} dbt tests of {sorted({r.mart for r in untested})} have no "
                "result in the build's run_results.json, and no test runner was given"
            )
        results = {**results, **run_tests(database, test_selectors(untested))}
    return results, sorted({r.mart for r in untested}, key=list(marts).index)


def validate_marts(
    database: Warehouse | Path,
    previous: Path | None = None,
    tables: Sequence[str] | None = None,
    run_results: Path | None = None,
    *,
    manifest: Mapping[str, Any],
    run_tests: TestRunner | None = None,
) -> ValidationReport:
    """Validate the marts of a DuckDB database (schema marts) against their suites.

    previous: the previously published database, for the row-count bounds (a missing file is
    no previous publish). tables: the marts to validate (default: every public mart).
    run_results: the run_results.json of the dbt build of `database`; marts whose tests it
    lacks are tested now by `run_tests(database, selectors)`, which returns their results (the
    job's dbt resource: reentry.defs.dbt.run_dbt_tests). manifest: the dbt manifest."""
    started_at = datetime.now(UTC)
    rules = check_coverage(manifest)
    expectations = load_expectations()
    unknown_in_yaml = expectations.marts_named() - set(rules)
    if unknown_in_yaml:
        raise ValueError(f"expectations.yml names no public mart: {sorted(unknown_in_yaml)}")
    selected = list(rules) if tables is None else list(tables)
    unknown = [t for t in selected if t not in rules]
    if unknown:
        raise ValueError(f"no public mart {unknown}; the marts: {sorted(rules)}")
    before = previous_counts(previous)
    with as_warehouse(database).connect(read_only=True) as con:
        counts = existing_tables(con)
        present = [m for m in selected if m in counts]
        gx_outcomes = row_count_outcomes(con, present, counts, before, expectations)
    results, tested_now = _dbt_results(database, present, rules, run_results, run_tests)
    outcomes: list[ExpectationOutcome] = []
    for mart in selected:
        if mart not in counts:
            outcomes.append(
                ExpectationOutcome(
                    table=mart,
                    expectation=f"table {SCHEMA}.{mart} exists",
                    success=False,
                    error="table missing",
                    source="great_expectations",
                )
            )
            continue
        outcomes += [o for o in gx_outcomes if o.table == mart]
        person_level = mart in expectations.person_level
        outcomes += [_dbt_outcome(r, results.get(r.unique_id), person_level) for r in rules[mart]]
    return ValidationReport(
        success=all(o.success for o in outcomes),
        outcomes=outcomes,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        database=str(database),
        previous=None if previous is None else str(previous),
        previous_used=before is not None,
        tables=selected,
        tested_now=tested_now,
    )
