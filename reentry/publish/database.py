"""Publishing the public marts of the work database as the researchers' database file.

The new file is written beside the published one, checkpointed, and moved onto it with an
atomic rename; the version it replaces is kept (hard link) as `warehouse.previous.duckdb` for
rollback. A reader holding the old file open keeps reading the old version undisturbed, and
nothing here ever opens the published file for writing, so readers never block a publish.
Person-level keys are re-keyed with the release's research key, so the published file joins
neither with the internal warehouse nor with another release.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from reentry.files import sha256_file
from reentry.pseudonym import PseudonymKey, hmac_sql
from reentry.store import Warehouse, as_warehouse

# Researchers' clients lag behind the pipeline's DuckDB: write a file any DuckDB >= 1.0 opens.
STORAGE_VERSION = "v1.0.0"
# Identifiers derived from the internal pseudonym or from source record numbers.
REKEYED_COLUMNS = ("person_key", "release_id", "placement_id")
_REKEYED_NOTE = (
    " Published: re-keyed with this release's research key (HMAC), so it joins "
    "tables of this release only."
)
_DICTIONARY_COLUMNS = {
    "table_name": "Published table in the schema marts.",
    "table_description": "What one row of the table is.",
    "column_index": "Position of the column in the table.",
    "column_name": "Column name.",
    "data_type": "DuckDB data type.",
    "column_description": "What the column holds.",
}


@dataclass(frozen=True)
class Published:
    """What a publish wrote."""

    path: Path
    tables: list[str]
    data_version: str  # sha256 of the published file
    previous: Path | None


def previous_path(published_db: Path) -> Path:
    """Where the version before the current one is kept."""
    return published_db.with_name(published_db.stem + ".previous" + published_db.suffix)


def _sql_text(value: str | None) -> str:
    return "'" + (value or "").replace("'", "''") + "'"


def _copy_table(con: duckdb.DuckDBPyConnection, table: str, key: PseudonymKey) -> None:
    columns = [
        r[0]
        for r in con.execute(
            "select column_name from duckdb_columns() where database_name = 'work' "
            "and schema_name = 'marts' and table_name = ? order by column_index",
            [table],
        ).fetchall()
    ]
    select = ", ".join(
        f'{hmac_sql(f"{c}::varchar")} as "{c}"' if c in REKEYED_COLUMNS else f'"{c}"'
        for c in columns
    )
    con.execute(
        f'create table pub.marts."{table}" as select {select} from work.marts."{table}"',
        key.pads() if set(columns) & set(REKEYED_COLUMNS) else None,
    )


def _copy_dictionary(con: duckdb.DuckDBPyConnection) -> None:
    """Carry dbt's descriptions along: as comments, and as the table marts.data_dictionary."""
    for table, comment in con.execute(
        "select table_name, comment from duckdb_tables() "
        "where database_name = 'work' and schema_name = 'marts'"
    ).fetchall():
        con.execute(f'comment on table pub.marts."{table}" is {_sql_text(comment)}')
    for table, column, comment in con.execute(
        "select table_name, column_name, comment from duckdb_columns() "
        "where database_name = 'work' and schema_name = 'marts' "
        "and table_name in (select table_name from duckdb_tables() "
        "                   where database_name = 'work' and schema_name = 'marts')"
    ).fetchall():
        text = (comment or "") + (_REKEYED_NOTE if column in REKEYED_COLUMNS else "")
        con.execute(f'comment on column pub.marts."{table}"."{column}" is {_sql_text(text)}')
    con.execute(
        """
        create table pub.marts.data_dictionary as
        select t.table_name, t.comment as table_description, c.column_index,
               c.column_name, c.data_type, c.comment as column_description
        from duckdb_tables() t
        join duckdb_columns() c using (database_name, schema_name, table_name)
        where t.database_name = 'pub' and t.schema_name = 'marts'
        order by t.table_name, c.column_index
        """
    )
    con.execute(
        "comment on table pub.marts.data_dictionary is "
        "'Every published table and column with its description.'"
    )
    for column, text in _DICTIONARY_COLUMNS.items():
        con.execute(f"comment on column pub.marts.data_dictionary.{column} is {_sql_text(text)}")


@contextmanager
def staged_database(
    target: Path, suffix: str, config: dict | None = None
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """An in-memory connection and a fresh path beside `target` for a new database file that
    the caller then moves into place; if the block fails, the half-written file is removed."""
    staging = target.with_name(target.name + suffix)
    staging.unlink(missing_ok=True)
    con = duckdb.connect(config=config or {})
    try:
        yield con, staging
    except BaseException:
        con.close()
        staging.unlink(missing_ok=True)
        raise
    con.close()


@dataclass(frozen=True)
class Staged:
    """A new researchers' database written beside the published one, not yet in its place."""

    path: Path
    tables: list[str]
    data_version: str  # sha256 of the file
    lake_snapshot: int | None = None  # the lake's snapshot the marts were read from


def staging_path(published_db: Path) -> Path:
    """Where a new version is written before it replaces the published one."""
    return published_db.with_name(published_db.name + ".new")


def stage(work_db: Warehouse | Path, published_db: Path, research_key: PseudonymKey) -> Staged:
    """Write the `marts` schema of `work_db` into a new file beside `published_db`."""
    published_db = Path(published_db)
    published_db.parent.mkdir(parents=True, exist_ok=True)
    warehouse = as_warehouse(work_db)
    with staged_database(published_db, ".new", warehouse.config()) as (con, staging):
        warehouse.attach(con, "work", read_only=True)
        con.execute(f"attach '{staging}' as pub (storage_version '{STORAGE_VERSION}')")
        # One transaction: every mart read from one snapshot of the lake (its number kept).
        con.execute("begin transaction")
        snapshot = (
            con.execute("select id from work.current_snapshot()").fetchone()[0]
            if warehouse.is_lake
            else None
        )
        con.execute("create schema pub.marts")
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'work' and schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        for table in tables:
            _copy_table(con, table, research_key)
        _copy_dictionary(con)
        con.execute("commit")
        con.execute("checkpoint pub")
        con.execute("detach pub")
    _sync(staging)
    return Staged(staging, tables, sha256_file(staging), snapshot)


def _sync(path: Path) -> None:
    """Flush a file, or a folder's entries, to the disk (a rename is durable only then)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_into_place(staged: Staged, published_db: Path, keep_previous: bool = True) -> Published:
    """Move a staged version onto `published_db` atomically. The version it replaces is kept
    as `warehouse.previous.duckdb`, unless `keep_previous` is false (it may hold a person
    erased since): then no previous version is kept at all."""
    published_db = Path(published_db)
    previous = previous_path(published_db)
    kept = None
    if published_db.exists() and keep_previous:
        link = previous.with_name(previous.name + ".new")
        link.unlink(missing_ok=True)
        os.link(published_db, link)
        os.replace(link, previous)
        kept = previous
    elif not keep_previous:
        previous.unlink(missing_ok=True)
    os.replace(staged.path, published_db)
    _sync(published_db.parent)
    return Published(published_db, staged.tables, staged.data_version, kept)
