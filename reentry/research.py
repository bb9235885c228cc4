"""Research sessions on the published database: read-only, sealed against the file system."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import duckdb


class NotPublished(Exception):
    """There is no published database in the work folder yet."""


def open_research(published_db: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection with external access disabled and the configuration locked:
    a query can read the marts and nothing else (no files, no ATTACH, no COPY, no extensions)."""
    if not Path(published_db).exists():
        raise NotPublished(f"no published database at {published_db}: run `reentry run` first")
    con = duckdb.connect(str(published_db), read_only=True,
                         config={"enable_external_access": False})
    con.execute("set lock_configuration = true")
    return con


def write_result(con: duckdb.DuckDBPyConnection, query: str, fmt: str, out: TextIO) -> None:
    """Run one statement and write its result as a table, CSV or JSON lines."""
    relation = con.sql(query)
    if relation is None:
        return
    if fmt == "table":
        out.write(str(relation.pl()) + "\n")
    elif fmt == "csv":
        out.write(relation.pl().write_csv())
    else:
        out.write(relation.pl().write_ndjson())


def statements(lines: Iterable[str]) -> Iterable[str]:
    """Group input lines into statements ending with ';' (dot commands stand alone)."""
    buffer: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not buffer and stripped.startswith("."):
            yield stripped
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            yield "\n".join(buffer).strip().rstrip(";")
            buffer = []
    if "".join(buffer).strip():
        yield "\n".join(buffer).strip().rstrip(";")


def _dot(con: duckdb.DuckDBPyConnection, command: str, out: TextIO) -> bool:
    """Dot commands of the shell; False to quit."""
    word, _, arg = command.partition(" ")
    if word in (".quit", ".exit"):
        return False
    if word == ".tables":
        write_result(con, "select table_name, comment from duckdb_tables() order by 1", "table",
                     out)
    elif word == ".schema" and arg:
        con_query = ("select column_name, data_type, column_description from "
                     "marts.data_dictionary where table_name = ? order by column_index")
        out.write(str(con.execute(con_query, [arg.strip()]).pl()) + "\n")
    else:
        out.write(".tables | .schema TABLE | .quit\n")
    return True


def shell(con: duckdb.DuckDBPyConnection, stdin: TextIO = sys.stdin,
          out: TextIO = sys.stdout) -> None:
    """A small interactive SQL shell: statements end with ';'."""
    interactive = stdin.isatty()
    if interactive:
        out.write("reentry research shell (read-only). Statements end with ';'. "
                  ".tables, .schema TABLE, .quit\n")

    def lines() -> Iterable[str]:
        while True:
            if interactive:
                out.write("reentry> ")
                out.flush()
            line = stdin.readline()
            if not line:
                return
            yield line.rstrip("\n")

    for statement in statements(lines()):
        if statement.startswith("."):
            if not _dot(con, statement, out):
                return
            continue
        try:
            write_result(con, statement, "table", out)
        except duckdb.Error as exc:
            out.write(f"error: {exc}\n")
