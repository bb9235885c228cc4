"""The ingestion layer of the work database: schemas `ingest` (manifest, quarantine, registry)
and `raw` (append-only history per entity, with views of the current state).

All statements are idempotent; `ensure_schema` runs at the start of every ingest.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from reentry.contract import CODE_LISTS, ENTITIES, Entity
from reentry.pseudonym import PseudonymKey, PseudonymKeyError
from reentry.store import ALIAS, Warehouse, as_warehouse, create_table

from .erasure import ensure_erasure_schema
from .registry import Registry
from .validate import SQL_TYPES

# The alias under which a scratch connection attaches the work database (ingestion, erasure).
WH = ALIAS

META_COLUMNS = (
    ("_source_id", "varchar"),
    ("_file_name", "varchar"),
    ("_export_date", "date"),
    ("_load_id", "bigint"),
    ("_line", "bigint"),
)


def raw_columns(entity: Entity) -> list[tuple[str, str]]:
    """The stored columns of a raw table: no identifying column, the pseudonym instead."""
    cols = [(c.name, SQL_TYPES[c.type]) for c in entity.columns if not c.identifying]
    if entity.has_person:
        cols += [("person_key", "varchar"), ("birth_year", "smallint")]
    return cols + list(META_COLUMNS)


def _current_view(db: str, entity: Entity) -> str:
    """Rows that are true now: the newest full snapshot, or the newest version of each key.
    (A view names its tables without the database: DuckDB resolves them in the view's own,
    under whatever name the database is opened.)"""
    return f"""
    create or replace view {db}.raw.{entity.name}__current as
    with loads as (
        select f.load_id, f.source_id, d.delivery,
               row_number() over (partition by f.source_id
                                  order by f.export_date desc, f.load_id desc) as recency
        from ingest.files f
        join ingest.deliveries d
          on d.source_id = f.source_id and d.entity = f.entity
        where f.entity = '{entity.name}' and f.status = 'loaded'
    )
    select r.*
    from raw.{entity.name} r
    join loads l on l.load_id = r._load_id
    where (l.delivery = 'full' and l.recency = 1) or l.delivery = 'incremental'
    qualify l.delivery = 'full'
         or row_number() over (partition by r._source_id, r.{entity.key}
                               order by r._export_date desc, r._load_id desc, r._line desc) = 1
    """


WRONG_KEY = (
    "this work folder was built with another pseudonym key (the check value it keeps differs); "
    "run with the key it was built with, or rebuild a new work folder from the archive with "
    "this one (README, Reliability)"
)


def bind_key(con: duckdb.DuckDBPyConnection, db: str, key: PseudonymKey, record: bool) -> None:
    """Refuse a pseudonym key other than the one database `db` was built with: the database
    keeps the key's check value (never the key), recorded at first use when `record`. Another
    key would give every person a second pseudonym, and an erasure would miss them."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'ingest' "
        "and table_name = 'key_check'",
        [db],
    ).fetchone()[0]
    if not exists:
        if not record:
            return
        con.execute(
            f"create table {db}.ingest.key_check "
            "(check_value varchar not null, recorded_at timestamp not null)"
        )
    row = con.execute(f"select check_value from {db}.ingest.key_check").fetchone()
    if row is None:
        if record:
            con.execute(
                f"insert into {db}.ingest.key_check values (?, current_timestamp)",
                [key.check_value()],
            )
    elif row[0] != key.check_value():
        raise PseudonymKeyError(WRONG_KEY)


def check_key(work_db: Warehouse | Path, key: PseudonymKey) -> None:
    """`bind_key` on a work database before a command changes anything (read-only)."""
    warehouse = as_warehouse(work_db)
    if not warehouse.exists():
        return
    with warehouse.connect(read_only=True) as con:
        bind_key(con, ALIAS, key, record=False)


