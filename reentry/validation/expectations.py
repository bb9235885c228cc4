"""The expectations only Great Expectations checks (expectations.yml): each mart's row count,
not empty unless nothing it rests on was delivered, and within bounds of the previous publish.

Each mart's count is taken in DuckDB and judged by GX on a one-row frame, so the cost does not
grow with the mart (25 million recidivism rows at national scale cost one count). The person-
level marts are judged with result_format="BOOLEAN_ONLY": their results carry no count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import yaml

from .report import ExpectationOutcome

SCHEMA = "marts"
SOURCE = "great_expectations"
EXPECTATIONS_FILE = Path(__file__).with_name("expectations.yml")


@dataclass(frozen=True)
class Expectations:
    """expectations.yml, read."""

    person_level: frozenset[str]
    previous_publish_bounds: tuple[float, float]
    may_be_empty: frozenset[str]
    empty_when: Mapping[str, str]  # mart -> SQL condition

    def marts_named(self) -> set[str]:
        return set(self.person_level) | set(self.may_be_empty) | set(self.empty_when)


@cache
def load_expectations(path: Path = EXPECTATIONS_FILE) -> Expectations:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    conditions = data["conditions"]
    low, high = data["previous_publish_bounds"]
    return Expectations(
        person_level=frozenset(data["person_level"]),
        previous_publish_bounds=(float(low), float(high)),
        may_be_empty=frozenset(data["may_be_empty"]),
        empty_when={mart: conditions[name] for mart, name in data["empty_when"].items()},
    )


def existing_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every table and view of schema marts."""
    names = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = ? "
            "union select view_name from duckdb_views() where schema_name = ?",
            [SCHEMA, SCHEMA],
        ).fetchall()
    ]
    return {n: con.execute(f'select count(*) from {SCHEMA}."{n}"').fetchone()[0] for n in names}


def previous_counts(previous: Path | None) -> dict[str, int] | None:
    """Row counts of the previous publish; None without one."""
    if previous is None or not Path(previous).is_file():
        return None
    try:
        con = duckdb.connect(str(previous), read_only=True)
    except duckdb.Error:
        return None
    try:
        return existing_tables(con)
    finally:
        con.close()


def may_be_empty(con: duckdb.DuckDBPyConnection, mart: str, expectations: Expectations) -> bool:
    """The mart may be empty: by nature, or because nothing it rests on was delivered."""
    if mart in expectations.may_be_empty:
        return True
    condition = expectations.empty_when.get(mart)
    if condition is None:
        return False
    try:
        return bool(con.execute(f"select {condition}").fetchone()[0])
    except duckdb.Error:
        return False


@dataclass
class _RowCount:
    mart: str
    name: str
    low: int | None
    high: int | None


def _row_count_expectations(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    previous: Mapping[str, int] | None,
    expectations: Expectations,
) -> list[_RowCount]:
    checks = []
    if not may_be_empty(con, mart, expectations):
        checks.append(_RowCount(mart, "row count >= 1 (table not empty)", 1, None))
    if previous and previous.get(mart):
        n = previous[mart]
        bound_low, bound_high = expectations.previous_publish_bounds
        low, high = math.ceil(bound_low * n), math.floor(bound_high * n)
        checks.append(
            _RowCount(
                mart,
                f"row count within {bound_low:g}x-{bound_high:g}x of the previous publish "
                f"({n} rows: {low}-{high})",
                low,
                high,
            )
        )
    return checks


def row_count_outcomes(
    con: duckdb.DuckDBPyConnection,
    marts: Sequence[str],
    counts: Mapping[str, int],
    previous: Mapping[str, int] | None,
    expectations: Expectations,
) -> list[ExpectationOutcome]:
    """Judge the row counts of `marts` (all present in `counts`) with GX: one run for the
    person-level marts (BOOLEAN_ONLY), one for the others (SUMMARY)."""
    checks = [c for m in marts for c in _row_count_expectations(con, m, previous, expectations)]
    outcomes: dict[int, ExpectationOutcome] = {}
    for person_level in (True, False):
        batch = [
            (i, c)
            for i, c in enumerate(checks)
            if (c.mart in expectations.person_level) == person_level
        ]
        if batch:
            outcomes.update(_run_gx(batch, counts, person_level))
    return [outcomes[i] for i in sorted(outcomes)]


def _run_gx(
    batch: list[tuple[int, _RowCount]], counts: Mapping[str, int], person_level: bool
) -> dict[int, ExpectationOutcome]:
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("marts").add_dataframe_asset("row_counts")
    batch_definition = asset.add_batch_definition_whole_dataframe("row_counts")
    marts = sorted({c.mart for _, c in batch})
    frame = pd.DataFrame({f"{m}__n_rows": [counts[m]] for m in marts})
    suite = gx.ExpectationSuite(name="row_counts")
    for i, check in batch:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=f"{check.mart}__n_rows",
                min_value=check.low,
                max_value=check.high,
                meta={"check": i},
            )
        )
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="row_counts", data=batch_definition, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format="BOOLEAN_ONLY" if person_level else "SUMMARY",
    )
    by_index = dict(batch)
    outcomes = {}
    for r in result.results:
        i = int(r.expectation_config.meta["check"])
        check = by_index[i]
        raised = (r.exception_info or {}).get("raised_exception")
        outcomes[i] = ExpectationOutcome(
            table=check.mart,
            expectation=check.name,
            success=bool(r.success) and not raised,
            expectation_type=r.expectation_config.type,
            counts={} if person_level else {"observed_value": counts[check.mart]},
            error="the expectation raised an exception" if raised else None,
            source=SOURCE,
        )
    return outcomes
