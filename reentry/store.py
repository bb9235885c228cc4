"""The one way to open the warehouse (the work database): an embedded DuckDB file, or DuckLake.

- `file` (the default): WORKDIR/work/warehouse.duckdb, one writer at a time.
- `lake`: DuckLake, DuckDB's lakehouse format. Its catalog is a PostgreSQL database
  (REENTRY_LAKE_CATALOG, a libpq connection string) or, for one process, a DuckLake catalog
  file (a path ending in .ducklake); its data are Parquet files under REENTRY_LAKE_DATA. Many
  processes read and write it with snapshot isolation.

Every connection attaches the warehouse as `wh` and makes it the default database, so SQL
names tables as `schema.table` (or `wh.schema.table`) on either backend. Nothing else in the
project knows which backend it is on.

The DuckLake and PostgreSQL extensions come from exact-version wheels (duckdb-extension-*),
installed once into an extension folder: they cannot be downloaded here.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

T = TypeVar("T")

ALIAS = "wh"
BACKENDS = ("file", "lake")
_LAKE_EXTENSIONS = ("ducklake", "postgres")
# A libpq password, as key=value (quoted or not) or in a URI's user information.
_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)", re.IGNORECASE)
# What attaching a catalog that holds no lake yet says, read-only.
_NO_LAKE = "does not exist - and creating a new DuckLake is explicitly disabled"


def _hide_passwords(text: str) -> str:
    return _URI_PASSWORD.sub(r"\1***\3", _PASSWORD.sub(r"\1***", text))


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def install_extensions(extension_dir: Path) -> None:
    """Put the DuckLake and PostgreSQL extensions of the installed wheels into
    `extension_dir` (once; a later call finds them there)."""
    import duckdb_extensions

    extension_dir.mkdir(parents=True, exist_ok=True)
    version_dir = extension_dir / duckdb.__version__
    con = duckdb.connect(config={"extension_directory": str(extension_dir)})
    try:
        for name in _LAKE_EXTENSIONS:
            if not any(version_dir.glob(f"*/{name}.duckdb_extension")):
                duckdb_extensions.import_extension(name, force_install=True, con=con)
    finally:
        con.close()


class WarehouseUnreachable(Exception):
    """The lake's catalog cannot be reached (server stopped, wrong password)."""


class WarehouseTooNew(Exception):
    """The work database's storage is newer than this DuckDB reads."""


