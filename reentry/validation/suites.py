"""Great Expectations validation of the marts: one suite per mart, run on dataframes read
from DuckDB (GX's SQL data source does not work against DuckDB), and a report as JSON and a
self-contained HTML page.

Privacy: the suites of the person-level marts (releases, placements, recidivism) run with
``result_format="BOOLEAN_ONLY"``, so no value of a row ever lands in a validation result. The
report keeps, per expectation, its name, pass or fail and a few counts; never a value.

Floating point: the Wilson limits at k = 0 and the Kaplan-Meier products can step over the
estimate by a few ulps (ci_low = 3e-17 at rate 0, survival rising by 1e-16); pairs of doubles
are therefore compared with a tolerance of ``TOLERANCE`` (as the dbt ``inside_interval`` test
does), by columns prepared in DuckDB.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import duckdb  # noqa: E402
import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

__all__ = [
    "ExpectationOutcome",
    "ValidationReport",
    "validate_marts",
    "write_report",
    "TABLES",
    "PERSON_LEVEL_TABLES",
    "TOLERANCE",
]

SCHEMA = "marts"
TOLERANCE = 1e-12
ROW_COUNT_BOUNDS = (0.5, 2.0)  # row count between these multiples of the previous publish

# The programmes declared in the registry, read from marts.programmes when a validation starts
# (validate_marts fills it before any suite is built): code lists never name a programme.
PROGRAMMES: list[str] = []
GROUPS = ["participant", "comparison"]
MEASURES = ["reconviction", "custodial_reconviction", "serious_reconviction", "reincarceration"]
WINDOWS = [12, 24, 36]
SEXES = ["m", "f", "x", "u"]
AGE_BANDS = ["under_21", "21_24", "25_29", "30_39", "40_plus", "unknown"]
RELEASE_TYPES = ["end_of_sentence", "parole", "early_release"]
PLACEMENT_TYPES = [
    "employment",
    "temp_work",
    "apprenticeship",
    "vocational_training",
    "qualification",
    "work_experience",
]
END_REASONS = [
    "completed",
    "transition",
    "dropout",
    "dismissal",
    "reincarcerated",
    "relocation",
    "health",
    "other",
]
OFFENCE_GROUPS = [
    "violent",
    "sexual",
    "property",
    "fraud",
    "drugs",
    "traffic",
    "public_order",
    "other",
]
NACE_SECTIONS = [chr(c) for c in range(ord("A"), ord("U") + 1)]
PERIOD_TYPES = ["all", "year", "quarter"]
INDICATOR_KINDS = ["share", "rate", "per_100", "count", "median", "km"]
EMPLOYMENT_DAYS = [30, 90, 180, 365]
DROPOUT_BREAKDOWNS = ["all", "placement_type", "sector", "partner", "prison"]
SOURCE_KINDS = ["prison", "partner", "register"]
DELIVERY_STATUSES = ["loaded", "duplicate", "rejected", "ignored"]
DELIVERY_MODES = ["full", "incremental"]
ALL = "all"

# indicator -> kind (indicators.md, int_indicator_facts.sql, programme_indicators.sql)
INDICATOR_KIND: dict[str, str] = {
    "releases": "count",
    "participation": "share",
    "placed_before_release": "share",
    "placed_within_90_days": "share",
    "seamless_start": "share",
    "days_to_first_start": "median",
    "continuity": "share",
    "aftercare_contact_14_days": "share",
    "contacts_per_participant_month": "rate",
    "employer_contact_share": "share",
    "crisis_per_100_participants": "per_100",
    "step_up": "share",
    **{f"in_work_day_{d}": "share" for d in EMPLOYMENT_DAYS},
    **{f"dropout_{d}_days": "share" for d in (90, 180)},
    **{f"retention_{d}_days": "km" for d in (30, 90, 180)},
    **{
        f"{m}_{w}m_{g}": "share"
        for m in MEASURES
        for w in (12, 24)
        for g in ("participants", "comparison")
    },
}

PERSON_LEVEL_TABLES = frozenset({"releases", "placements", "recidivism"})
# Tables that may legitimately be empty (a clean delivery has nothing to quarantine).
MAY_BE_EMPTY = frozenset({"data_quality_quarantine", "data_quality_consent_exclusions"})
# A mart may also be empty when no source delivers the entity it rests on, or when no release
# lies in a programme period (exports.md: such marts are empty, say so, and block nothing).
# The condition is evaluated on the validated database; where it cannot be (no raw schema,
# e.g. a published file) the mart must not be empty.
_NO_CUSTODY = "(select count(*) from raw.custody_episodes__current) = 0"
_NO_PLACEMENTS = "(select count(*) from raw.placements__current) = 0"
_NO_PERIOD_RELEASES = f"(select coalesce(sum(n_period_releases), 0) from {SCHEMA}.programmes) = 0"
EMPTY_WHEN: dict[str, str] = {
    **{t: _NO_CUSTODY for t in ("releases", "recidivism", "programme_indicators")},
    **{
        t: _NO_PLACEMENTS
        for t in ("placements", "placement_retention", "dropout_rates", "placement_end_reasons")
    },
    # The descriptive rates, curves and the funnel count the programme period's releases
    # and intakes; the evaluation marts its evaluation population.
    **{
        t: f"({_NO_CUSTODY} or {_NO_PERIOD_RELEASES})"
        for t in (
            "recidivism_rates",
            "breakdown_levels",
            "survival",
            "employment_status",
            "placement_funnel",
            "recidivism_effects",
            "programme_effects",
            "covariate_balance",
            "propensity_overlap",
            "effect_survival",
        )
    },
    **{
        t: "(select count(*) from ingest.files) = 0"
        for t in (
            "data_quality_deliveries",
            "data_quality_link_rates",
            "data_quality_timeliness",
            "programmes",
        )
    },
}

# Numeric result fields that may be copied into the report (counts, never values).
_RESULT_COUNTS = ("element_count", "unexpected_count", "unexpected_percent", "missing_count")


# --------------------------------------------------------------------------------------------
# Report


@dataclass
class ExpectationOutcome:
    """The outcome of one expectation on one mart; carries no value of any row."""

    table: str
    expectation: str  # readable name, including the column(s)
    success: bool
    expectation_type: str = ""  # the GX expectation, e.g. expect_column_values_to_be_unique
    columns: list[str] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)  # element / unexpected counts
    error: str | None = None  # why the expectation could not be evaluated


@dataclass
class ValidationReport:
    success: bool
    outcomes: list[ExpectationOutcome]
    started_at: datetime
    finished_at: datetime
    database: str | None = None
    previous: str | None = None
    previous_used: bool = False  # a previous publish was found and row counts compared
    tables: list[str] = field(default_factory=list)  # the tables validated, in order

    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def by_table(self) -> dict[str, bool]:
        result = {t: True for t in self.tables}
        for o in self.outcomes:
            result[o.table] = result.get(o.table, True) and o.success
        return result

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict:
        """A JSON-serialisable summary: names, pass/fail and counts, no row values."""
        by_table = self.by_table()
        per_table = {
            t: {
                "success": ok,
                "expectations": sum(o.table == t for o in self.outcomes),
                "failed": sum(o.table == t and not o.success for o in self.outcomes),
            }
            for t, ok in by_table.items()
        }
        return {
            "success": self.success,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_seconds": round(self.duration_seconds, 3),
            "database": self.database,
            "previous": self.previous,
            "previous_used": self.previous_used,
            "totals": {
                "tables": len(by_table),
                "tables_failed": sum(not ok for ok in by_table.values()),
                "expectations": len(self.outcomes),
                "passed": sum(o.success for o in self.outcomes),
                "failed": sum(not o.success for o in self.outcomes),
            },
            "tables": per_table,
            "outcomes": [asdict(o) for o in self.outcomes],
        }


# --------------------------------------------------------------------------------------------
# Suites: each mart is one or more frames (a DuckDB query) with expectations on them.


@dataclass
class Check:
    name: str
    expectation: gxe.Expectation
    columns: list[str]


@dataclass
class Frame:
    sql: str
    checks: list[Check]


def _fmt(values: Sequence[Any]) -> str:
    return "{" + ", ".join(str(v) for v in values) + "}"


def not_null(*columns: str) -> list[Check]:
    return [
        Check(f"{c} is not null", gxe.ExpectColumnValuesToNotBeNull(column=c), [c]) for c in columns
    ]


def unique(column: str) -> Check:
    return Check(f"{column} is unique", gxe.ExpectColumnValuesToBeUnique(column=column), [column])


def compound_unique(columns: list[str], name: str | None = None) -> Check:
    return Check(
        name or f"({', '.join(columns)}) is unique",
        gxe.ExpectCompoundColumnsToBeUnique(column_list=columns),
        list(columns),
    )


def in_set(column: str, values: Sequence[Any], name: str | None = None) -> Check:
    return Check(
        name or f"{column} in {_fmt(values)}",
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values)),
        [column],
    )


def is_true(column: str, name: str) -> Check:
    """A boolean column prepared in DuckDB is true on every row (nulls ignored)."""
    return in_set(column, [True], name)


def matches(column: str, regex: str, name: str) -> Check:
    return Check(name, gxe.ExpectColumnValuesToMatchRegex(column=column, regex=regex), [column])


def between(
    column: str, low: float | None = None, high: float | None = None, name: str | None = None
) -> Check:
    if name is None:
        if low is not None and high is not None:
            name = f"{column} in [{low}, {high}]"
        elif low is not None:
            name = f"{column} >= {low}"
        else:
            name = f"{column} <= {high}"
    return Check(
        name,
        gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high),
        [column],
    )


def rates(*columns: str) -> list[Check]:
    return [between(c, 0, 1) for c in columns]


def not_greater(smaller: str, larger: str, name: str | None = None) -> Check:
    """smaller <= larger on every row where both are known."""
    return Check(
        name or f"{smaller} <= {larger}",
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=larger,
            column_B=smaller,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        [smaller, larger],
    )


def chain(*columns: str) -> list[Check]:
    """columns[0] <= columns[1] <= ... (nested counts)."""
    return [not_greater(a, b) for a, b in zip(columns, columns[1:], strict=False)]


def equal(a: str, b: str, name: str) -> Check:
    return Check(
        name,
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A=a, column_B=b, ignore_row_if="either_value_is_missing"
        ),
        [a, b],
    )


def row_count(low: int | None, high: int | None, name: str) -> Check:
    return Check(name, gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high), [])


def tolerant(*columns: str) -> str:
    """SQL for the tolerant copies of interval limits: <low>_tolerant, <high>_tolerant."""
    parts = []
    for c in columns:
        op = "-" if "low" in c else "+"
        parts.append(f"{c} {op} {TOLERANCE} as {c}_tolerant")
    return ", ".join(parts)


def inside(value: str, low: str, high: str) -> list[Check]:
    """low <= value <= high within TOLERANCE, rows with a missing value ignored (the frame
    must carry <low>_tolerant and <high>_tolerant, see tolerant())."""
    return [
        not_greater(f"{low}_tolerant", value, f"{low} <= {value} (tolerance {TOLERANCE:g})"),
        not_greater(value, f"{high}_tolerant", f"{value} <= {high} (tolerance {TOLERANCE:g})"),
    ]


def _q(column: str) -> str:
    return f'"{column}"'


def sum_of_parts(
    table: str,
    over: str,
    keys: list[str],
    measures: list[str],
    fixed_all: Sequence[str] = (),
    where: str = "true",
    over_label: str | None = None,
) -> Frame:
    """A frame of (total, sum of parts) pairs: the rows with `over` = 'all' against the sum
    of the rows with any other value of `over`, matched on `keys`, with `fixed_all` = 'all' on
    both sides. A total without parts or parts without a total fail (the missing side is 0)."""
    label = over_label or f"{over}s"
    match = " and ".join(f"t.{_q(k)} is not distinct from p.{_q(k)}" for k in keys) or "true"
    fixed = "".join(f" and {_q(c)} = '{ALL}'" for c in fixed_all)
    key_list = ", ".join(_q(k) for k in keys)
    sql = f"""
        with base as (select * from {SCHEMA}.{table} where {where}{fixed}),
        totals as (
            select {key_list}, {", ".join(f"{_q(m)} as {m}" for m in measures)}
            from base where {_q(over)} = '{ALL}'
        ),
        parts as (
            select {key_list}, {", ".join(f"sum({_q(m)}) as {m}" for m in measures)}
            from base where {_q(over)} is distinct from '{ALL}'
            group by {key_list}
        )
        select
            {
        ", ".join(
            f"coalesce(cast(t.{m} as double), 0) as {m}_total, "
            f"coalesce(cast(p.{m} as double), 0) as {m}_sum_of_parts"
            for m in measures
        )
    }
        from totals t full join parts p on {match}
    """
    checks = [
        equal(f"{m}_total", f"{m}_sum_of_parts", f"{m} of {over} 'all' = sum over {label}")
        for m in measures
    ]
    return Frame(sql, checks)


def curve_frames(table: str, curve: list[str]) -> list[Frame]:
    """Kaplan-Meier step functions: bounds, interval, non-increasing, day 0 present."""
    keys = ", ".join(_q(c) for c in curve)
    main = Frame(
        f"""
        select *, {tolerant("ci_low", "ci_high")},
            lag(survival) over curve + {TOLERANCE} as previous_survival_tolerant,
            lag(n_at_risk) over curve as previous_n_at_risk
        from {SCHEMA}.{table}
        window curve as (partition by {keys} order by day)
        """,
        [
            compound_unique([*curve, "day"]),
            *not_null(*curve, "day", "survival"),
            *rates("survival", "ci_low", "ci_high"),
            *inside("survival", "ci_low", "ci_high"),
            not_greater(
                "survival",
                "previous_survival_tolerant",
                f"survival non-increasing within each curve ({', '.join(curve)}; "
                f"tolerance {TOLERANCE:g})",
            ),
            not_greater(
                "n_at_risk",
                "previous_n_at_risk",
                f"n_at_risk non-increasing within each curve ({', '.join(curve)})",
            ),
            between("day", 0),
            between("n_at_risk", 1),
            between("n_events", 0),
            between("n_censored", 0),
        ],
    )
    starts = Frame(
        f"select {keys}, min(day) as first_day from {SCHEMA}.{table} group by {keys}",
        [between("first_day", 0, 0, name="every curve has a row at day 0 (first_day = 0)")],
    )
    return [main, starts]


COHORT_RE = r"^(?:\d{4}|all)$"


def _releases() -> list[Frame]:
    t = f"{SCHEMA}.releases"
    return [
        Frame(
            f"select * from {t}",
            [
                unique("release_id"),
                *not_null(
                    "release_id",
                    "person_key",
                    "programme",
                    "prison_id",
                    "release_date",
                    "cohort_year",
                    "cohort_quarter",
                    "is_participant",
                    "is_index_year",
                    "is_programme_period",
                ),
                in_set("programme", PROGRAMMES),
                in_set("release_type", RELEASE_TYPES),
                in_set("sex", SEXES),
                in_set("age_band", AGE_BANDS),
                in_set("prior_spells_band", ["0", "1", "2+"]),
                in_set("offence_group", OFFENCE_GROUPS),
                matches("cohort_quarter", r"^\d{4}Q[1-4]$", "cohort_quarter like 2004Q2"),
                between("prior_spells", 0),
                between("n_episodes", 1),
                between("n_partners", 0),
                between("sentence_days", 0),
                between("age_at_release", 10, 110),
                not_greater("spell_start_date", "release_date"),
            ],
        ),
        Frame(
            f"""
            select
                cohort_year = year(release_date) as cohort_year_ok,
                cohort_quarter = year(release_date) || 'Q' || quarter(release_date)
                    as cohort_quarter_ok,
                is_participant = (partner_id is not null) as partner_ok
            from {t}
            """,
            [
                is_true("cohort_year_ok", "cohort_year = year of release_date"),
                is_true("cohort_quarter_ok", "cohort_quarter = quarter of release_date"),
                is_true("partner_ok", "partner_id set exactly when is_participant"),
            ],
        ),
        Frame(
            f"select person_key, programme, cohort_year from {t} "
            "where is_index_year and is_programme_period",
            [
                compound_unique(
                    ["person_key", "programme", "cohort_year"],
                    "(person_key, programme, cohort_year) is unique among index releases of the "
                    "programme period",
                )
            ],
        ),
    ]


def _placements() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.placements",
            [
                unique("placement_id"),
                *not_null(
                    "placement_id",
                    "person_key",
                    "partner_id",
                    "programme",
                    "placement_type",
                    "has_started",
                    "is_dropout",
                ),
                in_set("programme", PROGRAMMES),
                in_set("placement_type", PLACEMENT_TYPES),
                in_set("end_reason", END_REASONS),
                in_set("sector", NACE_SECTIONS, "sector in NACE sections A-U"),
                between("hours_per_week", 0, 80),
                not_greater("start_date", "end_date"),
            ],
        ),
        Frame(
            f"""
            select r.release_id is not null as release_found
            from {SCHEMA}.placements p
            left join (select distinct release_id from {SCHEMA}.releases) r using (release_id)
            where p.release_id is not null
            """,
            [is_true("release_found", "release_id found in releases")],
        ),
    ]


def _recidivism() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.recidivism",
            [
                compound_unique(["release_id", "window_months", "measure"]),
                *not_null(
                    "release_id",
                    "window_months",
                    "measure",
                    "has_full_follow_up",
                    "has_event",
                    "window_end_date",
                ),
                in_set("window_months", WINDOWS),
                in_set("measure", MEASURES),
                between("days_to_event", 0, 1096),
                between("n_events", 0),
                between("days_at_liberty", 0, 1096),
            ],
        ),
        Frame(
            f"""
            select
                x.has_event = (x.days_to_event is not null) as event_day_ok,
                r.release_id is not null as release_found
            from {SCHEMA}.recidivism x
            left join (select distinct release_id from {SCHEMA}.releases) r using (release_id)
            """,
            [
                is_true("event_day_ok", "days_to_event set exactly when has_event"),
                is_true("release_found", "release_id found in releases"),
            ],
        ),
    ]


def _recidivism_rates() -> list[Frame]:
    table = "recidivism_rates"
    grain = [
        "programme",
        "cohort",
        "prison_id",
        "sex",
        "age_band",
        "group",
        "window_months",
        "measure",
    ]
    counts = ["n_releases", "n_full_follow_up", "n_events"]
    cell = ["programme", "group", "window_months", "measure"]
    return [
        Frame(
            f"select *, {tolerant('ci_low', 'ci_high')} from {SCHEMA}.{table}",
            [
                compound_unique(grain),
                *not_null(*grain, *counts),
                in_set("programme", PROGRAMMES),
                in_set("group", GROUPS),
                in_set("window_months", WINDOWS),
                in_set("measure", MEASURES),
                in_set("sex", [*SEXES, ALL]),
                in_set("age_band", [*AGE_BANDS, ALL]),
                matches("cohort", COHORT_RE, "cohort is a year or 'all'"),
                *rates("rate", "ci_low", "ci_high"),
                *inside("rate", "ci_low", "ci_high"),
                *chain("n_events", "n_full_follow_up", "n_releases"),
                between("n_events", 0),
                between("events_per_person_year", 0),
            ],
        ),
        sum_of_parts(table, "cohort", [*cell, "prison_id", "sex", "age_band"], counts),
        sum_of_parts(
            table, "prison_id", [*cell, "cohort"], counts, ["sex", "age_band"], over_label="prisons"
        ),
        sum_of_parts(
            table, "sex", [*cell, "cohort"], counts, ["prison_id", "age_band"], over_label="sexes"
        ),
        sum_of_parts(table, "age_band", [*cell, "cohort"], counts, ["prison_id", "sex"]),
    ]


def _recidivism_effects() -> list[Frame]:
    grain = ["programme", "cohort", "window_months", "measure"]
    limits = [
        "ci_low_participants",
        "ci_high_participants",
        "ci_low_comparison",
        "ci_high_comparison",
        "difference_ci_low",
        "difference_ci_high",
        "standardised_ci_low_comparison",
        "standardised_ci_high_comparison",
        "standardised_difference_ci_low",
        "standardised_difference_ci_high",
    ]
    return [
        Frame(
            f"select *, {tolerant(*limits)} from {SCHEMA}.recidivism_effects",
            [
                compound_unique(grain),
                *not_null(*grain),
                in_set("programme", PROGRAMMES),
                in_set("window_months", WINDOWS),
                in_set("measure", MEASURES),
                matches("cohort", COHORT_RE, "cohort is a year or 'all'"),
                *rates(
                    "rate_participants",
                    "ci_low_participants",
                    "ci_high_participants",
                    "rate_comparison",
                    "ci_low_comparison",
                    "ci_high_comparison",
                    "standardised_rate_comparison",
                    "standardisation_coverage",
                ),
                between("difference", -1, 1),
                between("standardised_difference", -1, 1),
                *inside("rate_participants", "ci_low_participants", "ci_high_participants"),
                *inside("rate_comparison", "ci_low_comparison", "ci_high_comparison"),
                *inside("difference", "difference_ci_low", "difference_ci_high"),
                *inside(
                    "standardised_rate_comparison",
                    "standardised_ci_low_comparison",
                    "standardised_ci_high_comparison",
                ),
                *inside(
                    "standardised_difference",
                    "standardised_difference_ci_low",
                    "standardised_difference_ci_high",
                ),
                not_greater("n_events_participants", "n_participants"),
                not_greater("n_events_comparison", "n_comparison"),
                between("n_events_participants", 0),
                between("n_events_comparison", 0),
            ],
        )
    ]


def _survival() -> list[Frame]:
    frames = curve_frames("survival", ["programme", "cohort", "group", "measure"])
    frames[0].checks[1:1] = [
        in_set("programme", PROGRAMMES),
        in_set("group", GROUPS),
        in_set("measure", MEASURES),
        matches("cohort", COHORT_RE, "cohort is a year or 'all'"),
    ]
    return frames


def _placement_retention() -> list[Frame]:
    frames = curve_frames("placement_retention", ["programme", "partner_id", "placement_type"])
    frames[0].checks[1:1] = [
        in_set("programme", PROGRAMMES),
        in_set("placement_type", [*PLACEMENT_TYPES, ALL]),
    ]
    return frames


def _employment_status() -> list[Frame]:
    table = "employment_status"
    grain = ["programme", "cohort", "day"]
    return [
        Frame(
            f"select *, {tolerant('ci_low', 'ci_high')} from {SCHEMA}.{table}",
            [
                compound_unique(grain),
                *not_null(*grain, "n_observed", "n_in_work"),
                in_set("programme", PROGRAMMES),
                in_set("day", EMPLOYMENT_DAYS),
                matches("cohort", COHORT_RE, "cohort is a year or 'all'"),
                *rates("share", "ci_low", "ci_high"),
                *inside("share", "ci_low", "ci_high"),
                not_greater("n_in_work", "n_observed"),
                between("n_in_work", 0),
            ],
        ),
        sum_of_parts(table, "cohort", ["programme", "day"], ["n_observed", "n_in_work"]),
    ]


def _programme_indicators() -> list[Frame]:
    table = "programme_indicators"
    grain = [
        "programme",
        "period_type",
        "period",
        "prison_id",
        "partner_id",
        "sex",
        "age_band",
        "indicator",
    ]
    pairs = [f"{i}:{k}" for i, k in INDICATOR_KIND.items()]
    cell = ["programme", "period_type", "period", "indicator"]
    additive = "kind <> 'km'"  # numerators add up for every kind but Kaplan-Meier
    return [
        Frame(
            f"""
            select *, {tolerant("ci_low", "ci_high")},
                indicator || ':' || kind as indicator_kind,
                case when kind in ('share', 'km') then value end as share_value,
                case when kind <> 'median' then value end as nonnegative_value,
                case when kind = 'share' then numerator end as share_numerator,
                case when kind = 'share' then denominator end as share_denominator,
                case when period_type = 'all' then period = 'all'
                     when period_type = 'year' then regexp_full_match(period, '\\d{{4}}')
                     when period_type = 'quarter'
                         then regexp_full_match(period, '\\d{{4}}Q[1-4]')
                end as period_ok
            from {SCHEMA}.{table}
            """,
            [
                compound_unique(grain),
                *not_null(*grain, "kind", "value"),
                in_set("programme", PROGRAMMES),
                in_set("period_type", PERIOD_TYPES),
                in_set("kind", INDICATOR_KINDS),
                in_set(
                    "indicator_kind",
                    pairs,
                    f"(indicator, kind) in the indicator list ({len(pairs)} indicators)",
                ),
                is_true("period_ok", "period matches period_type ('all', 2004, 2004Q2)"),
                in_set("sex", [*SEXES, ALL]),
                in_set("age_band", [*AGE_BANDS, ALL]),
                *rates("ci_low", "ci_high"),
                between("share_value", 0, 1, "value in [0, 1] for kind share and km"),
                between("nonnegative_value", 0, name="value >= 0 for every kind but median"),
                *inside("value", "ci_low", "ci_high"),
                not_greater(
                    "share_numerator",
                    "share_denominator",
                    "numerator <= denominator for kind share",
                ),
                between("numerator", 0),
                between("denominator", 0),
            ],
        ),
        sum_of_parts(
            table,
            "prison_id",
            cell,
            ["numerator"],
            ["partner_id", "sex", "age_band"],
            where=additive,
            over_label="prisons",
        ),
        sum_of_parts(
            table,
            "prison_id",
            cell,
            ["value"],
            ["partner_id", "sex", "age_band"],
            where="kind = 'count'",
            over_label="prisons (count indicators)",
        ),
        sum_of_parts(
            table,
            "sex",
            cell,
            ["numerator"],
            ["prison_id", "partner_id", "age_band"],
            where=additive,
            over_label="sexes",
        ),
        sum_of_parts(
            table,
            "age_band",
            cell,
            ["numerator"],
            ["prison_id", "partner_id", "sex"],
            where=additive,
        ),
    ]


def _dropout_rates() -> list[Frame]:
    table = "dropout_rates"
    grain = ["programme", "breakdown", "breakdown_value"]
    return [
        Frame(
            f"select *, {tolerant('ci_low', 'ci_high')} from {SCHEMA}.{table}",
            [
                compound_unique(grain),
                *not_null(*grain, "n_started", "n_dropouts"),
                in_set("programme", PROGRAMMES),
                in_set("breakdown", DROPOUT_BREAKDOWNS),
                *rates("dropout_share", "ci_low", "ci_high"),
                *inside("dropout_share", "ci_low", "ci_high"),
                not_greater("n_dropouts", "n_started"),
                between("n_dropouts", 0),
            ],
        ),
        Frame(
            f"""
            with t as (select * from {SCHEMA}.{table}),
            totals as (select programme, n_started, n_dropouts from t where breakdown = 'all'),
            parts as (
                select programme, breakdown, sum(n_started) as n_started,
                       sum(n_dropouts) as n_dropouts
                from t where breakdown <> 'all' group by all
            )
            select p.programme, p.breakdown,
                   coalesce(t.n_started, 0) as n_started_total,
                   p.n_started as n_started_sum_of_parts,
                   coalesce(t.n_dropouts, 0) as n_dropouts_total,
                   p.n_dropouts as n_dropouts_sum_of_parts
            from parts p left join totals t using (programme)
            """,
            [
                equal(
                    "n_started_total",
                    "n_started_sum_of_parts",
                    "n_started of breakdown 'all' = sum over each break-down",
                ),
                equal(
                    "n_dropouts_total",
                    "n_dropouts_sum_of_parts",
                    "n_dropouts of breakdown 'all' = sum over each break-down",
                ),
            ],
        ),
    ]


def _placement_funnel() -> list[Frame]:
    grain = ["programme", "cohort", "partner_id"]
    return [
        Frame(
            f"select * from {SCHEMA}.placement_funnel",
            [
                compound_unique(grain),
                *not_null(*grain),
                in_set("programme", PROGRAMMES),
                matches("cohort", COHORT_RE, "cohort is a year or 'all'"),
                *chain("n_retained_180", "n_started", "n_placed", "n_accepted", "n_referred"),
                between("n_retained_180", 0),
            ],
        )
    ]


def _placement_end_reasons() -> list[Frame]:
    grain = ["programme", "partner_id", "end_reason"]
    return [
        Frame(
            f"select * from {SCHEMA}.placement_end_reasons",
            [
                compound_unique(grain),
                *not_null(*grain),
                in_set("programme", PROGRAMMES),
                in_set("end_reason", END_REASONS),
                between("share_of_ended", 0, 1),
                between("n_ended", 0),
            ],
        )
    ]


def _data_quality_deliveries() -> list[Frame]:
    counts = ["n_received", "n_loaded", "n_quarantined", "n_current", "n_superseded", "n_removed"]
    return [
        Frame(
            f"select * from {SCHEMA}.data_quality_deliveries",
            [
                unique("load_id"),
                *not_null("load_id", "source_id", "entity", "status"),
                in_set("source_kind", SOURCE_KINDS),
                in_set("programme", PROGRAMMES),
                in_set("status", DELIVERY_STATUSES),
                in_set("delivery", DELIVERY_MODES),
                *[between(c, 0) for c in counts],
            ],
        )
    ]


def _data_quality_link_rates() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.data_quality_link_rates",
            [
                compound_unique(["source_id", "entity"]),
                between("link_rate", 0, 1),
                not_greater("n_linked", "n_records"),
                between("n_linked", 0),
            ],
        )
    ]


def _data_quality_quarantine() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.data_quality_quarantine",
            [
                compound_unique(["source_id", "entity", "reason", "column_name"]),
                *not_null("source_id", "entity", "reason"),
                between("n_files", 1),
                not_greater("n_files", "n_rows"),
            ],
        )
    ]


def _data_quality_timeliness() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.data_quality_timeliness",
            [
                compound_unique(["source_id", "entity"]),
                in_set("source_kind", SOURCE_KINDS),
                between("cadence_days", 1),
                *not_null("last_export_date", "is_stale"),
            ],
        )
    ]


def _data_quality_consent_exclusions() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.data_quality_consent_exclusions",
            [
                compound_unique(["partner_id", "entity"]),
                between("n_rows_excluded", 0),
            ],
        )
    ]


def _run_metadata() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.run_metadata",
            [
                row_count(1, 1, "exactly one row"),
                *not_null("as_of_date", "n_programmes"),
                between("n_programmes", 1),
                between("register_lag_months", 0),
                between("reincarceration_lag_months", 0),
            ],
        )
    ]


ESTIMATORS = ["matched", "weighted", "raw"]
OUTCOMES = ["rate", "frequency"]
VERDICTS = [
    "fewer",
    "more",
    "no_clear_difference",
    "descriptive",
    "not_estimated_few_participants",
    "not_estimated_no_comparison",
]
STAGES = ["before", "matched", "weighted"]


def _programmes() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.programmes",
            [
                unique("programme"),
                *not_null(
                    "programme",
                    "programme_name",
                    "country",
                    "period_start_date",
                    "period_end_date",
                    "languages",
                ),
                matches("country", r"^[A-Z]{2}$", "country is an ISO 3166-1 alpha-2 code"),
                not_greater("period_start_date", "period_end_date"),
                *chain("n_participants", "n_evaluated", "n_period_releases"),
                between("n_participants", 0),
            ],
        )
    ]


def _breakdown_levels() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.breakdown_levels",
            [
                compound_unique(["programme", "dimension", "level"]),
                *not_null("programme", "dimension", "level", "published_level", "is_folded"),
                in_set("programme", PROGRAMMES),
                in_set("dimension", ["sex", "age_band"]),
            ],
        )
    ]


def _programme_effects() -> list[Frame]:
    grain = ["programme", "cohort", "estimator", "measure", "outcome", "window_months"]
    limits = ["difference_ci_low", "difference_ci_high", "risk_ratio_ci_low", "risk_ratio_ci_high"]
    return [
        Frame(
            f"""
            select *, {tolerant(*limits)},
                e_value + {TOLERANCE} as e_value_tolerant,
                not is_estimated or difference is not null as estimated_has_estimate,
                is_estimated or verdict in ('descriptive', 'not_estimated_few_participants',
                                            'not_estimated_no_comparison')
                    as unestimated_says_why
            from {SCHEMA}.programme_effects""",
            [
                compound_unique(grain),
                *not_null(*grain, "verdict", "verdict_text", "is_estimated"),
                in_set("programme", PROGRAMMES),
                in_set("estimator", ESTIMATORS),
                in_set("measure", MEASURES),
                in_set("outcome", OUTCOMES),
                in_set("window_months", WINDOWS),
                in_set("verdict", VERDICTS),
                matches("cohort", COHORT_RE, "cohort is a year or 'all'"),
                between("difference", -1, 1),
                *inside("difference", "difference_ci_low", "difference_ci_high"),
                *inside("risk_ratio", "risk_ratio_ci_low", "risk_ratio_ci_high"),
                between("risk_ratio", 0),
                between("e_value", 1),
                between("e_value_ci", 1),
                not_greater(
                    "e_value_ci",
                    "e_value_tolerant",
                    "e_value_ci <= e_value (the interval limit is nearer to no effect)",
                ),
                between("n_participants", 0),
                between("n_comparison", 0),
                is_true("estimated_has_estimate", "an estimated row has a difference"),
                is_true(
                    "unestimated_says_why", "a row without an estimate has a verdict saying why"
                ),
            ],
        ),
        Frame(
            f"""select * from {SCHEMA}.programme_effects where outcome = 'rate'""",
            rates("rate_participants", "rate_comparison"),
        ),
    ]


def _covariate_balance() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.covariate_balance",
            [
                compound_unique(["programme", "covariate", "level", "stage"]),
                *not_null("programme", "covariate", "level", "stage", "is_imbalanced"),
                in_set("programme", PROGRAMMES),
                in_set("stage", STAGES),
            ],
        ),
        Frame(
            f"select * from {SCHEMA}.covariate_balance where level <> ''",
            rates("mean_participants", "mean_comparison"),
        ),
    ]


def _propensity_overlap() -> list[Frame]:
    return [
        Frame(
            f"select * from {SCHEMA}.propensity_overlap",
            [
                compound_unique(["programme", "group", "score_bin"]),
                *not_null("programme", "group", "score_bin", "n_releases"),
                in_set("programme", PROGRAMMES),
                in_set("group", GROUPS),
                between("score_bin", 0, 19),
                *rates("score_low", "score_high"),
                between("n_releases", 0),
                not_greater("n_matched", "n_releases"),
            ],
        )
    ]


def _effect_survival() -> list[Frame]:
    curve = ["programme", "estimator", "measure", "group"]
    keys = ", ".join(_q(c) for c in curve)
    return [
        Frame(
            f"""
            select *, {tolerant("hazard_ratio_ci_low", "hazard_ratio_ci_high")},
                lag(survival) over curve + {TOLERANCE} as previous_survival_tolerant
            from {SCHEMA}.effect_survival
            window curve as (partition by {keys} order by day)""",
            [
                compound_unique([*curve, "day"]),
                *not_null(*curve, "day", "survival", "n_at_risk"),
                in_set("programme", PROGRAMMES),
                in_set("estimator", ESTIMATORS),
                in_set("measure", MEASURES),
                in_set("group", GROUPS),
                *rates("survival"),
                not_greater(
                    "survival",
                    "previous_survival_tolerant",
                    f"survival non-increasing within each curve (tolerance {TOLERANCE:g})",
                ),
                between("day", 0),
                between("n_at_risk", 1),
                between("hazard_ratio", 0),
                *inside("hazard_ratio", "hazard_ratio_ci_low", "hazard_ratio_ci_high"),
            ],
        ),
        Frame(
            f"select {keys}, min(day) as first_day from {SCHEMA}.effect_survival group by {keys}",
            [between("first_day", 0, 0, name="every curve has a row at day 0 (first_day = 0)")],
        ),
    ]


# Every validated mart, in report order: the public marts first.
TABLES: dict[str, Callable[[], list[Frame]]] = {
    "programmes": _programmes,
    "breakdown_levels": _breakdown_levels,
    "programme_effects": _programme_effects,
    "covariate_balance": _covariate_balance,
    "propensity_overlap": _propensity_overlap,
    "effect_survival": _effect_survival,
    "releases": _releases,
    "placements": _placements,
    "recidivism": _recidivism,
    "recidivism_rates": _recidivism_rates,
    "recidivism_effects": _recidivism_effects,
    "survival": _survival,
    "employment_status": _employment_status,
    "programme_indicators": _programme_indicators,
    "placement_retention": _placement_retention,
    "dropout_rates": _dropout_rates,
    "placement_funnel": _placement_funnel,
    "placement_end_reasons": _placement_end_reasons,
    "data_quality_deliveries": _data_quality_deliveries,
    "data_quality_link_rates": _data_quality_link_rates,
    "data_quality_quarantine": _data_quality_quarantine,
    "data_quality_timeliness": _data_quality_timeliness,
    "data_quality_consent_exclusions": _data_quality_consent_exclusions,
    "run_metadata": _run_metadata,
}


# --------------------------------------------------------------------------------------------
# Running


def _existing_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = ? "
            "union select view_name from duckdb_views() where schema_name = ?",
            [SCHEMA, SCHEMA],
        ).fetchall()
    ]
    return {n: con.execute(f'select count(*) from {SCHEMA}."{n}"').fetchone()[0] for n in names}


def _previous_counts(previous: Path | None) -> dict[str, int] | None:
    if previous is None or not Path(previous).is_file():
        return None
    try:
        con = duckdb.connect(str(previous), read_only=True)
    except duckdb.Error:
        return None
    try:
        return _existing_tables(con)
    finally:
        con.close()


def may_be_empty(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """The mart may be empty: by nature, or because nothing it rests on was delivered."""
    if table in MAY_BE_EMPTY or table == "run_metadata":
        return True
    condition = EMPTY_WHEN.get(table)
    if condition is None:
        return False
    try:
        return bool(con.execute(f"select {condition}").fetchone()[0])
    except duckdb.Error:
        return False


def _table_checks(table: str, previous: dict[str, int] | None, empty_allowed: bool) -> list[Check]:
    checks = []
    if not empty_allowed:
        checks.append(row_count(1, None, "row count >= 1 (table not empty)"))
    if previous and previous.get(table):
        n = previous[table]
        low, high = math.ceil(ROW_COUNT_BOUNDS[0] * n), math.floor(ROW_COUNT_BOUNDS[1] * n)
        checks.append(
            row_count(
                low,
                high,
                f"row count within {ROW_COUNT_BOUNDS[0]:g}x-{ROW_COUNT_BOUNDS[1]:g}x of the "
                f"previous publish ({n} rows: {low}-{high})",
            )
        )
    return checks


class _Runner:
    """One ephemeral GX context with a pandas data source; frames are passed at run time."""

    def __init__(self) -> None:
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = self.context.data_sources.add_pandas("marts").add_dataframe_asset("frame")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
        self.n = 0

    def run(
        self, table: str, df, checks: list[Check], person_level: bool
    ) -> list[ExpectationOutcome]:
        outcomes: dict[int, ExpectationOutcome] = {}
        runnable: list[tuple[int, Check]] = []
        for i, check in enumerate(checks):
            missing = [c for c in check.columns if c not in df.columns]
            if missing:
                outcomes[i] = _outcome(
                    table, check, False, error=f"missing column(s): {', '.join(missing)}"
                )
            else:
                runnable.append((i, check))
        if runnable:
            self.n += 1
            suite = gx.ExpectationSuite(name=f"{table}-{self.n}")
            for i, check in runnable:
                expectation = check.expectation.copy(deep=True)
                expectation.meta = {"check": i}
                suite.add_expectation(expectation)
            suite = self.context.suites.add(suite)
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=f"{table}-{self.n}",
                    data=self.batch_definition,
                    suite=suite,
                )
            )
            result = definition.run(
                batch_parameters={"dataframe": df},
                result_format="BOOLEAN_ONLY" if person_level else "SUMMARY",
            )
            for r in result.results:
                i = int(r.expectation_config.meta["check"])
                exc = r.exception_info or {}
                error = None
                if exc.get("raised_exception"):
                    # A message may quote a value: withheld for person-level tables.
                    error = (
                        "the expectation raised an exception"
                        if person_level
                        else str(exc.get("exception_message") or "exception")[:300]
                    )
                outcomes[i] = _outcome(
                    table,
                    checks[i],
                    bool(r.success) and error is None,
                    counts=_counts(r.result, person_level),
                    error=error,
                )
        return [outcomes[i] for i in sorted(outcomes)]


def _counts(result: dict | None, person_level: bool) -> dict[str, float]:
    counts = {}
    for key in _RESULT_COUNTS:
        value = (result or {}).get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            counts[key] = value
    observed = (result or {}).get("observed_value")
    if not person_level and isinstance(observed, int) and not isinstance(observed, bool):
        counts["observed_value"] = observed
    return counts


def _outcome(
    table: str, check: Check, success: bool, counts: dict | None = None, error: str | None = None
) -> ExpectationOutcome:
    return ExpectationOutcome(
        table=table,
        expectation=check.name,
        success=success,
        expectation_type=check.expectation.expectation_type,
        columns=list(check.columns),
        counts=counts or {},
        error=error,
    )


# Expectations over the whole frame; every other expectation judges each row on its own.
_WHOLE_FRAME = (
    gxe.ExpectColumnValuesToBeUnique,
    gxe.ExpectCompoundColumnsToBeUnique,
    gxe.ExpectTableRowCountToBeBetween,
)
CHUNK_ROWS = 1_000_000


def _run_frame(
    con: duckdb.DuckDBPyConnection,
    runner: _Runner,
    table: str,
    frame: Frame,
    person_level: bool,
    chunk_rows: int,
) -> list[ExpectationOutcome]:
    """Run a frame's checks. A frame of at most chunk_rows rows is one dataframe. A larger
    one (the person-level marts at national scale: 25 million recidivism rows) is streamed:
    row-wise checks run on chunks of chunk_rows rows and pass when every chunk passes; the
    whole-frame checks (uniqueness, row count) read only what they need, so memory stays
    bounded by the chunk and one key column (see _whole_frame)."""
    n_rows = con.execute(f"select count(*) from ({frame.sql})").fetchone()[0]
    if n_rows <= chunk_rows:
        return runner.run(table, con.execute(frame.sql).df(), frame.checks, person_level)
    columns = [d[0] for d in con.execute(f"select * from ({frame.sql}) limit 0").description]
    whole = [i for i, c in enumerate(frame.checks) if isinstance(c.expectation, _WHOLE_FRAME)]
    rowwise = [i for i in range(len(frame.checks)) if i not in whole]
    outcomes: dict[int, ExpectationOutcome] = {}
    for i in whole:
        outcomes[i] = _whole_frame(
            con, runner, table, frame, frame.checks[i], columns, person_level
        )
    if rowwise:
        checks = [frame.checks[i] for i in rowwise]
        merged: list[list[ExpectationOutcome]] = [[] for _ in checks]
        for df in _chunks(con, frame.sql, chunk_rows):
            for k, outcome in enumerate(runner.run(table, df, checks, person_level)):
                merged[k].append(outcome)
        for k, i in enumerate(rowwise):
            outcomes[i] = _merge(merged[k])
    return [outcomes[i] for i in sorted(outcomes)]


def _chunks(con: duckdb.DuckDBPyConnection, sql: str, chunk_rows: int):
    """The query's rows as dataframes of chunk_rows rows (the last one shorter). DuckDB hands
    out record batches of at most one row group, so batches are gathered up to a chunk."""
    import pyarrow as pa

    pending: list = []
    size = 0
    for batch in con.sql(sql).to_arrow_reader(min(chunk_rows, 1 << 20)):
        pending.append(batch)
        size += batch.num_rows
        if size >= chunk_rows:
            yield pa.Table.from_batches(pending).to_pandas()
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending).to_pandas()


def _whole_frame(
    con: duckdb.DuckDBPyConnection,
    runner: _Runner,
    table: str,
    frame: Frame,
    check: Check,
    columns: list[str],
    person_level: bool,
) -> ExpectationOutcome:
    """A whole-frame check of a large frame.

    Row count: a frame of one boolean column. Uniqueness: first GX checks one 64-bit hash of
    the key columns, which is exact when it passes (equal keys have equal hashes); only when
    it fails (a duplicate, or a hash collision) does the check run on the key columns
    themselves, strings as categoricals, so the verdict is always the exact one."""
    if any(c not in columns for c in check.columns):  # runner.run reports the missing column
        return runner.run(table, _empty(columns), [check], person_level)[0]
    if not check.columns:
        df = con.execute(f"select true as one_row from ({frame.sql})").df()
        return runner.run(table, df, [check], person_level)[0]
    keys = ", ".join(_q(c) for c in check.columns)
    if isinstance(check.expectation, gxe.ExpectCompoundColumnsToBeUnique):
        # GX skips a row whose key columns are all missing
        where = " or ".join(f"{_q(c)} is not null" for c in check.columns)
    else:
        where = f"{keys} is not null"
    hashed = con.execute(f"select hash({keys}) as key_hash from ({frame.sql}) where {where}").df()
    screen = runner.run(table, hashed, [unique("key_hash")], person_level)[0]
    del hashed
    if screen.success:
        return _outcome(table, check, True)
    arrow = con.sql(f"select {keys} from ({frame.sql})").to_arrow_table()
    df = arrow.to_pandas(strings_to_categorical=True)
    del arrow
    return runner.run(table, df, [check], person_level)[0]


def _empty(columns: list[str]):
    import pandas as pd

    return pd.DataFrame({c: [] for c in columns})


def _merge(parts: list[ExpectationOutcome]) -> ExpectationOutcome:
    """One outcome from the outcomes of the same check on consecutive chunks."""
    first = parts[0]
    counts: dict[str, float] = {}
    for key in ("element_count", "unexpected_count", "missing_count"):
        if all(key in p.counts for p in parts):
            counts[key] = sum(p.counts[key] for p in parts)
    if counts.get("element_count") and "unexpected_count" in counts:
        non_missing = counts["element_count"] - counts.get("missing_count", 0)
        counts["unexpected_percent"] = (
            100.0 * counts["unexpected_count"] / non_missing if non_missing else 0.0
        )
    errors = [p.error for p in parts if p.error]
    return ExpectationOutcome(
        table=first.table,
        expectation=first.expectation,
        success=all(p.success for p in parts),
        expectation_type=first.expectation_type,
        columns=first.columns,
        counts=counts,
        error=errors[0] if errors else None,
    )


def validate_marts(
    database: Path,
    previous: Path | None = None,
    tables: list[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ValidationReport:
    """Validate the marts of a DuckDB file (work or published database, schema marts).

    previous: the previously published database; each table's row count must lie within
    0.5x-2x of its count there (tables absent there, or a missing file, are skipped).
    tables: the marts to validate (default: all of TABLES).
    chunk_rows: frames larger than this are validated in chunks (see _run_frame)."""
    started_at = datetime.now(UTC)
    selected = list(TABLES) if tables is None else list(tables)
    unknown = [t for t in selected if t not in TABLES]
    if unknown:
        raise ValueError(f"no suite for table(s) {unknown}; known: {sorted(TABLES)}")
    previous_counts = _previous_counts(previous)
    runner = _Runner()
    outcomes: list[ExpectationOutcome] = []
    con = duckdb.connect(str(database), read_only=True)
    try:
        present = _existing_tables(con)
        PROGRAMMES[:] = (
            [
                r[0]
                for r in con.execute(
                    f"select programme from {SCHEMA}.programmes order by 1"
                ).fetchall()
            ]
            if "programmes" in present
            else []
        )
        for table in selected:
            person_level = table in PERSON_LEVEL_TABLES
            if table not in present:
                outcomes.append(
                    ExpectationOutcome(
                        table=table,
                        expectation=f"table {SCHEMA}.{table} exists",
                        success=False,
                        error="table missing",
                    )
                )
                continue
            frames = TABLES[table]()
            frames[0].checks[0:0] = _table_checks(table, previous_counts, may_be_empty(con, table))
            for frame in frames:
                try:
                    outcomes.extend(_run_frame(con, runner, table, frame, person_level, chunk_rows))
                except duckdb.Error as exc:
                    message = (
                        "could not prepare the frame"
                        if person_level
                        else f"could not prepare the frame: {str(exc).splitlines()[0][:300]}"
                    )
                    outcomes.extend(_outcome(table, c, False, error=message) for c in frame.checks)
    finally:
        con.close()
    return ValidationReport(
        success=all(o.success for o in outcomes),
        outcomes=outcomes,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        database=str(database),
        previous=None if previous is None else str(previous),
        previous_used=previous_counts is not None,
        tables=selected,
    )


# --------------------------------------------------------------------------------------------
# Writing


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; color: #1d1d1f; line-height: 1.4; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.summary { padding: .8rem 1rem; border-radius: .4rem; margin: 1rem 0; }
.ok { background: #e6f4ea; border: 1px solid #34a853; }
.bad { background: #fce8e6; border: 1px solid #d93025; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e0e0e0; }
td.pass { color: #137333; font-weight: 600; } td.fail { color: #c5221f; font-weight: 600; }
.badge { font-size: .8rem; padding: .1rem .45rem; border-radius: .3rem; margin-left: .4rem; }
.badge.pass { background: #e6f4ea; color: #137333; }
.badge.fail { background: #fce8e6; color: #c5221f; }
.muted { color: #5f6368; font-size: .85rem; }
"""


