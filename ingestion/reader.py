"""Reading a landing file into a DuckDB table of text fields with exact line numbers.

CSV is split into physical lines and each line is matched against a quote-aware record
pattern in SQL: a line that is not exactly one record of the header's width (a stray
delimiter, an unterminated quote, a value broken over two lines) becomes a `malformed_line`
with its line number instead of silently shifting or swallowing the lines after it, which is
what a sniffing CSV reader does. Everything runs set-based in DuckDB; no Python loop touches a
row. Field values never leave the scratch connection except through validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from .contract import ENTITIES
from .layouts import Layout

ROWS = "_rows"  # _line, then one VARCHAR column per reference column present in the header
MALFORMED = "_malformed"  # _line, reason, message


class FileRejected(Exception):
    """The whole file cannot be read (no header, missing required column, not a workbook…)."""


@dataclass
class ReadResult:
    """What reading found, before any value is checked."""

    columns: list[str]  # reference columns present
    extra_columns: list[str] = field(default_factory=list)  # headers the layout does not know
    n_received: int = 0  # data rows in the file (malformed ones included, blank lines not)
    n_malformed: int = 0


def _quote_sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _map_headers(headers: list[str], entity: str, layout: Layout, path: Path) -> dict[int, str]:
    """Header position -> reference column; raise FileRejected for unusable headers."""
    ent = ENTITIES[entity]
    mapping = {k.strip().casefold(): v for k, v in layout.header_map(entity).items()}
    reference = {c.casefold(): c for c in ent.column_names}
    by_position: dict[int, str] = {}
    for pos, raw in enumerate(headers):
        name = raw.strip().lstrip("\ufeff").strip()
        target = mapping.get(name.casefold()) or reference.get(name.casefold())
        if target is None:
            continue
        if target in by_position.values():
            raise FileRejected(f"two header columns map to {target!r}")
        by_position[pos] = target
    missing = [c.name for c in ent.columns if c.required and c.name not in by_position.values()]
    if missing:
        raise FileRejected(
            f"required column(s) {', '.join(missing)} missing from the header "
            f"(layout {layout.name!r}, entity {entity})"
        )
    return by_position


def _extra_headers(headers: list[str], mapped: dict[int, str]) -> list[str]:
    return [h.strip().lstrip("\ufeff") for i, h in enumerate(headers) if i not in mapped]


def read_csv(
    con: duckdb.DuckDBPyConnection, path: Path, entity: str, layout: Layout
) -> ReadResult:
    """Split a delimited file into `_rows` and `_malformed` in `con`."""
    data = path.read_bytes()
    encoding_broken = False
    try:
        text = data.decode(layout.encoding)
    except UnicodeDecodeError:
        # Decode what can be decoded; the lines with the replacement character are quarantined.
        text = data.decode(layout.encoding, errors="replace")
        encoding_broken = True
    text = text.lstrip("\ufeff")
    del data
    d = re.escape(layout.delimiter)
    q = re.escape(layout.quote)
    field_re = f"(?:{q}(?:[^{q}]|{q}{q})*{q}|(?:[^{q}{d}][^{d}]*)?)"
    extract_re = f"(?:^|{d})({q}(?:[^{q}]|{q}{q})*{q}|(?:[^{q}{d}][^{d}]*)?)"
    quote_lit = _quote_sql(layout.quote)
    con.execute(
        "create or replace temp macro _unquote(f, q) as case when starts_with(f, q) "
        "then replace(substr(f, 2, length(f) - 2), q || q, q) else f end"
    )
    con.register("_text", pa.table({"t": [text]}))
    con.execute(
        """
        create or replace temp table _lines as
        select generate_subscripts(parts, 1) as _line,
               rtrim(unnest(parts), chr(13)) as text
        from (select string_split(t, chr(10)) as parts from _text)
        """
    )
    con.unregister("_text")
    del text
    header_row = con.execute("select text from _lines where _line = 1").fetchone()
    if header_row is None or not header_row[0].strip():
        raise FileRejected("the file is empty or its first line is blank (a header is required)")
    headers = [
        r[0]
        for r in con.execute(
            f"select _unquote(unnest(regexp_extract_all($h, $re, 1)), {quote_lit})",
            {"h": header_row[0], "re": extract_re},
        ).fetchall()
    ]
    mapped = _map_headers(headers, entity, layout, path)
    width = len(headers)
    record_re = f"^{field_re}" + (f"(?:{d}{field_re}){{{width - 1}}}" if width > 1 else "") + "$"
    bad_encoding = "strpos(text, chr(65533)) > 0" if encoding_broken else "false"
    con.execute(
        f"""
        create or replace temp table _classified as
        select _line, text,
               case when {bad_encoding} then 'invalid_encoding'
                    when not regexp_full_match(text, $record) then 'malformed_line'
               end as problem
        from _lines
        where _line > 1 and trim(text) <> ''
        """,
        {"record": record_re},
    )
    con.execute(
        f"""
        create or replace temp table {MALFORMED} as
        select _line, problem as reason,
               case problem
                 when 'invalid_encoding' then 'bytes that are not valid {layout.encoding}'
                 else 'expected {width} fields separated by ' || $delim || ', found about '
                      || (len(string_split(text, $delim))) || ' (or an unbalanced quote)'
               end as message
        from _classified where problem is not null
        """,
        {"delim": layout.delimiter},
    )
    selects = ", ".join(
        f"_unquote(fields[{pos + 1}], {quote_lit}) as {col}" for pos, col in mapped.items()
    )
    con.execute(
        f"""
        create or replace temp table {ROWS} as
        select _line, {selects}
        from (select _line, regexp_extract_all(text, $re, 1) as fields
              from _classified where problem is null)
        """,
        {"re": extract_re},
    )
    n_received, n_malformed = con.execute(
        "select count(*), count(problem) from _classified"
    ).fetchone()
    con.execute("drop table _lines; drop table _classified")
    return ReadResult(
        columns=list(mapped.values()),
        extra_columns=_extra_headers(headers, mapped),
        n_received=n_received,
        n_malformed=n_malformed,
    )


def read_xlsx(
    con: duckdb.DuckDBPyConnection, path: Path, entity: str, layout: Layout
) -> ReadResult:
    """Read one sheet of a workbook as text into `_rows` (row numbers as Excel shows them)."""
    sheet = layout.entity(entity).sheet
    try:
        frame = pl.read_excel(
            path,
            sheet_name=sheet,
            engine="calamine",
            infer_schema_length=0,
            drop_empty_rows=False,
        )
    except Exception as exc:  # the engine raises many types for a broken workbook
        what = f"sheet {sheet!r}" if sheet else "the first sheet"
        raise FileRejected(f"cannot read {what} of the workbook ({type(exc).__name__})") from None
    headers = frame.columns
    mapped = _map_headers(headers, entity, layout, path)
    frame = (
        frame.select(
            [pl.col(headers[pos]).cast(pl.String).alias(col) for pos, col in mapped.items()]
        )
        .with_row_index("_line", offset=2)
        .filter(pl.any_horizontal(pl.all().exclude("_line").str.strip_chars().ne("")))
        .with_columns(pl.col("_line").cast(pl.Int64))
    )
    con.register("_frame", frame)
    con.execute(f"create or replace temp table {ROWS} as select * from _frame")
    con.unregister("_frame")
    con.execute(
        f"create or replace temp table {MALFORMED} "
        "(_line bigint, reason varchar, message varchar)"
    )
    return ReadResult(
        columns=list(mapped.values()),
        extra_columns=_extra_headers(headers, mapped),
        n_received=frame.height,
        n_malformed=0,
    )


def read_file(
    con: duckdb.DuckDBPyConnection, path: Path, entity: str, layout: Layout
) -> ReadResult:
    """Read a landing file in its layout's format into the scratch tables of `con`."""
    if layout.format == "xlsx":
        if path.suffix.lower() != ".xlsx":
            raise FileRejected(f"layout {layout.name!r} expects .xlsx files")
        return read_xlsx(con, path, entity, layout)
    if path.suffix.lower() != ".csv":
        raise FileRejected(f"layout {layout.name!r} expects .csv files")
    return read_csv(con, path, entity, layout)
