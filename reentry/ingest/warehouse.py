"""The ingestion layer of the work database: schemas `ingest` (manifest, quarantine, registry)
and `raw` (append-only history per entity, with views of the current state).

All statements are idempotent; `ensure_schema` runs at the start of every ingest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from reentry.contract import CODE_LISTS, ENTITIES, Entity
from reentry.pseudonym import PseudonymKey, PseudonymKeyError
from reentry.store import ALIAS, Warehouse, as_warehouse, create_table, is_lake, without_keys

from .erasure import erasure_schema
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


def _load_report_view(db: str) -> str:
    current = " union all ".join(
        f"select _load_id, count(*) as n from raw.{e}__current group by 1" for e in ENTITIES
    )
    return f"""
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


def _schema(db: str) -> list[str]:
    """Every ingestion table and view of database `db`, created if missing (idempotent)."""
    statements = [
        f"create schema if not exists {db}.ingest",
        f"create schema if not exists {db}.raw",
        f"""
        create table if not exists {db}.ingest.runs (
            run_id bigint primary key,
            started_at timestamp not null,
            finished_at timestamp,
            landing varchar not null,
            n_files_seen integer, n_loaded integer, n_skipped integer,
            n_rejected integer, n_ignored integer
        )""",
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
        f"alter table {db}.ingest.files add column if not exists n_erased bigint default 0",
        f"""
        create table if not exists {db}.ingest.archive (
            file_name varchar not null,          -- relative to the landing folder
            file_hash varchar not null,
            archive_name varchar not null,       -- relative to the archive folder
            file_size bigint not null,
            archived_at timestamp not null,
            deleted_at timestamp                 -- when retention removed it
        )""",
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
        )""",
        f"""
        create table if not exists {db}.ingest.sources (
            source_id varchar primary key, kind varchar, programme varchar[], name varchar,
            partner_type varchar, layout varchar, cadence_days integer
        )""",
        f"""
        create table if not exists {db}.ingest.programmes (
            programme_id varchar primary key, name varchar not null, country varchar not null,
            start_date date not null, end_date date not null, languages varchar[] not null
        )""",
        f"""
        create table if not exists {db}.ingest.deliveries (
            source_id varchar, entity varchar, delivery varchar,
            primary key (source_id, entity)
        )""",
    ]
    for entity in ENTITIES.values():
        cols = ", ".join(f"{n} {t}" for n, t in raw_columns(entity))
        statements.append(f"create table if not exists {db}.raw.{entity.name} ({cols})")
        statements.append(_current_view(db, entity))
    statements += erasure_schema(db)
    statements.append(_load_report_view(db))
    statements.append(
        f"create table if not exists {db}.ingest.counters (name varchar not null, value bigint)"
    )
    # A work database from before the counters starts each at its largest number.
    statements += [
        f"""insert into {db}.ingest.counters
            select '{name}', coalesce(max({column}), 0) from {db}.{table}
            where not exists (select 1 from {db}.ingest.counters where name = '{name}')"""
        for name, (column, table) in COUNTERS.items()
    ]
    return statements


# The counters of next_id, and the column each numbers.
COUNTERS = {"run": ("run_id", "ingest.runs"), "load": ("load_id", "ingest.files")}


def ensure_schema(con: duckdb.DuckDBPyConnection, db: str) -> None:
    """Create every ingestion table and view in database `db` if missing. The statements'
    checksum is kept (`ingest.schema_version`): when it is the same, nothing is run, so that
    ingestions starting beside each other on the lake do not rewrite the same views (each
    rewrite a commit that conflicts with the others')."""
    statements = [without_keys(ddl, is_lake(con, db)) for ddl in _schema(db)]
    digest = hashlib.sha256("\n;\n".join(statements).encode("utf-8")).hexdigest()
    known = con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'ingest' "
        "and table_name = 'schema_version'",
        [db],
    ).fetchone()[0]
    if (
        known
        and con.execute(
            f"select count(*) from {db}.ingest.schema_version where digest = ?", [digest]
        ).fetchone()[0]
    ):
        return
    for ddl in statements:
        con.execute(ddl)
    con.execute(
        f"create table if not exists {db}.ingest.schema_version "
        "(digest varchar not null, applied_at timestamp not null)"
    )
    con.execute(f"delete from {db}.ingest.schema_version")
    con.execute(f"insert into {db}.ingest.schema_version values (?, now()::timestamp)", [digest])


def next_id(con: duckdb.DuckDBPyConnection, db: str, name: str) -> int:
    """The next number of the counter `name` (`ingest.counters`), inside the caller's
    transaction. Its update makes two writers that take a number at once conflict, so one
    of them takes the next number: numbers are unique and follow the order of the commits
    (DuckLake has no sequences, and `max(id) + 1` is not safe with several writers)."""
    con.execute(f"update {db}.ingest.counters set value = value + 1 where name = ?", [name])
    row = con.execute(f"select value from {db}.ingest.counters where name = ?", [name]).fetchone()
    if row is None:
        raise KeyError(f"no counter {name!r} in {db}.ingest.counters")
    return row[0]


def _same_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[list]) -> bool:
    """Whether `table` exists and holds exactly `rows` (in any order)."""
    try:
        held = con.execute(f"select * from {table}").fetchall()
    except duckdb.CatalogException:
        return False
    return sorted(map(repr, map(tuple, rows))) == sorted(map(repr, held))


def _replace_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[list]) -> None:
    """`table` holds `rows` afterwards; left alone when it already does (on the lake, each
    rewrite is a commit that would conflict with another ingestion starting beside it)."""
    if _same_rows(con, table, rows):
        return
    con.execute(f"delete from {table}")
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"insert into {table} values ({marks})", rows)


def store_code_lists(con: duckdb.DuckDBPyConnection, db: str) -> None:
    """The contract's code lists as `ingest.code_lists` (list, code, position): what dbt's
    `accepted_codes` test and its `code_list` macro read."""
    con.execute(f"create schema if not exists {db}.ingest")
    create_table(
        con,
        db,
        f"""
        create table if not exists {db}.ingest.code_lists (
            list varchar, code varchar, position integer, primary key (list, code)
        )""",
    )
    _replace_rows(
        con,
        f"{db}.ingest.code_lists",
        [
            [name, code, position]
            for name, codes in CODE_LISTS.items()
            for position, code in enumerate(codes, start=1)
        ],
    )


def store_registry(con: duckdb.DuckDBPyConnection, db: str, registry: Registry) -> None:
    """Replace the registry snapshot the views and reports join to, and the code lists."""
    store_code_lists(con, db)
    _replace_rows(
        con,
        f"{db}.ingest.programmes",
        [
            [p.id, p.name, p.country, p.start, p.end, list(p.languages)]
            for p in registry.programmes.values()
        ],
    )
    _replace_rows(
        con,
        f"{db}.ingest.sources",
        [
            [s.id, s.kind, list(s.programme), s.name, s.partner_type, s.layout, s.cadence_days]
            for s in registry.sources.values()
        ],
    )
    _replace_rows(
        con,
        f"{db}.ingest.deliveries",
        [
            [s.id, e, s.delivery_of(e)]
            for s in registry.sources.values()
            for e in ENTITIES
            if ENTITIES[e].kind == s.kind
        ],
    )
