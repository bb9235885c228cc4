"""The aggregate tables the dashboards and the ministry pack show, read from the published
database and passed through disclosure control (`disclosure.protect`). Nothing else is shown.

Each table keeps its mart's break-down columns with `all` on total rows. A suppressed value is
None with `<column>_suppressed` true beside it. Curves (Kaplan-Meier) are cut where fewer than
10 are at risk, the same threshold as for counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from threadpoolctl import threadpool_limits

from reentry.contract import CODE_LISTS
from reentry.files import sha256_file

from .disclosure import SUPPRESSED_SUFFIX, THRESHOLD, protect

BREAKDOWNS = CODE_LISTS["breakdown"]
AT_RISK_DAYS = (0, 180, 365, 730, 1095)


@dataclass(frozen=True)
class Metadata:
    """What every chart and report states: the as-of date, the data version, and how many
    releases lie in a programme period (0: nothing can be evaluated)."""

    as_of_date: str
    data_version: str
    built_at: str
    n_programme_period_releases: int


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


def period_parents(periods: pl.Series) -> dict[str, str]:
    """Quarter -> year ('2004Q2' -> '2004'); a year's parent is the total."""
    return {p: p[:4] for p in periods.unique().to_list() if p and "Q" in p}


def indicators(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """programme_indicators with a `cohort` column ('all', '2004', '2004Q2'), protected per
    programme and indicator over cohort (quarters add up to years) and the break-downs.

    Quarters are published for the programme as a whole only: broken down by prison, partner,
    sex or age band, a quarter's cells are nearly all below the threshold (80-99 % of their
    numerators in the demo), and suppressing them would take their years down with them. The
    break-downs are published per year and for the whole period (recoding time before
    suppressing, as statistical offices do)."""
    frame = _frame(
        con,
        f"""
        select programme, period as cohort, {", ".join(BREAKDOWNS)}, indicator,
               kind, numerator, denominator, n_units, value, ci_low, ci_high
        from marts.programme_indicators
        where period_type <> 'quarter'
           or ({" and ".join(f"{b} = 'all'" for b in BREAKDOWNS)})
        order by all""",
    )
    parents = {"cohort": period_parents(frame["cohort"])}
    # The counts each kind of indicator rests on (programme_indicators.sql).
    # n_units is every indicator's count of releases or placements, so it is always one; the
    # numerator of a median is a copy of it.
    by_kind = {
        "share": ["n_units", "numerator", "denominator"],
        "per_100": ["n_units", "numerator", "denominator"],
        "count": ["n_units", "numerator"],
        # The denominator of a rate is person-time: a few person-months are a few persons.
        "rate": ["n_units", "numerator", "denominator"],
        "median": ["n_units", "numerator"],
        "km": ["n_units", "denominator"],
    }
    out = []
    for (kind,), part in frame.partition_by("kind", as_dict=True, maintain_order=True).items():
        counts = by_kind[kind]
        protected = protect(
            part,
            ["cohort", *BREAKDOWNS],
            counts,
            shares={c: counts for c in ("value", "ci_low", "ci_high")},
            slice_by=["programme", "indicator"],
            parents=parents,
            partial_dims=["partner_id"],
        )
        out.append(protected)
    return _unify(out)


def _unify(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate protected parts whose suppression flags differ: a missing flag is false."""
    return pl.concat(frames, how="diagonal_relaxed").with_columns(
        pl.col(pl.Boolean).fill_null(False)
    )


def recidivism_rates(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rates per programme x group x window x measure over cohort and one break-down."""
    frame = _frame(
        con,
        """
        select programme, cohort, prison_id, sex, age_band, "group", window_months, measure,
               n_releases, n_full_follow_up, n_events, rate, ci_low, ci_high,
               events_per_person_year
        from marts.recidivism_rates order by all""",
    )
    return protect(
        frame,
        ["cohort", "prison_id", "sex", "age_band"],
        ["n_releases", "n_full_follow_up", "n_events"],
        shares={
            "rate": ("n_full_follow_up", "n_events"),
            "ci_low": ("n_full_follow_up", "n_events"),
            "ci_high": ("n_full_follow_up", "n_events"),
            "events_per_person_year": ("n_full_follow_up", "n_events"),
        },
        slice_by=["programme", "group", "window_months", "measure"],
    )


def recidivism_effects(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Participants against comparison, raw and adjusted, per cohort."""
    frame = _frame(con, "select * from marts.recidivism_effects order by all")
    counts = ["n_participants", "n_events_participants", "n_comparison", "n_events_comparison"]
    derived = [
        c
        for c in frame.columns
        if c not in {"programme", "cohort", "window_months", "measure", *counts}
    ]
    return protect(
        frame,
        ["cohort"],
        counts,
        shares={c: counts for c in derived},
        slice_by=["programme", "window_months", "measure"],
    )


def _curve(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """A Kaplan-Meier curve as published: only where at least THRESHOLD are at risk."""
    return frame.filter(pl.col("n_at_risk") >= THRESHOLD).select(
        [*keys, "day", "n_at_risk", "survival", "ci_low", "ci_high"]
    )


def survival(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Survival free of each event by day since release, per programme, cohort and group."""
    frame = _frame(
        con, 'select * from marts.survival order by programme, cohort, "group", measure, day'
    )
    return _curve(frame, ["programme", "cohort", "group", "measure"])


def retention(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Placements still running by day since start (Kaplan-Meier), per partner and type."""
    frame = _frame(
        con,
        "select * from marts.placement_retention "
        "order by programme, partner_id, placement_type, day",
    )
    return _curve(frame, ["programme", "partner_id", "placement_type"])


def employment(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """In work on day N after release, per cohort."""
    frame = _frame(con, "select * from marts.employment_status order by all")
    return protect(
        frame,
        ["cohort"],
        ["n_observed", "n_in_work"],
        shares={c: ("n_observed", "n_in_work") for c in ("share", "ci_low", "ci_high")},
        slice_by=["programme", "day"],
    )


FUNNEL_STAGES = CODE_LISTS["funnel_stage"]


def funnel(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Referred -> accepted -> placed -> started -> retained 180 days, in persons, per intake
    year and partner. A person with several partners or intake years is in each of their rows,
    so the parts may add up to more than their total: the overlap is an unknown to the
    attacker (`overlap_dims`)."""
    frame = _frame(
        con,
        "select programme, cohort, partner_id, "
        f"{', '.join(FUNNEL_STAGES)} from marts.placement_funnel order by all",
    )
    return protect(
        frame,
        ["cohort", "partner_id"],
        list(FUNNEL_STAGES),
        slice_by=["programme"],
        overlap_dims=["cohort", "partner_id"],
    )


def _breakdown_columns(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """A long break-down (breakdown, breakdown_value) as one column per break-down, `all` on
    the rows of the others, so that each break-down adds up to the total row."""
    return frame.with_columns(
        [
            pl.when(pl.col("breakdown") == name)
            .then(pl.col("breakdown_value"))
            .otherwise(pl.lit("all"))
            .alias(name)
            for name in names
        ]
    )


def dropouts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Dropout shares of started placements by placement type, sector, partner and prison."""
    frame = _frame(con, "select * from marts.dropout_rates order by all")
    names = sorted(set(frame["breakdown"].to_list()) - {"all"})
    wide = _breakdown_columns(frame, names)
    # A placement without a sector, partner or prison falls out of that break-down.
    protected = protect(
        wide,
        names,
        ["n_started", "n_dropouts"],
        shares={c: ("n_started", "n_dropouts") for c in ("dropout_share", "ci_low", "ci_high")},
        slice_by=["programme"],
        partial_dims=names,
    )
    return protected.drop(names)


def end_reasons(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Ended placements by end reason ('all': the partner's total), per partner, with the share
    of the ended placements."""
    frame = _frame(
        con,
        """
        select programme, partner_id, end_reason, n_ended::bigint as n_ended, share_of_ended
        from marts.placement_end_reasons order by all""",
    )
    protected = protect(
        frame.drop("share_of_ended"),
        ["partner_id", "end_reason"],
        ["n_ended"],
        slice_by=["programme"],
    )
    totals = protected.filter(pl.col("end_reason") == "all").select(
        "programme", "partner_id", pl.col("n_ended_suppressed").alias("_total_suppressed")
    )
    # The share of a reason is shown where both its count and the partner's total are.
    keys = ["programme", "partner_id", "end_reason"]
    return (
        protected.join(frame.select(*keys, "share_of_ended"), on=keys, how="left")
        .join(totals, on=["programme", "partner_id"], how="left")
        .with_columns(
            pl.when(pl.col("n_ended_suppressed") | pl.col("_total_suppressed"))
            .then(None)
            .otherwise(pl.col("share_of_ended"))
            .alias("share_of_ended")
        )
        .drop("_total_suppressed")
        .sort(keys)
    )


def deliveries(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rows received, loaded, quarantined and removed per source and entity."""
    counts = ["n_received", "n_loaded", "n_quarantined", "n_removed"]
    frame = _frame(
        con,
        f"""
        select programme, source_id, entity, n_files, {", ".join(counts)}
        from marts.data_quality_rows order by all""",
    )
    return protect(
        frame, ["source_id", "entity"], counts, slice_by=["programme"], shared_by="source_id"
    )


def quarantine(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Quarantined rows by reason and source."""
    frame = _frame(
        con,
        "select programme, source_id, reason, n_rows "
        "from marts.data_quality_quarantine_reasons order by all",
    )
    return protect(
        frame, ["source_id", "reason"], ["n_rows"], slice_by=["programme"], shared_by="source_id"
    )


def link_rates(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Share of participants and register entries whose pseudonym matches a custody spell, per
    programme (the mart's rows over every programme are the run summary's)."""
    frame = _frame(
        con,
        """
        select programme, source_id, entity, n_records::bigint as n_records,
               n_linked::bigint as n_linked, link_rate
        from marts.data_quality_link_rates where programme <> 'all' order by all""",
    )
    return protect(
        frame,
        ["source_id", "entity"],
        ["n_records", "n_linked"],
        shares={"link_rate": ("n_records", "n_linked")},
        slice_by=["programme"],
        shared_by="source_id",
    )


def metadata(con: duckdb.DuckDBPyConnection, data_version: str) -> Metadata:
    """As-of date and parameters of the build, with the published file's hash."""
    row = con.sql(
        "select as_of_date, built_at, (select coalesce(sum(n_period_releases), 0) "
        "from marts.programmes) from marts.run_metadata"
    ).fetchall()[0]
    return Metadata(
        as_of_date=str(row[0]),
        data_version=data_version,
        built_at=str(row[1])[:19],
        n_programme_period_releases=int(row[2]),
    )


TABLES = {
    "indicators": indicators,
    "recidivism_rates": recidivism_rates,
    "recidivism_effects": recidivism_effects,
    "survival": survival,
    "retention": retention,
    "employment": employment,
    "funnel": funnel,
    "dropouts": dropouts,
    "end_reasons": end_reasons,
    "deliveries": deliveries,
    "quarantine": quarantine,
    "link_rates": link_rates,
}


def open_published(path: Path) -> duckdb.DuckDBPyConnection:
    """The published database, read-only."""
    return duckdb.connect(str(path), read_only=True)


def data_version(published_db: Path) -> str:
    """SHA-256 of the published file: the data version every chart and pack names."""
    return sha256_file(Path(published_db))


def suppression(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """How much disclosure control hides, per table: published cells (a count or a value with
    a `_suppressed` flag) and how many of them are suppressed. Reported on the data-quality
    page and in the README."""
    rows = []
    for name, frame in tables.items():
        flags = [c for c in frame.columns if c.endswith(SUPPRESSED_SUFFIX)]
        if not flags or name == "suppression":
            continue
        n_cells = frame.height * len(flags)
        n_hidden = int(sum(frame[f].sum() for f in flags))
        rows.append((name, n_cells, n_hidden, n_hidden / n_cells if n_cells else 0.0))
    return pl.DataFrame(
        rows,
        schema={
            "table": pl.String,
            "n_cells": pl.Int64,
            "n_suppressed": pl.Int64,
            "share_suppressed": pl.Float64,
        },
        orient="row",
    )


def protected_tables(
    published_db: Path, names=None, cache_dir: Path | None = None, version: str | None = None
) -> dict[str, pl.DataFrame]:
    """Every table the dashboards and packs may show, protected, and `suppression` (the share
    each of them hides). With `cache_dir`, a table protected once for a data version is read
    back (the site and the packs then show the very same cells); caches of other versions are
    removed."""
    wanted = list(names or [*TABLES, "suppression"])
    names = list(TABLES) if "suppression" in wanted else [n for n in wanted]
    cached: dict[str, pl.DataFrame] = {}
    if cache_dir is not None:
        version = version or data_version(published_db)
        cache_dir.mkdir(parents=True, exist_ok=True)
        for stale in cache_dir.glob("*.parquet"):
            if not stale.name.endswith(f"-{version[:16]}.parquet"):
                stale.unlink()
        for name in names:
            path = cache_dir / f"{name}-{version[:16]}.parquet"
            if path.exists():
                cached[name] = pl.read_parquet(path)
    missing = [n for n in names if n not in cached]
    if missing:
        con = open_published(published_db)
        # The linear algebra runs on small blocks: BLAS threads would only fight over the cores.
        limits = threadpool_limits(1)
        try:
            for name in missing:
                cached[name] = TABLES[name](con)
                if cache_dir is not None:
                    # Written whole or not at all: a half-written file would be read next time.
                    path = cache_dir / f"{name}-{version[:16]}.parquet"
                    staged = path.with_name(path.name + ".tmp")
                    cached[name].write_parquet(staged)
                    os.replace(staged, path)
        finally:
            limits.restore_original_limits()
            con.close()
    if "suppression" in wanted:
        cached["suppression"] = suppression({n: cached[n] for n in names})
    return {name: cached[name] for name in wanted}


# ---------------------------------------------------------------- the evaluation

# What an effect row is of (programme_effects' key).
EFFECT_KEY = ("programme", "cohort", "estimator", "measure", "window_months")
# The estimates of an effect row: rates, difference, risk ratio, E-value (programme_effects).
EFFECT_DIFFERENCE = (
    "rate_participants",
    "rate_comparison",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
)
EFFECT_ESTIMATES = (
    *EFFECT_DIFFERENCE,
    "risk_ratio",
    "risk_ratio_ci_low",
    "risk_ratio_ci_high",
    "e_value",
    "e_value_ci",
)
EFFECT_SHARES = (
    *EFFECT_ESTIMATES,
    "verdict_text",
    "verdict_texts",
)


def programmes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The programmes of the registry, in the mart's order (by id): names, periods, languages
    and the (large) counts of their evaluation population, primary suppression only."""
    frame = _frame(
        con,
        """
        select programme, programme_name, country, period_start_date, period_end_date,
               languages, n_period_releases, n_evaluated, n_participants,
               n_evaluated - n_participants as n_comparison
        from marts.programmes order by programme""",
    )
    return protect(
        frame, [], ["n_period_releases", "n_evaluated", "n_participants", "n_comparison"]
    )


def _participants_by_status(effects: pl.DataFrame) -> pl.DataFrame:
    """Participants of each cohort in long form, from the matched rows of programme_effects:
    `all` (every participant with follow-up, before matching), `matched` (those with a match)
    and `unmatched` (those without), so that all = matched + unmatched and the years add up to
    `all` (the mart's tests)."""
    keys = ["programme", "cohort", "measure", "window_months"]
    wide = effects.filter(pl.col("estimator") == "matched").select(
        *keys,
        pl.col("n_participants_before_matching").alias("all"),
        pl.col("n_participants").alias("matched"),
        pl.col("n_participants_without_match").alias("unmatched"),
    )
    return wide.unpivot(
        ["all", "matched", "unmatched"], index=keys, variable_name="status", value_name="n"
    ).with_columns(pl.col("n").cast(pl.Int64))


def effects(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The programme effect (programme_effects): matched and weighted rows of the rate
    outcome, per programme x cohort x measure x window, protected.

    The participants of a cohort are counted three ways, all (before matching), matched and
    without a match (all = matched + unmatched; the years add up to `all`): these are
    protected together, so a small number without a match (common support) is suppressed and
    cannot be worked out as all minus matched. The participants' events (the mart's
    n_events_participants) are protected per estimator over the cohorts; a rate,
    difference, risk ratio, E-value or verdict text is suppressed where the events or the
    comparison count it rests on are. Not-estimated rows keep their verdict code (the reason)."""
    frame = _frame(
        con,
        """
        select programme, cohort, estimator, measure, window_months, n_participants,
               n_comparison, n_participants_unmatched, n_participants_before_matching,
               n_participants_without_match, effective_n_comparison,
               rate_participants, rate_comparison, difference, difference_ci_low,
               difference_ci_high, risk_ratio, risk_ratio_ci_low, risk_ratio_ci_high,
               e_value, e_value_ci, is_estimated, verdict, verdict_text,
               map_entries(verdict_texts) as verdict_texts, n_characteristics,
               n_imbalanced_characteristics, n_replicates,
               n_events_participants::bigint as n_events_participants
        from marts.programme_effects
        where outcome = 'rate' and estimator in ('matched', 'weighted')
        order by programme, cohort, estimator, measure, window_months""",
    )
    long = _participants_by_status(frame)
    # The counts behind the status rows are published through them only.
    frame = frame.drop("n_participants_before_matching", "n_participants_without_match")
    if frame.is_empty():
        flags = [
            f"{c}{SUPPRESSED_SUFFIX}"
            for c in (
                "n_participants",
                "n_comparison",
                "n_participants_unmatched",
                "n_events_participants",
                "effective_n_comparison",
                *EFFECT_SHARES,
            )
        ]
        return frame.with_columns([pl.lit(False).alias(f) for f in flags])
    cohorts = {"cohort": {}}
    slices = ["programme", "measure", "window_months"]
    hidden = {}
    protected = protect(long, ["cohort", "status"], ["n"], slice_by=slices, parents=cohorts)
    hidden["n_participants"] = protected.filter(pl.col("n_suppressed")).select(
        *slices, "cohort", "status"
    )
    events = protect(
        frame.select(*slices, "cohort", "estimator", "n_events_participants"),
        ["cohort"],
        ["n_events_participants"],
        slice_by=[*slices, "estimator"],
    )
    comparison = protect(
        frame.select(
            "programme", "cohort", "estimator", "measure", "window_months", "n_comparison"
        ),
        ["cohort"],
        ["n_comparison"],
        slice_by=["programme", "estimator", "measure", "window_months"],
    )
    keys = list(EFFECT_KEY)
    out = frame.join(comparison.select(*keys, "n_comparison_suppressed"), on=keys, how="left").join(
        events.select(*keys, "n_events_participants_suppressed"), on=keys, how="left"
    )

    def flag(column: str, status: str, estimator: str, name: str) -> pl.DataFrame:
        rows = hidden[column].filter(pl.col("status") == status).drop("status")
        return rows.with_columns(pl.lit(estimator).alias("estimator"), pl.lit(True).alias(name))

    for column, name, parts in (
        (
            "n_participants",
            "n_participants_suppressed",
            [("all", "weighted"), ("matched", "matched")],
        ),
        ("n_participants", "n_participants_unmatched_suppressed", [("unmatched", "matched")]),
    ):
        marks = pl.concat([flag(column, s, e, name) for s, e in parts])
        out = out.join(marks, on=keys, how="left").with_columns(pl.col(name).fill_null(False))
    # The weighted rows' n_participants_unmatched is 0 by definition: not applicable (None,
    # and not marked as suppressed).
    out = out.with_columns(
        pl.when(pl.col("estimator") == "weighted")
        .then(None)
        .otherwise(pl.col("n_participants_unmatched"))
        .alias("n_participants_unmatched"),
        pl.when(pl.col("estimator") == "weighted")
        .then(False)
        .otherwise(pl.col("n_participants_unmatched_suppressed"))
        .alias("n_participants_unmatched_suppressed"),
        pl.col("n_comparison_suppressed").alias("effective_n_comparison_suppressed"),
    )
    out = out.with_columns(
        pl.any_horizontal("n_events_participants_suppressed", "n_comparison_suppressed").alias(
            "_shares"
        )
    )
    out = out.with_columns(
        [pl.col("_shares").alias(f"{c}{SUPPRESSED_SUFFIX}") for c in EFFECT_SHARES]
    ).drop("_shares")
    for column in (
        "n_participants",
        "n_comparison",
        "n_participants_unmatched",
        "n_events_participants",
        "effective_n_comparison",
        *EFFECT_SHARES,
    ):
        out = out.with_columns(
            pl.when(pl.col(f"{column}{SUPPRESSED_SUFFIX}"))
            .then(None)
            .otherwise(pl.col(column))
            .alias(column)
        )
    # Rates and differences as the verdicts state them (a tenth of a percentage point): more
    # digits would give the counts they rest on away.
    out = out.with_columns(pl.col(c).round(3) for c in EFFECT_ESTIMATES)
    return out.sort(keys)


def overlap(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Propensity score overlap (propensity_overlap), protected: releases of the evaluation
    population per programme x group x score bin, with the mart's `all` bin per group (the
    groups' sizes, which other tables publish), so that the bins adding up to them are the equations
    the suppression guards. Matched participants per bin are not published: with nearly every
    participant matched, they would give the few without a match away bin by bin (common
    support is shown from the protected effects table instead)."""
    frame = _frame(
        con,
        """
        select programme, "group", score_bin, n_releases::bigint as n_releases, score_low,
               score_high
        from marts.propensity_overlap order by all""",
    )
    protected = protect(
        frame.drop("score_low", "score_high"),
        ["score_bin"],
        ["n_releases"],
        slice_by=["programme", "group"],
    )
    keys = ["programme", "group", "score_bin"]
    bins = frame.select(*keys, "score_low", "score_high")
    return protected.join(bins, on=keys, how="left").sort(
        "programme",
        "group",
        pl.col("score_bin")
        .replace_strict({"all": "99"}, default=pl.col("score_bin"))
        .cast(pl.Int64),
    )


def balance(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Covariate balance (covariate_balance): SMDs are published as they are (no counts).
    The means of a categorical level are shares of a group; where the number of participants
    or comparison releases with the level can be worked out (before adjustment: mean times the
    group's size; participants after weighting: the same participants; matched participants:
    mean times the matched participants) and is below 10, every mean of that level is
    suppressed in every stage, so that the SMDs (over the pooled standard deviation before
    adjustment, itself a function of the two means before) cannot give one back."""
    frame = _frame(
        con,
        """
        select programme, covariate, level, stage, mean_participants, mean_comparison, smd,
               is_imbalanced,
               case when level is null or level = '' then null
                    else mean_participants * n_participants end as _count_participants,
               case when level is null or level = '' then null
                    when stage = 'before' then mean_comparison * n_comparison end
                   as _count_comparison
        from marts.covariate_balance
        order by programme, covariate, level, stage""",
    )
    counts = pl.min_horizontal(pl.col("_count_participants"), pl.col("_count_comparison"))
    small = (
        frame.filter(pl.col("_count_participants").is_not_null())
        .group_by("programme", "covariate", "level")
        .agg(counts.round(0).min().alias("_smallest"))
        .with_columns((pl.col("_smallest") < THRESHOLD).alias("mean_suppressed"))
    )
    # A covariate's levels add up to everybody: one hidden level would be one minus the
    # others, so a second level (the smallest shown one) goes with it.
    rows = []
    for _, part in small.sort("_smallest").group_by("programme", "covariate", maintain_order=True):
        part = part.sort("_smallest")
        hide = part["mean_suppressed"].to_list()
        if sum(hide) == 1 and len(hide) > 1:
            hide[next(i for i, h in enumerate(hide) if not h)] = True
        rows.append(part.with_columns(pl.Series("mean_suppressed", hide)))
    small = pl.concat(rows).drop("_smallest") if rows else small.drop("_smallest")
    out = frame.join(
        small, on=["programme", "covariate", "level"], how="left", nulls_equal=True
    ).with_columns(pl.col("mean_suppressed").fill_null(False))
    return (
        out.with_columns(
            *(
                pl.when(pl.col("mean_suppressed")).then(None).otherwise(pl.col(c)).alias(c)
                for c in ("mean_participants", "mean_comparison")
            ),
            pl.col("mean_suppressed").alias("mean_participants_suppressed"),
            pl.col("mean_suppressed").alias("mean_comparison_suppressed"),
        )
        .drop("mean_suppressed", "_count_participants", "_count_comparison")
        .sort("programme", "covariate", "level", "stage")
    )


def breakdown_levels(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Which rare levels of sex and age band each programme counts with a neighbour
    (marts.breakdown_levels): the charts name them beside the level they joined. No counts."""
    return _frame(
        con,
        """
        select programme, dimension, level, published_level
        from marts.breakdown_levels where is_folded order by all""",
    )


TABLES.update(
    {
        "programmes": programmes,
        "effects": effects,
        "overlap": overlap,
        "balance": balance,
        "breakdown_levels": breakdown_levels,
    }
)
