"""What a source knows on its export date: filtering and masking the tables per file.

A full snapshot holds every record up to the export date, with facts that lie after it
blanked (an episode released later is still open). An incremental file holds the records that
are new or changed since the previous export, each in its state on the export date.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from reentry.contract import ENTITIES

# Event column of the table -> reference column (the rest have the same name).
_RENAME = {
    "custody_episodes": {
        "admission": "admission_date",
        "expected_release": "expected_release_date",
        "release": "release_date",
    },
    "prison_measures": {"start": "start_date", "end": "end_date"},
    "participants": {"intake": "intake_date", "exit": "exit_date"},
    "placements": {
        "arranged": "arranged_date",
        "start": "start_date",
        "planned_end": "planned_end_date",
        "end": "end_date",
    },
    "aftercare_contacts": {},
    "register_entries": {"offence": "offence_date", "decision": "decision_date"},
    "inmates": {},
}
KEYS = {name: e.key for name, e in ENTITIES.items()}


def as_date(day_number: float) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day_number))


def _known(col: str, e: dt.date) -> pl.Expr:
    return pl.when(pl.col(col) <= e).then(pl.col(col)).otherwise(None).alias(col)


def state_on(frame: pl.DataFrame, entity: str, e: dt.date) -> pl.DataFrame:
    """Records visible on export date e, with later facts blanked (typed columns)."""
    if entity == "inmates":
        return frame.filter(pl.col("first_admission") <= e)
    if entity == "custody_episodes":
        later = pl.col("release") > e
        return frame.filter(pl.col("admission") <= e).with_columns(
            _known("release", e),
            pl.when(later).then(None).otherwise(pl.col("release_type")).alias("release_type"),
        )
    if entity == "prison_measures":
        return frame.filter(pl.col("start") <= e).with_columns(
            _known("end", e),
            pl.when(pl.col("end").is_null() | (pl.col("end") > e))
            .then(pl.lit("ongoing"))
            .otherwise(pl.col("outcome"))
            .alias("outcome"),
        )
    if entity == "participants":
        later = pl.col("exit") > e
        return frame.filter(pl.col("intake") <= e).with_columns(
            _known("exit", e),
            pl.when(later).then(None).otherwise(pl.col("exit_reason")).alias("exit_reason"),
        )
    if entity == "placements":
        later = pl.col("end") > e
        return frame.filter(pl.col("arranged") <= e).with_columns(
            _known("start", e),
            _known("end", e),
            pl.when(later).then(None).otherwise(pl.col("end_reason")).alias("end_reason"),
        )
    if entity == "aftercare_contacts":
        return frame.filter(pl.col("contact_date") <= e)
    if entity == "register_entries":
        return frame.filter(pl.col("decision") <= e)
    raise KeyError(entity)


def changed_since(frame: pl.DataFrame, entity: str, prev: dt.date | None) -> pl.DataFrame:
    """Rows of an incremental entity that are new or changed after `prev` (already masked)."""
    if prev is None:
        return frame
    if entity == "placements":
        return frame.filter(
            (pl.col("arranged") > prev) | (pl.col("start") > prev) | (pl.col("end") > prev)
        )
    if entity == "aftercare_contacts":
        return frame.filter(pl.col("contact_date") > prev)
    if entity == "register_entries":
        return frame.filter(pl.col("decision") > prev)
    raise KeyError(entity)


def as_strings(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Reference columns as strings: ISO dates, point decimals, null for missing."""
    ent = ENTITIES[entity]
    frame = frame.rename({k: v for k, v in _RENAME[entity].items() if k in frame.columns})
    exprs = []
    for col in ent.columns:
        c = pl.col(col.name)
        if col.type == "date":
            c = c.dt.strftime("%Y-%m-%d")
        elif col.type == "decimal":
            c = c.cast(pl.String).str.replace(r"\.0$", "")
        else:
            c = c.cast(pl.String)
        exprs.append(c.alias(col.name))
    return frame.sort(ent.key).select(exprs)


def export_frame(
    frame: pl.DataFrame, entity: str, e: dt.date, prev: dt.date | None, incremental: bool
) -> pl.DataFrame:
    """The reference-layout string frame of one file."""
    state = state_on(frame, entity, e)
    if incremental:
        state = changed_since(state, entity, prev)
    return as_strings(state, entity)