def _html(report: ValidationReport) -> str:
    data = report.to_json()
    totals = data["totals"]
    e = html.escape
    status = "PASSED" if report.success else "FAILED"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Mart validation: {status}</title><style>{_CSS}</style></head><body>",
        "<h1>Mart validation</h1>",
        f'<div class="summary {"ok" if report.success else "bad"}">',
        f"<strong>Validation {status}</strong>: "
        f"{totals['expectations']} expectations on {totals['tables']} tables, "
        f"{totals['passed']} passed, {totals['failed']} failed; "
        f"{totals['tables'] - totals['tables_failed']} tables passed, "
        f"{totals['tables_failed']} tables failed.</div>",
        '<p class="muted">',
        f"Database: {e(str(report.database))}<br>",
        f"Previous publish: {e(str(report.previous)) if report.previous_used else 'none'}<br>",
        f"Started {e(data['started_at'])}, finished {e(data['finished_at'])} "
        f"({data['duration_seconds']:.1f} s). The report names the expectations and counts "
        "rows; it holds no value of any row.</p>",
        "<h2>Tables</h2><table><tr><th>table</th><th>result</th><th>expectations</th>"
        "<th>failed</th></tr>",
    ]
    for table, info in data["tables"].items():
        word = "pass" if info["success"] else "fail"
        out.append(
            f'<tr><td><a href="#{e(table)}">{e(table)}</a></td><td class="{word}">{word}</td>'
            f"<td>{info['expectations']}</td><td>{info['failed']}</td></tr>"
        )
    out.append("</table>")
    for table, info in data["tables"].items():
        word = "pass" if info["success"] else "fail"
        out.append(
            f'<h2 id="{e(table)}">{e(table)}<span class="badge {word}">{word}</span></h2>'
            f'<p class="muted">{info["expectations"] - info["failed"]} passed, '
            f"{info['failed']} failed</p>"
        )
        out.append(
            "<table><tr><th>result</th><th>expectation</th><th>GX expectation</th>"
            "<th>unexpected rows</th></tr>"
        )
        for o in report.outcomes:
            if o.table != table:
                continue
            word = "pass" if o.success else "fail"
            unexpected = o.counts.get("unexpected_count")
            detail = "" if unexpected is None else str(unexpected)
            if o.error:
                detail = f"{detail} error: {o.error}".strip()
            out.append(
                f'<tr><td class="{word}">{word}</td><td>{e(o.expectation)}</td>'
                f'<td class="muted">{e(o.expectation_type)}</td><td>{e(detail)}</td></tr>'
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(report: ValidationReport, folder: Path) -> Path:
    """Write validation-<timestamp>.json and .html to folder, and overwrite latest.json and
    latest.html with the same content; return the path of the timestamped HTML page."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report.finished_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem, n = f"validation-{stamp}", 1
    while (folder / f"{stem}.json").exists() or (folder / f"{stem}.html").exists():
        n += 1
        stem = f"validation-{stamp}-{n}"
    text_json = json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    text_html = _html(report)
    for name, text in (
        (f"{stem}.json", text_json),
        (f"{stem}.html", text_html),
        ("latest.json", text_json),
        ("latest.html", text_html),
    ):
        _write_atomic(folder / name, text)
    return folder / f"{stem}.html"


if __name__ == "__main__":  # pragma: no cover - manual use: python -m reentry.validation.suites
    import sys

    t0 = time.perf_counter()
    rep = validate_marts(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(json.dumps(rep.to_json()["totals"]), f"{time.perf_counter() - t0:.1f} s")
    for failure in rep.failures():
        print("FAIL", failure.table, failure.expectation, failure.counts, failure.error or "")
