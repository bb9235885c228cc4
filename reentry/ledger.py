"""The pipeline's own record in the work database (schema `ledger`): builds, validations and
publishes, so that a run knows what is new and `reentry status` can say what happened."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb

from reentry.contract import ENTITIES_BY_KIND
from reentry.store import Warehouse, as_warehouse

_DDL = """
create schema if not exists ledger;
create table if not exists ledger.builds (
    built_at timestamp not null,
    last_load_id bigint,          -- the newest load the build saw
    as_of varchar,                -- the requested as-of date ('' = default)
    project_checksum varchar      -- of the dbt manifest, so a model change rebuilds
);
alter table ledger.builds add column if not exists registry_checksum varchar;
alter table ledger.builds add column if not exists rebuilt_entities varchar[]; -- null: everything
create table if not exists ledger.validations (
    validated_at timestamp not null,
    success boolean not null,
    n_expectations integer,
    n_failed integer,
    failures json,                -- table and expectation names only, never row values
    report_path varchar
);
create table if not exists ledger.publishes (
    published_at timestamp not null,
    path varchar not null,
    data_version varchar not null, -- sha256 of the published file
    n_tables integer,
    previous_path varchar
);
-- A publish is recorded before the new file replaces the old one ('staged': its intent) and
-- marked 'published' after; a run finds a 'staged' one left by a killed run and settles it.
alter table ledger.publishes add column if not exists built_at timestamp; -- the build published
alter table ledger.publishes add column if not exists state varchar;      -- null: published
-- The lake's snapshot the publish read its marts from (null on the file).
alter table ledger.publishes add column if not exists lake_snapshot bigint;
-- Every publish kept as a release (reentry.publish.releases): its file in published/releases/,
-- on the lake also the snapshot it was read from; withdrawn (file deleted) after an erasure.
create table if not exists ledger.releases (
    release_no integer not null,     -- (not release_id: that names a release from prison)
    name varchar not null,           -- release-0001, …: its file is published/releases/NAME.duckdb
    published_at timestamp not null,
    data_version varchar not null,   -- sha256 of the published file
    method_version varchar not null, -- the package's version + the dbt project's checksum
    as_of varchar,                   -- the data cut-off asked for ('' = the default)
    built_at timestamp,
    path varchar,
    lake_snapshot bigint,            -- the lake: its snapshot with these marts
    withdrawn_at timestamp,
    withdrawn_reason varchar
);
-- Every run of a command that changes the work folder: one without finished_at was killed.
create table if not exists ledger.runs (
    started_at timestamp not null,
    pid integer,
    command varchar,
    as_of varchar,
    finished_at timestamp
);
-- When the layers were last checked free of every logged erasure (old published versions
-- deleted, the work database compacted, every layer counted).
create table if not exists ledger.erasures_finished (finished_at timestamp not null);
-- Publishes recorded before intents were: each published the build before it.
update ledger.publishes p set state = 'published', built_at = (
    select max(b.built_at) from ledger.builds b where b.built_at <= p.published_at)
where p.state is null and p.built_at is null;
"""


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger tables if missing."""
    con.execute(_DDL)


REGISTER_ENTITIES = ENTITIES_BY_KIND["register"]


def ledger_connection(work_db: Warehouse | Path) -> contextlib.AbstractContextManager:
    """A connection to the work database with the ledger's tables in place (closed at the
    end of the block)."""
    return _ledger(work_db)


