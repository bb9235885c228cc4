"""Reading a landing file into a DuckDB table of text fields with exact line numbers.

CSV is split into physical lines (numpy over the UTF-8 bytes, no copy). A line without a
quote character is split on the delimiter; one with quotes must match a quote-aware record
pattern. A line that is not exactly one record of the header's width (a stray delimiter, an
unterminated quote, a value broken over two lines) becomes a `malformed_line` with its line
number instead of silently shifting or swallowing the lines after it, which is what a sniffing
CSV reader does. Everything runs set-based; no Python loop touches a row. Field values never
leave the scratch connection except through validation.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from reentry.contract import ENTITIES, MAX_FILE_BYTES, MAX_LINE_BYTES

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


def _lines_table(data: bytes) -> pa.Table:
    """Physical lines of UTF-8 bytes with their 1-based numbers, without copying the bytes."""
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(buf == 10) + 1)).astype(np.int64)
    offsets = np.concatenate((starts, [len(data)])).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(data))
    lines = pc.utf8_rtrim(lines, characters="\r\n")
    return pa.table({"_line": pa.array(np.arange(1, len(starts) + 1)), "text": lines})


def _valid_utf8(data: bytes) -> bool:
    """Whether `data` is valid UTF-8, checked in place (no decoded copy of the file)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    try:
        pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data)).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _utf8(data: bytes, encoding: str) -> tuple[bytes, bool]:
    """The file as UTF-8 without BOM, and whether some bytes were not valid in `encoding`."""
    broken = False
    if encoding in ("utf-8", "utf-8-sig"):
        if _valid_utf8(data):
            return data.removeprefix(b"\xef\xbb\xbf"), False
        broken = True
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        # Decode what can be decoded; the lines with the replacement character are quarantined.
        text = data.decode(encoding, errors="replace")
        broken = True
    return text.lstrip("\ufeff").encode("utf-8"), broken


# A regular expression (RE2) for control characters other than tab, line feed and carriage
# return.
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FileRejected(
            f"the file has {size:,} bytes, more than the limit of {MAX_FILE_BYTES:,}: not read"
        )


