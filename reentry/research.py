"""Research sessions on the published database: read-only, sealed against the file system.

A session's unqualified names are the marts (`select * from releases`). Table results are
drawn by DuckDB's own box renderer with every column and up to MAX_ROWS rows (the shell's
`.maxrows` changes it); in an interactive shell a result taller or wider than the terminal
goes through a pager (`$PAGER`, else `less -S`: arrow keys scroll sideways)."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import duckdb

DEFAULT_SCHEMA = "marts"
MAX_ROWS = 1000  # rows a table result shows
_WIDE = 1_000_000  # no column is hidden and no cell cut for the width of a screen
HISTORY_ENV = "REENTRY_HISTORY"
PROMPT, CONTINUATION = "reentry> ", "   ...> "
HELP = """\
.tables            every table of the published database, with rows and description
.schema [TABLE]    the table's definition (CREATE TABLE), each column with its description
.describe TABLE    the table's description, rows, and each column's type and description
.maxrows [N]       rows a result shows (now {max_rows})
.help              this list
.quit              leave (or Ctrl-D)
Statements end with ';' and may span lines. Unqualified names are the marts:
select * from recidivism_effects where cohort = 'all';
"""


class NotPublished(Exception):
    """There is no published database in the work folder yet."""


def open_research(published_db: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection with external access disabled and the configuration locked:
    a query can read the marts and nothing else (no files, no ATTACH, no COPY, no extensions).
    The default schema is `marts`, set before the lock."""
    if not Path(published_db).exists():
        raise NotPublished(f"no published database at {published_db}: run `reentry run` first")
    con = duckdb.connect(
        str(published_db), read_only=True, config={"enable_external_access": False}
    )
    try:
        [(has_marts,)] = con.execute(
            "select count(*) > 0 from duckdb_schemas() where database_name = current_database() "
            "and schema_name = ?",
            [DEFAULT_SCHEMA],
        ).fetchall()
        if has_marts:
            con.execute(f"set schema = '{DEFAULT_SCHEMA}'")
        con.execute("set lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def schema_copy(published_db: Path, target: Path) -> int:
    """An empty copy of the published database at `target`: its schemas, tables, column
    types and descriptions, and no row (what `dbt docs generate` reads for its catalog, so
    that the docs site describes the published tables without touching the file researchers
    read). Returns the number of tables."""
    con = duckdb.connect(str(target))
    try:
        con.execute(f"attach {_literal(str(published_db))} as published (read_only)")
        tables = con.execute(
            "select schema_name, table_name, sql, comment from duckdb_tables() "
            "where database_name = 'published' order by schema_name, table_name"
        ).fetchall()
        columns = con.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns() "
            "where database_name = 'published' and comment is not null"
        ).fetchall()
        con.execute("detach published")
        for schema in sorted({t[0] for t in tables}):
            con.execute(f"create schema if not exists {_quote(schema)}")
        for schema, table, sql, comment in tables:
            con.execute(sql)
            if comment:
                con.execute(
                    f"comment on table {_quote(schema)}.{_quote(table)} is {_literal(comment)}"
                )
        for schema, table, column, comment in columns:
            con.execute(
                f"comment on column {_quote(schema)}.{_quote(table)}.{_quote(column)} "
                f"is {_literal(comment)}"
            )
    finally:
        con.close()
    return len(tables)


