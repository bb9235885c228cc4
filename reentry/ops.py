"""The pipeline's own record in the work database (schema `ops`): builds, validations and
publishes, so that a run knows what is new and `reentry status` can say what happened."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb

_DDL = """
create schema if not exists ops;
create table if not exists ops.builds (
    built_at timestamp not null,
    last_load_id bigint,          -- the newest load the build saw
    as_of varchar,                -- the requested as-of date ('' = default)
    project_checksum varchar      -- of the dbt manifest, so a model change rebuilds
);
create table if not exists ops.validations (
    validated_at timestamp not null,
    success boolean not null,
    n_expectations integer,
    n_failed integer,
    failures json,                -- table and expectation names only, never row values
    report_path varchar
);
create table if not exists ops.publishes (
    published_at timestamp not null,
    path varchar not null,
    data_version varchar not null, -- sha256 of the published file
    n_tables integer,
    previous_path varchar
);
"""


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ops tables if missing."""
    con.execute(_DDL)


def build_state(work_db: Path, as_of: date | None, project_checksum: str) -> dict:
    """What a build would see now, and whether the last build already saw exactly that."""
    con = duckdb.connect(str(work_db))
    try:
        ensure(con)
        (last_load,) = con.execute("select max(load_id) from ingest.files").fetchone()
        previous = con.execute(
            "select last_load_id, as_of, project_checksum from ops.builds "
            "order by built_at desc limit 1").fetchall()
    finally:
        con.close()
    state = {"last_load_id": last_load, "as_of": as_of.isoformat() if as_of else "",
             "project_checksum": project_checksum}
    state["is_current"] = bool(previous) and previous[0] == (
        state["last_load_id"], state["as_of"], state["project_checksum"])
    return state


def record_build(work_db: Path, state: dict) -> None:
    """Remember what the successful build saw."""
    con = duckdb.connect(str(work_db))
    try:
        ensure(con)
        con.execute("insert into ops.builds values (?, ?, ?, ?)",
                    [datetime.now(), state["last_load_id"], state["as_of"],
                     state["project_checksum"]])
    finally:
        con.close()


def record_validation(work_db: Path, report_json: dict, report_path: Path | None) -> None:
    """Remember a validation's outcome (names of failed expectations only)."""
    outcomes = report_json.get("outcomes", [])
    failures = [o for o in outcomes if not o.get("success")]
    con = duckdb.connect(str(work_db))
    try:
        ensure(con)
        con.execute("insert into ops.validations values (?, ?, ?, ?, ?, ?)",
                    [datetime.now(), bool(report_json.get("success")), len(outcomes),
                     len(failures), json.dumps(failures),
                     str(report_path) if report_path else None])
    finally:
        con.close()


def record_publish(work_db: Path, path: Path, data_version: str, n_tables: int,
                   previous: Path | None) -> None:
    """Remember a publish."""
    con = duckdb.connect(str(work_db))
    try:
        ensure(con)
        con.execute("insert into ops.publishes values (?, ?, ?, ?, ?)",
                    [datetime.now(), str(path), data_version, n_tables,
                     str(previous) if previous else None])
    finally:
        con.close()
