"""Copying the public marts of the work database into the researchers' database file."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

# Researchers' clients lag behind the pipeline's DuckDB: write a file any DuckDB >= 1.0 opens.
STORAGE_VERSION = "v1.0.0"


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
        con.execute("checkpoint pub")
        con.execute("detach pub")
    finally:
        con.close()
    os.replace(staging, published_db)
    return tables