def render(relation: duckdb.DuckDBPyRelation, max_rows: int = MAX_ROWS) -> str:
    """A result as DuckDB draws it: every column, cells in full, at most `max_rows` rows (the
    footer then says how many there are)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        relation.show(max_rows=max_rows, max_width=_WIDE, max_col_width=_WIDE)
    return buffer.getvalue()


def write_result(
    con: duckdb.DuckDBPyConnection, query: str, fmt: str, out: TextIO, max_rows: int = MAX_ROWS
) -> None:
    """Run one statement and write its result as a table, CSV or JSON lines."""
    relation = con.sql(query)
    if relation is None:
        return
    if fmt == "table":
        out.write(render(relation, max_rows))
    elif fmt == "csv":
        out.write(relation.pl().write_csv())
    else:
        out.write(relation.pl().write_ndjson())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _resolve(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, str] | None:
    """(schema, table) of a table named `table` or `schema.table` (the marts first)."""
    name = name.strip().rstrip(";").strip()
    schema, _, table = name.rpartition(".")
    rows = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() and lower(table_name) = lower(?) "
        "and (? = '' or lower(schema_name) = lower(?)) "
        "order by schema_name <> ?, schema_name",
        [table.strip('"'), schema.strip('"'), schema.strip('"'), DEFAULT_SCHEMA],
    ).fetchall()
    return rows[0] if rows else None


def _tables(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    return con.sql(f"""
        select case when schema_name = {_literal(DEFAULT_SCHEMA)} then table_name
                    else schema_name || '.' || table_name end as "table",
               estimated_size as "rows", column_count as "columns",
               case when length(comment) > 100 then left(comment, 99) || '…'
                    else comment end as description
        from duckdb_tables() where database_name = current_database()
        order by schema_name <> {_literal(DEFAULT_SCHEMA)}, schema_name, table_name""")


def _schema(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """CREATE TABLE of one table, with its description and each column's as SQL comments."""
    [(comment,)] = con.execute(
        "select comment from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    columns = con.execute(
        "select column_name, data_type, comment from duckdb_columns() "
        "where database_name = current_database() and schema_name = ? and table_name = ? "
        "order by column_index",
        [schema, table],
    ).fetchall()
    width = max(
        (len(_quote(c) if not c.isidentifier() else c) + len(t) + 2 for c, t, _ in columns),
        default=0,
    )
    lines = [f"-- {comment}"] if comment else []
    lines.append(f"CREATE TABLE {schema}.{table} (")
    for i, (column, data_type, note) in enumerate(columns):
        name = column if column.isidentifier() else _quote(column)
        definition = f"    {name} {data_type}{',' if i < len(columns) - 1 else ''}"
        lines.append(f"{definition:<{width + 6}}  -- {note}" if note else definition)
    lines.append(");")
    return "\n".join(lines) + "\n"


def _describe(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    [(comment, rows)] = con.execute(
        "select comment, estimated_size from duckdb_tables() "
        "where database_name = current_database() and schema_name = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    head = f"{schema}.{table}: {rows:,} row{'' if rows == 1 else 's'}" + (
        f"\n{comment}" if comment else ""
    )
    columns = con.sql(f"""
        select column_name as "column", data_type as "type", comment as description
        from duckdb_columns() where database_name = current_database()
          and schema_name = {_literal(schema)} and table_name = {_literal(table)}
        order by column_index""")
    return head + "\n" + render(columns, max_rows=10_000)


def _dot(
    con: duckdb.DuckDBPyConnection, command: str, show: Callable[[str], None], settings: dict
) -> bool:
    """Dot commands of the shell; False to quit."""
    word, _, arg = command.strip().partition(" ")
    arg = arg.strip()
    if word in (".quit", ".exit", ".q"):
        return False
    if word == ".tables":
        show(render(_tables(con), max_rows=10_000))
    elif word in (".schema", ".describe"):
        if not arg:
            if word == ".describe":
                show("usage: .describe TABLE\n")
                return True
            tables = con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = "
                "current_database() order by schema_name <> ?, schema_name, table_name",
                [DEFAULT_SCHEMA],
            ).fetchall()
            show("\n".join(_schema(con, s, t) for s, t in tables))
            return True
        found = _resolve(con, arg)
        if found is None:
            show(f"no table {arg} in the published database (.tables lists them)\n")
        elif word == ".schema":
            show(_schema(con, *found))
        else:
            show(_describe(con, *found))
    elif word == ".maxrows":
        if arg:
            try:
                settings["max_rows"] = max(1, int(arg))
            except ValueError:
                show(".maxrows takes a number of rows\n")
                return True
        show(f"results show at most {settings['max_rows']:,} rows\n")
    else:
        show(HELP.format(max_rows=f"{settings['max_rows']:,}"))
    return True