@contextlib.contextmanager
def _ledger(work_db: Warehouse | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the work database with the ledger's tables in place."""
    with as_warehouse(work_db).connect() as con:
        ensure(con)
        yield con


def build_state(work_db: Warehouse | Path, as_of: date | None, project_checksum: str) -> dict:
    """What a build would see now, whether the last build already saw exactly that, and what
    changed since: state["changed_entities"] lists the entities with newly loaded files when
    only those need rebuilding, None when everything does (no build yet, a model change, an
    as-of change, a registry change, an erasure, or a new register file while the as-of date
    follows the newest register export)."""
    with _ledger(work_db) as con:
        (last_load,) = con.execute("select max(load_id) from ingest.files").fetchone()
        # Sources and programmes: a new period or programme rebuilds everything.
        (registry,) = con.execute(
            "select md5(coalesce(string_agg(r, '|' order by r), '')) from ("
            "  select s::varchar as r from ingest.sources s"
            "  union all select p::varchar from ingest.programmes p)"
        ).fetchone()
        previous = con.execute(
            "select last_load_id, as_of, project_checksum, registry_checksum from ledger.builds "
            "order by built_at desc limit 1"
        ).fetchall()
        # An erasure since the last build changes history: everything is rebuilt.
        (erased_since,) = con.execute(
            "select count(*) > 0 from ingest.erasures "
            "where erased_at > (select coalesce(max(built_at), '-infinity'::timestamp) "
            "                   from ledger.builds)"
        ).fetchone()
        changed = []
        if previous:
            changed = [
                r[0]
                for r in con.execute(
                    "select distinct entity from ingest.files where load_id > ? and "
                    "status = 'loaded' order by 1",
                    [previous[0][0] or 0],
                ).fetchall()
            ]
    state = {
        "last_load_id": last_load,
        "as_of": as_of.isoformat() if as_of else "",
        "project_checksum": project_checksum,
        "registry_checksum": registry,
    }
    now = (state["last_load_id"], state["as_of"], state["project_checksum"], registry)
    state["is_current"] = bool(previous) and previous[0] == now and not erased_since
    same_settings = bool(previous) and previous[0][1:] == now[1:] and not erased_since
    moves_as_of = not state["as_of"] and any(e in REGISTER_ENTITIES for e in changed)
    state["changed_entities"] = changed if same_settings and not moves_as_of else None
    return state


def last_as_of(work_db: Warehouse | Path) -> date | None:
    """The as-of date the last build was asked for (None: the default, or no build yet)."""
    with _ledger(work_db) as con:
        row = con.execute(
            "select as_of from ledger.builds order by built_at desc limit 1"
        ).fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


def record_build(work_db: Warehouse | Path, state: dict) -> None:
    """Remember what the successful build saw and rebuilt."""
    with _ledger(work_db) as con:
        con.execute(
            "insert into ledger.builds by name select ? as built_at, ? as last_load_id, "
            "? as as_of, ? as project_checksum, ? as registry_checksum, "
            "?::varchar[] as rebuilt_entities",
            [
                datetime.now(),
                state["last_load_id"],
                state["as_of"],
                state["project_checksum"],
                state.get("registry_checksum"),
                state.get("changed_entities"),
            ],
        )


def record_validation(
    work_db: Warehouse | Path, report_json: dict, report_path: Path | None
) -> None:
    """Remember a validation's outcome (names of failed expectations only)."""
    outcomes = report_json.get("outcomes", [])
    failures = [o for o in outcomes if not o.get("success")]
    with _ledger(work_db) as con:
        con.execute(
            "insert into ledger.validations values (?, ?, ?, ?, ?, ?)",
            [
                datetime.now(),
                bool(report_json.get("success")),
                len(outcomes),
                len(failures),
                json.dumps(failures),
                str(report_path) if report_path else None,
            ],
        )


def last_build(work_db: Warehouse | Path) -> datetime | None:
    """When the last recorded build finished (None: no build yet)."""
    with _ledger(work_db) as con:
        return con.execute("select max(built_at) from ledger.builds").fetchone()[0]


def unpublished_build(work_db: Warehouse | Path) -> bool:
    """Whether the last recorded build is not (yet) the one published: a run stopped between
    the build and the end of its publish."""
    with _ledger(work_db) as con:
        (unpublished,) = con.execute(
            "select (select max(built_at) from ledger.builds) is distinct from "
            "(select max(built_at) from ledger.publishes where coalesce(state, 'published') "
            " = 'published' and built_at is not null) "
            "and exists (select 1 from ledger.builds)"
        ).fetchone()
    return bool(unpublished)


def last_validation_failed(work_db: Warehouse | Path) -> bool:
    """Whether the newest recorded validation failed (publishing it is refused)."""
    with _ledger(work_db) as con:
        row = con.execute(
            "select success from ledger.validations order by validated_at desc limit 1"
        ).fetchone()
    return row is not None and not row[0]


def record_publish_intent(
    work_db: Warehouse | Path,
    path: Path,
    data_version: str,
    n_tables: int,
    built_at: datetime | None,
    lake_snapshot: int | None = None,
) -> None:
    """Before the new file replaces the published one: what is about to be published."""
    with _ledger(work_db) as con:
        con.execute(
            "insert into ledger.publishes by name select ? as published_at, ? as path, "
            "? as data_version, ? as n_tables, ? as built_at, 'staged' as state, "
            "? as lake_snapshot",
            [datetime.now(), str(path), data_version, n_tables, built_at, lake_snapshot],
        )


def pending_publish(work_db: Warehouse | Path) -> tuple[str, str] | None:
    """(path, data version) of a publish a killed run left between intent and record."""
    with _ledger(work_db) as con:
        row = con.execute(
            "select path, data_version from ledger.publishes where state = 'staged' "
            "order by published_at desc limit 1"
        ).fetchone()
    return (row[0], row[1]) if row else None


def settle_publish(
    work_db: Warehouse | Path, data_version: str, moved: bool, previous: Path | None
) -> None:
    """Record how a staged publish ended: moved into place ('published'), or not
    ('abandoned': the file it would have replaced is still the published one)."""
    with _ledger(work_db) as con:
        con.execute(
            "update ledger.publishes set state = ?, previous_path = ?, "
            "published_at = case when ? then ? else published_at end "
            "where state = 'staged' and data_version = ?",
            [
                "published" if moved else "abandoned",
                str(previous) if previous else None,
                moved,
                datetime.now(),
                data_version,
            ],
        )


def start_run(
    work_db: Warehouse | Path, command: str, as_of: date | None
) -> tuple[datetime, dict | None]:
    """Record that a run of `command` starts; return its start and, if the run before it
    was killed, that run's start, command and as-of date."""
    with _ledger(work_db) as con:
        last = con.execute(
            "select started_at, command, as_of, finished_at from ledger.runs "
            "order by started_at desc limit 1"
        ).fetchone()
        started = datetime.now()
        con.execute(
            "insert into ledger.runs values (?, ?, ?, ?, null)",
            [started, os.getpid(), command, as_of.isoformat() if as_of else ""],
        )
    killed = None
    if last is not None and last[3] is None:
        killed = {"started_at": last[0], "command": last[1], "as_of": last[2]}
    return started, killed


def finish_run(work_db: Warehouse | Path, started: datetime) -> None:
    """Record that the run started at `started` ended (successfully or with a reported
    error: it was not killed)."""
    with _ledger(work_db) as con:
        con.execute(
            "update ledger.runs set finished_at = ? where started_at = ?",
            [datetime.now(), started],
        )


def erasures_unfinished(work_db: Warehouse | Path) -> bool:
    """Whether an erasure was logged after the layers were last checked free of every
    logged erasure."""
    with _ledger(work_db) as con:
        (logged,) = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'ingest' "
            "and table_name = 'erasures'"
        ).fetchone()
        if not logged:
            return False
        (pending,) = con.execute(
            "select coalesce((select max(erased_at) from ingest.erasures) > coalesce("
            "(select max(finished_at) from ledger.erasures_finished), '-infinity'::timestamp),"
            " false)"
        ).fetchone()
    return bool(pending)


def record_erasures_finished(work_db: Warehouse | Path) -> None:
    """Every logged erasure is applied to every layer, and checked."""
    with _ledger(work_db) as con:
        con.execute("insert into ledger.erasures_finished values (?)", [datetime.now()])