@dataclass(frozen=True)
class Warehouse:
    """Where the warehouse is, and how to open it."""

    backend: str = "file"
    path: Path | None = None  # file: the DuckDB file
    catalog: str | None = None  # lake: a libpq connection string, or a .ducklake file
    data_path: str | None = None  # lake: the folder (or object store prefix) of the data
    extension_dir: Path | None = None  # lake: where the extensions are installed

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.backend == "file" and self.path is None:
            raise ValueError("the file backend needs the path of the work database")
        if self.backend == "lake" and not (self.catalog and self.data_path):
            raise ValueError(
                "the lake backend needs REENTRY_LAKE_CATALOG (a PostgreSQL connection string "
                "or a .ducklake file) and REENTRY_LAKE_DATA (the data folder)"
            )

    @property
    def is_lake(self) -> bool:
        return self.backend == "lake"

    @property
    def attach_path(self) -> str:
        """What ATTACH takes: the file, or `ducklake:postgres:<dsn>` / `ducklake:<file>`."""
        if not self.is_lake:
            return str(self.path)
        if self.catalog.endswith(".ducklake"):
            return f"ducklake:{self.catalog}"
        return f"ducklake:postgres:{self.catalog}"

    def describe(self) -> str:
        """For messages: the file, or the catalog without its password."""
        if not self.is_lake:
            return str(self.path)
        catalog = _hide_passwords(self.catalog)
        return f"DuckLake (catalog {catalog}, data {self.data_path})"

    def exists(self) -> bool:
        """Whether there is a warehouse yet (a lake's catalog is asked)."""
        if not self.is_lake:
            return Path(self.path).exists()
        if self.catalog.endswith(".ducklake") and not Path(self.catalog).exists():
            return False
        try:
            with self.connect(read_only=True) as con:
                return bool(
                    con.execute(
                        "select count(*) from duckdb_schemas() where database_name = ?", [ALIAS]
                    ).fetchone()[0]
                )
        except WarehouseUnreachable as exc:
            if _NO_LAKE in str(exc):  # the catalog is reachable and holds no lake yet
                return False
            raise  # a stopped server, a wrong password: never "nothing there"

    def attach(self, con: duckdb.DuckDBPyConnection, alias: str = ALIAS, read_only=False) -> None:
        """Attach the warehouse to `con` as `alias`."""
        options = []
        if read_only:
            options.append("read_only")
        if self.is_lake:
            install_extensions(self.extension_dir)
            con.execute("load ducklake")
            con.execute("load postgres")
            options.append(f"data_path {_sql_text(str(self.data_path))}")
            if not read_only:
                # Every row in a Parquet file, none in the catalog's own tables: an erasure
                # then deletes files, and no row lingers in PostgreSQL.
                options.append("data_inlining_row_limit 0")
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        clause = f" ({', '.join(options)})" if options else ""
        statement = f"attach {_sql_text(self.attach_path)} as {alias}{clause}"
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                con.execute(statement)
                return
            except duckdb.Error as exc:
                if "Trying to read a database file with version number" in str(exc):
                    raise WarehouseTooNew(
                        f"{self.describe()} was written by a newer DuckDB than this one "
                        f"({duckdb.__version__}); rebuild the work folder from its archive "
                        '(README, "The warehouse on DuckLake")'
                    ) from None
                # Two processes attaching a new lake at once both create its catalog's
                # tables; the one that lost finds them made when it tries again.
                if "initialize DuckLake" in str(exc) and attempt < CONFLICT_ATTEMPTS:
                    time.sleep(random.uniform(0.05, 0.3))
                    continue
                if not self.is_lake:
                    raise
                # DuckDB's message quotes the connection string, password and all.
                text = str(exc).strip()
                first = _hide_passwords(text.splitlines()[0] if text else "")
                raise WarehouseUnreachable(
                    f"cannot open {self.describe()}: {type(exc).__name__}: {first[:600]}"
                ) from None

    def config(self, extra: dict | None = None) -> dict:
        """A connection's configuration (the extension folder for the lake)."""
        config = dict(extra or {})
        if self.is_lake:
            config.setdefault("extension_directory", str(self.extension_dir))
            config.setdefault("autoinstall_known_extensions", False)
            config.setdefault("autoload_known_extensions", False)
        return config

    @property
    def scratch_dir(self) -> Path:
        """Where a connection may spill (beside the file, or in the work folder)."""
        return Path(self.path).parent if self.path else Path(tempfile.gettempdir())

    def open(self, read_only: bool = False, config: dict | None = None):
        """A connection with the warehouse attached as `wh` and in use; the caller closes it."""
        con = duckdb.connect(config=self.config(config))
        try:
            self.attach(con, ALIAS, read_only)
            con.execute(f"use {ALIAS}")
        except BaseException:
            con.close()
            raise
        return con

    @contextlib.contextmanager
    def connect(
        self, read_only: bool = False, config: dict | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """`open`, closed at the end of the block."""
        con = self.open(read_only, config)
        try:
            yield con
        finally:
            con.close()

    def purge_history(self) -> str:
        """Leave no copy of deleted rows behind (after an erasure), and say how.

        file: the database is rewritten into a fresh file and moved into place (free blocks
        of the old file would keep deleted rows). lake: every snapshot but the newest is
        expired and every data file no snapshot needs is deleted (an older snapshot, or a
        file replaced by a deletion, would keep them)."""
        if not self.is_lake:
            path = Path(self.path)
            fresh = path.with_name(path.name + ".compact")
            fresh.unlink(missing_ok=True)
            con = duckdb.connect()
            try:
                con.execute(f"attach {_sql_text(str(path))} as old (read_only)")
                con.execute(f"attach {_sql_text(str(fresh))} as fresh")
                con.execute("copy from database old to fresh")
                con.execute("checkpoint fresh")
            except BaseException:
                con.close()
                fresh.unlink(missing_ok=True)
                raise
            con.close()
            os.replace(fresh, path)
            return "the work database is rewritten into a fresh file"
        with self.connect() as con:
            # Files holding deleted rows are rewritten without them (a delete in the lake
            # only marks rows in a delete file), then no older snapshot may reach the old ones.
            # (CALL: a maintenance function read inside a SELECT need not run to its end.)
            name = _sql_text(ALIAS)
            con.execute(f"call ducklake_rewrite_data_files({name}, delete_threshold => 0)")
            expired = len(
                con.execute(
                    f"call ducklake_expire_snapshots({name}, older_than => now())"
                ).fetchall()
            )
            deleted = len(
                con.execute(
                    f"call ducklake_cleanup_old_files({name}, cleanup_all => true)"
                ).fetchall()
            )
            # And files no snapshot ever had: written by a writer killed before its commit.
            orphans = len(
                con.execute(
                    f"call ducklake_delete_orphaned_files({name}, cleanup_all => true)"
                ).fetchall()
            )
        return (
            f"{expired} older lake snapshots expired, {deleted} data files deleted, "
            f"{orphans} left by stopped writers deleted"
        )

    def checkpoint(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write the file's log into it (the lake commits each transaction as it ends)."""
        if not self.is_lake:
            con.execute(f"checkpoint {ALIAS}")


_PRIMARY_KEY = re.compile(r",?\s*primary key(\s*\([^)]*\))?", re.IGNORECASE)


def is_lake(con: duckdb.DuckDBPyConnection, db: str) -> bool:
    """Whether database `db` of `con` is a DuckLake."""
    row = con.execute(
        "select type from duckdb_databases() where database_name = ?", [db]
    ).fetchone()
    return bool(row) and row[0] == "ducklake"


def without_keys(ddl: str, lake: bool) -> str:
    """A `create table` for the backend: a lake keeps no primary keys, so there they are
    left out, and the code keeps its keys unique itself (it never relies on a conflict)."""
    return _PRIMARY_KEY.sub("", ddl) if lake else ddl


def create_table(con: duckdb.DuckDBPyConnection, db: str, ddl: str) -> None:
    """Run a `create table` in database `db` (`without_keys` on a lake)."""
    con.execute(without_keys(ddl, is_lake(con, db)))


def as_warehouse(target: Warehouse | Path | str) -> Warehouse:
    """A warehouse, or the path of an embedded one (the tests' and tools' shorthand)."""
    return target if isinstance(target, Warehouse) else Warehouse("file", path=Path(target))


class WriterConflict(Exception):
    """A transaction kept conflicting with other writers' commits (the lake)."""


# How often a transaction is tried again when another writer's commit conflicted with it.
CONFLICT_ATTEMPTS = 60


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, if a transaction is still open (a failed commit has already ended it)."""
    with contextlib.suppress(duckdb.TransactionException):
        con.execute("rollback")


def atomically(con: duckdb.DuckDBPyConnection, work: Callable[[], T], what: str) -> T:
    """`work()` in one transaction, committed. On the lake several writers commit at once
    (each its own appends), and DuckLake refuses a commit that conflicts with one made since
    the transaction began (both changed one table, both created one, the counter rows of
    `next_id`): then the whole of `work` runs again, on the newer snapshot, after a short
    random pause. The embedded file has one writer and never conflicts. `what` names the work
    in the error after CONFLICT_ATTEMPTS conflicts."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        con.execute("begin transaction")
        try:
            result = work()
            con.execute("commit")
            return result
        except duckdb.TransactionException as exc:
            _rollback(con)
            if "conflict" not in str(exc).lower():
                raise
        except BaseException:
            _rollback(con)
            raise
        time.sleep(random.uniform(0.02, 0.2) * min(attempt, 10))
    raise WriterConflict(
        f"{what}: {CONFLICT_ATTEMPTS} attempts conflicted with other writers of the warehouse; "
        "run again when fewer write at once"
    )