def _pager(text: str, out: TextIO) -> None:
    """Write `text`, through a pager when it does not fit the terminal."""
    size = shutil.get_terminal_size()
    lines = text.splitlines()
    if len(lines) < size.lines - 1 and max(map(len, lines), default=0) <= size.columns:
        out.write(text)
        return
    command = os.environ.get("PAGER") or ("less -S -R -F -X" if shutil.which("less") else "")
    if not command.strip():
        out.write(text)
        return
    out.flush()
    try:
        # LESSSECURE: no shell escapes or other files from inside the pager.
        subprocess.run(
            shlex.split(command),
            input=text.encode("utf-8"),
            check=False,
            env={**os.environ, "LESSSECURE": "1"},
        )
    except OSError:
        out.write(text)


def history_path() -> Path:
    """Where an interactive shell keeps the lines typed: $REENTRY_HISTORY, else
    ~/.reentry_history."""
    return Path(os.environ.get(HISTORY_ENV) or Path.home() / ".reentry_history")


def _completer(con: duckdb.DuckDBPyConnection):
    """Tab completion of dot commands, table and column names."""
    words = sorted(
        {".tables", ".schema", ".describe", ".maxrows", ".help", ".quit"}
        | {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() union "
                "select column_name from duckdb_columns()"
            ).fetchall()
        }
    )

    def complete(text: str, state: int) -> str | None:
        matches = [w for w in words if w.startswith(text)]
        return matches[state] if state < len(matches) else None

    return complete


@contextlib.contextmanager
def _line_editing(con: duckdb.DuckDBPyConnection, history: Path | None):
    """readline for input(): editing, completion, and the history of what was typed (read
    from and written back to `history`, mode 0600)."""
    try:
        import readline
    except ImportError:  # no readline on this platform: plain input()
        yield
        return
    readline.set_completer(_completer(con))
    readline.set_completer_delims(" \t\n,;()'\"=<>")
    readline.parse_and_bind("tab: complete")
    readline.set_history_length(1000)
    if history is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
    try:
        yield
    finally:
        if history is not None:
            with contextlib.suppress(OSError):
                history.touch(mode=0o600, exist_ok=True)
                readline.write_history_file(history)


def shell(
    con: duckdb.DuckDBPyConnection,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    history: Path | None = None,
) -> None:
    """A small interactive SQL shell: statements end with ';' and may span lines (the
    continuation prompt says one is open); dot commands stand alone. On a terminal it has
    line editing, tab completion, a history and a pager for long results."""
    interactive = stdin.isatty()
    settings = {"max_rows": MAX_ROWS}
    terminal = interactive and stdin is sys.stdin and out is sys.stdout

    def show(text: str) -> None:
        if terminal:
            _pager(text, out)
        else:
            out.write(text)

    def read(prompt: str) -> str | None:
        if terminal:
            try:
                return input(prompt)
            except EOFError:
                out.write("\n")
                return None
        if interactive:
            out.write(prompt)
            out.flush()
        line = stdin.readline()
        return line.rstrip("\n") if line else None

    def run(statement: str) -> None:
        try:
            relation = con.sql(statement)
            if relation is None:
                return
            if relation.columns == ["Success"]:  # SET, PRAGMA …: done, nothing to show
                relation.fetchall()
                return
            show(render(relation, settings["max_rows"]))
        except duckdb.Error as exc:
            out.write(f"error: {exc}\n")
        except KeyboardInterrupt:
            out.write("interrupted\n")

    if interactive:
        out.write(
            "reentry research shell (read-only). Statements end with ';'. "
            ".help lists the dot commands, .quit leaves.\n"
        )
    editing = (
        _line_editing(con, history or history_path()) if terminal else contextlib.nullcontext()
    )
    buffer: list[str] = []
    with editing:
        while True:
            try:
                line = read(CONTINUATION if buffer else PROMPT)
            except KeyboardInterrupt:  # Ctrl-C drops the statement being typed
                out.write("\n")
                buffer = []
                continue
            if line is None:
                break
            stripped = line.strip()
            if not buffer and stripped.startswith("."):
                if not _dot(con, stripped, show, settings):
                    return
                continue
            if not buffer and not stripped:
                continue
            buffer.append(line)
            if stripped.endswith(";"):
                run("\n".join(buffer).strip().rstrip(";"))
                buffer = []
        if "".join(buffer).strip():
            run("\n".join(buffer).strip().rstrip(";"))