def ensure_schema(con: duckdb.DuckDBPyConnection, db: str) -> None:
    """Create every ingestion table and view in database `db` if missing."""
    con.execute(f"create schema if not exists {db}.ingest")
    con.execute(f"create schema if not exists {db}.raw")
    create_table(
        con,
        db,
        f"""
        create table if not exists {db}.ingest.runs (
            run_id bigint primary key,
            started_at timestamp not null,
            finished_at timestamp,
            landing varchar not null,
            n_files_seen integer, n_loaded integer, n_skipped integer,
            n_rejected integer, n_ignored integer
        )""",
    )
    create_table(
        con,
        db,
        f"""
        create table if not exists {db}.ingest.files (
            load_id bigint primary key,
            run_id bigint not null,
            file_name varchar not null,          -- relative to the landing folder
            file_hash varchar not null,          -- sha256 of the bytes: the manifest key
            file_size bigint not null,
            source_id varchar,
            entity varchar,
            export_date date,
            layout varchar,
            delivery varchar,
            status varchar not null,             -- loaded | duplicate | rejected | ignored
            error varchar,                       -- why a file was rejected or ignored
            n_received bigint,
            n_loaded bigint,
            n_quarantined bigint,
            n_removed bigint,                    -- keys of the previous full snapshot now gone
            extra_columns varchar[],             -- header names the layout does not know
            loaded_at timestamp not null,
            n_erased bigint default 0            -- rows dropped: their person was erased
        )""",
    )
    con.execute(f"alter table {db}.ingest.files add column if not exists n_erased bigint default 0")
    con.execute(
        f"""
        create table if not exists {db}.ingest.archive (
            file_name varchar not null,          -- relative to the landing folder
            file_hash varchar not null,
            archive_name varchar not null,       -- relative to the archive folder
            file_size bigint not null,
            archived_at timestamp not null,
            deleted_at timestamp                 -- when retention removed it
        )"""
    )
    con.execute(
        f"""
        create table if not exists {db}.ingest.quarantine (
            load_id bigint not null,
            source_id varchar not null,
            entity varchar not null,
            file_name varchar not null,
            line bigint not null,
            reason varchar not null,             -- the first problem's reason code
            column_name varchar,
            problem varchar not null,            -- readable: column, reason, value
            problems struct("column" varchar, reason varchar, "value" varchar)[],
            person_key varchar,                  -- pseudonym where it could be made
            record json                          -- the row's non-identifying fields, as sent
        )"""
    )
    create_table(
        con,
        db,
        f"""
        create table if not exists {db}.ingest.sources (
            source_id varchar primary key, kind varchar, programme varchar[], name varchar,
            partner_type varchar, layout varchar, cadence_days integer
        )""",
    )
    create_table(
        con,
        db,
        f"""
        create table if not exists {db}.ingest.programmes (
            programme_id varchar primary key, name varchar not null, country varchar not null,
            start_date date not null, end_date date not null, languages varchar[] not null
        )""",
    )
    create_table(
        con,
        db,
        f"""
        create table if not exists {db}.ingest.deliveries (
            source_id varchar, entity varchar, delivery varchar,
            primary key (source_id, entity)
        )""",
    )
    for entity in ENTITIES.values():
        cols = ", ".join(f"{n} {t}" for n, t in raw_columns(entity))
        con.execute(f"create table if not exists {db}.raw.{entity.name} ({cols})")
        con.execute(_current_view(db, entity))
    ensure_erasure_schema(con, db)
    _load_report_view(con, db)


def _load_report_view(con: duckdb.DuckDBPyConnection, db: str) -> None:
    current = " union all ".join(
        f"select _load_id, count(*) as n from raw.{e}__current group by 1" for e in ENTITIES
    )
    con.execute(
        f"""
        create or replace view {db}.ingest.load_report as
        with cur as ({current}),
        reasons as (
            select load_id, map(list(reason), list(n)) as quarantined_by_reason
            from (select load_id, reason, count(*) as n
                  from ingest.quarantine group by 1, 2)
            group by 1
        )
        select f.load_id, f.file_name, f.source_id, f.entity, f.export_date, f.delivery,
               f.status, f.error, f.n_received, f.n_loaded, f.n_quarantined,
               coalesce(cur.n, 0) as n_current,
               f.n_loaded - coalesce(cur.n, 0) as n_superseded,
               f.n_removed, f.n_erased, r.quarantined_by_reason, f.extra_columns, f.loaded_at
        from ingest.files f
        left join cur on cur._load_id = f.load_id
        left join reasons r on r.load_id = f.load_id
        """
    )


def store_code_lists(con: duckdb.DuckDBPyConnection, db: str) -> None:
    """The contract's code lists as `ingest.code_lists` (list, code, position), replaced: what
    dbt's `accepted_codes` test and its `code_list` macro read."""
    con.execute(f"create schema if not exists {db}.ingest")
    create_table(
        con,
        db,
        f"""
        create or replace table {db}.ingest.code_lists (
            list varchar, code varchar, position integer, primary key (list, code)
        )""",
    )
    con.executemany(
        f"insert into {db}.ingest.code_lists values (?, ?, ?)",
        [
            [name, code, position]
            for name, codes in CODE_LISTS.items()
            for position, code in enumerate(codes, start=1)
        ],
    )


def store_registry(con: duckdb.DuckDBPyConnection, db: str, registry: Registry) -> None:
    """Replace the registry snapshot the views and reports join to, and the code lists."""
    store_code_lists(con, db)
    con.execute(f"delete from {db}.ingest.programmes")
    con.execute(f"delete from {db}.ingest.sources")
    con.execute(f"delete from {db}.ingest.deliveries")
    con.executemany(
        f"insert into {db}.ingest.programmes values (?, ?, ?, ?, ?, ?)",
        [
            [p.id, p.name, p.country, p.start, p.end, list(p.languages)]
            for p in registry.programmes.values()
        ],
    )
    con.executemany(
        f"insert into {db}.ingest.sources values (?, ?, ?, ?, ?, ?, ?)",
        [
            [s.id, s.kind, list(s.programme), s.name, s.partner_type, s.layout, s.cadence_days]
            for s in registry.sources.values()
        ],
    )
    con.executemany(
        f"insert into {db}.ingest.deliveries values (?, ?, ?)",
        [
            [s.id, e, s.delivery_of(e)]
            for s in registry.sources.values()
            for e in ENTITIES
            if ENTITIES[e].kind == s.kind
        ],
    )