def read_csv(con: duckdb.DuckDBPyConnection, path: Path, entity: str, layout: Layout) -> ReadResult:
    """Split a delimited file into `_rows` and `_malformed` in `con`. A line longer than
    MAX_LINE_BYTES is quarantined by its number and never parsed; a file larger than
    MAX_FILE_BYTES is rejected unread."""
    _check_size(path)
    data, encoding_broken = _utf8(path.read_bytes(), layout.encoding)
    con.register("_lines_arrow", _lines_table(data))
    d, q = re.escape(layout.delimiter), re.escape(layout.quote)
    field_re = f"(?:{q}(?:[^{q}]|{q}{q})*{q}|(?:[^{q}{d}][^{d}]*)?)"
    extract_re = f"(?:^|{d})({q}(?:[^{q}]|{q}{q})*{q}|(?:[^{q}{d}][^{d}]*)?)"
    con.execute(
        "create or replace temp macro _unquote(f, q) as case when starts_with(f, q) "
        "then replace(substr(f, 2, length(f) - 2), q || q, q) else f end"
    )
    try:
        header_row = con.execute(
            "select case when strlen(text) <= $max then text end, strlen(text) "
            "from _lines_arrow where _line = 1",
            {"max": MAX_LINE_BYTES},
        ).fetchall()
        if header_row and header_row[0][0] is None:
            raise FileRejected(
                f"the header line has {header_row[0][1]:,} bytes, more than the limit of "
                f"{MAX_LINE_BYTES:,}: not read"
            )
        if not header_row or not header_row[0][0].strip():
            raise FileRejected(
                "the file is empty or its first line is blank (a header is required)"
            )
        headers = [
            r[0]
            for r in con.execute(
                "select _unquote(unnest(regexp_extract_all($h, $extract, 1)), $q)",
                {"h": header_row[0][0], "extract": extract_re, "q": layout.quote},
            ).fetchall()
        ]
        mapped = _map_headers(headers, entity, layout, path)
        width = len(headers)
        record_re = (
            f"^{field_re}" + (f"(?:{d}{field_re}){{{width - 1}}}" if width > 1 else "") + "$"
        )
        # Bytes that are not text: undecodable in the layout's encoding, or control characters
        # (NUL and the like; a tab is text).
        bad_encoding = (
            "strpos(text, chr(65533)) > 0 or " if encoding_broken else ""
        ) + f"regexp_matches(text, '{CONTROL_CHARACTERS}')"
        # Lines without a quote character (nearly all) split on the delimiter; only the others
        # need the quote-aware pattern. A line that is not exactly one record gets no fields.
        con.execute(
            f"""
            create or replace temp table _parsed as
            select _line, case when strlen(text) > $max_line then null else text end as text,
                   strlen(text) > $max_line as too_long,
                   case when strlen(text) > $max_line then null
                        when {bad_encoding} then null
                        when not contains(text, $q) then string_split(text, $delim)
                        when regexp_full_match(text, $record) then
                             list_transform(regexp_extract_all(text, $extract, 1),
                                            lambda f: _unquote(f, $q))
                   end as fields
            from _lines_arrow
            where _line > 1 and trim(text) <> ''
            """,
            {
                "q": layout.quote,
                "delim": layout.delimiter,
                "extract": extract_re,
                "record": record_re,
                "max_line": MAX_LINE_BYTES,
            },
        )
    finally:
        con.unregister("_lines_arrow")
    del data
    con.execute(
        f"""
        create or replace temp table {MALFORMED} as
        select _line,
               case when too_long then 'line_too_long'
                    when {bad_encoding} then 'invalid_encoding' else 'malformed_line' end
                   as reason,
               case when too_long then $long_msg
                    when regexp_matches(text, '{CONTROL_CHARACTERS}') then $control_msg
                    when {bad_encoding} then $enc_msg
                    else 'expected ' || {width} || ' fields separated by ' || $shown
                         || ', found ' || len(string_split(text, $delim))
                         || ' (or a quote that is not closed)'
               end as message
        from _parsed where fields is null or len(fields) <> {width}
        """,
        {
            "delim": layout.delimiter,
            "shown": repr(layout.delimiter),
            "enc_msg": f"bytes that are not valid {layout.encoding}",
            "control_msg": "control characters (such as NUL) that are not text",
            "long_msg": f"longer than {MAX_LINE_BYTES:,} bytes: not read",
        },
    )
    selects = ", ".join(f"fields[{pos + 1}] as {col}" for pos, col in mapped.items())
    con.execute(
        f"create or replace temp table {ROWS} as "
        f"select _line, {selects} from _parsed where len(fields) = {width}"
    )
    n_received, n_malformed = con.execute(
        f"select (select count(*) from _parsed), (select count(*) from {MALFORMED})"
    ).fetchone()
    con.execute("drop table _parsed")
    return ReadResult(
        columns=list(mapped.values()),
        extra_columns=_extra_headers(headers, mapped),
        n_received=n_received,
        n_malformed=n_malformed,
    )


def read_xlsx(
    con: duckdb.DuckDBPyConnection, path: Path, entity: str, layout: Layout
) -> ReadResult:
    """Read one sheet of a workbook as text into `_rows` (row numbers as Excel shows them).
    A workbook (a zip) larger than MAX_FILE_BYTES, or that unpacks to more, is rejected
    unread."""
    sheet = layout.entity(entity).sheet
    _check_size(path)
    try:
        with zipfile.ZipFile(path) as workbook:
            unpacked = sum(member.file_size for member in workbook.infolist())
    except (zipfile.BadZipFile, OSError):
        unpacked = 0  # not a workbook: the engine below says so
    if unpacked > MAX_FILE_BYTES:
        raise FileRejected(
            f"the workbook unpacks to {unpacked:,} bytes, more than the limit of "
            f"{MAX_FILE_BYTES:,}: not read"
        )
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
        f"create or replace temp table {MALFORMED} (_line bigint, reason varchar, message varchar)"
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
