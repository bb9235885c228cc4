"""Copying the public marts of the work database into the researchers' database file."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

# Researchers' clients lag behind the pipeline's DuckDB: write a file any DuckDB >= 1.0 opens.
STORAGE_VERSION = "v1.0.0"


_DICTIONARY_COLUMNS = {
    "table_name": "Published table in the schema marts.",
    "table_description": "What one row of the table is.",
    "column_index": "Position of the column in the table.",
    "column_name": "Column name.",
    "data_type": "DuckDB data type.",
    "column_description": "What the column holds.",
}


def _sql_text(value: str | None) -> str:
    return "'" + (value or "").replace("'", "''") + "'"


def _copy_dictionary(con: duckdb.DuckDBPyConnection) -> None:
    """Carry dbt's descriptions along: as comments, and as the table marts.data_dictionary."""
    for table, comment in con.execute(
        "select table_name, comment from duckdb_tables() "
        "where database_name = 'work' and schema_name = 'marts'").fetchall():
        con.execute(f'comment on table pub.marts."{table}" is {_sql_text(comment)}')
    columns = con.execute(
        "select table_name, column_name, data_type, comment, column_index "
        "from duckdb_columns() where database_name = 'work' and schema_name = 'marts' "
        "and table_name in (select table_name from duckdb_tables() "
        "                   where database_name = 'work' and schema_name = 'marts')"
    ).fetchall()
    for table, column, _type, comment, _index in columns:
        con.execute(
            f'comment on column pub.marts."{table}"."{column}" is {_sql_text(comment)}'
        )
    con.execute(
        """
        create table pub.marts.data_dictionary as
        select t.table_name, t.comment as table_description, c.column_index,
               c.column_name, c.data_type, c.comment as column_description
        from duckdb_tables() t
        join duckdb_columns() c using (database_name, schema_name, table_name)
        where t.database_name = 'work' and t.schema_name = 'marts'
        order by t.table_name, c.column_index
        """
    )
    con.execute("comment on table pub.marts.data_dictionary is "
                "'Every published table and column with its description.'")
    for column, text in _DICTIONARY_COLUMNS.items():
        con.execute(f"comment on column pub.marts.data_dictionary.{column} is {_sql_text(text)}")


def publish(work_db: Path, published_db: Path) -> list[str]:
    """Write the `marts` schema into a new file and move it onto `published_db` atomically."""
    published_db = Path(published_db)
    published_db.parent.mkdir(parents=True, exist_ok=True)
    staging = published_db.with_name(published_db.name + ".new")
    staging.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"attach '{work_db}' as work (read_only)")
        con.execute(f"attach '{staging}' as pub (storage_version '{STORAGE_VERSION}')")
        con.execute("create schema pub.marts")
        tables = [r[0] for r in con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = 'work' and schema_name = 'marts' order by 1").fetchall()]
        for table in tables:
            con.execute(f'create table pub.marts."{table}" as select * from work.marts."{table}"')
        _copy_dictionary(con)
        con.execute("checkpoint pub")
        con.execute("detach pub")
    finally:
        con.close()
    os.replace(staging, published_db)
    return tables
