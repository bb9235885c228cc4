"""Writing a reference-layout frame in a source's own format (the inverse of a layout).

`write_export` is the one place that knows how a layout looks on disk; the generator uses it for
every file and ingestion tests can use it for round trips.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import xlsxwriter

from reentry.contract import ENTITIES
from reentry.ingest.layouts import Layout

# Fixed document time so that identical input gives identical xlsx bytes.
XLSX_CREATED = dt.datetime(2009, 12, 31, 12, 0, 0)
XLSX_DATE_FORMAT = "dd.mm.yyyy"
_ISO = r"^(\s*)(\d{4})-(\d{2})-(\d{2})(\s*)$"
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def inverse_headers(entity: str, layout: Layout) -> dict[str, str]:
    """Reference column -> source header (the first header mapped to it)."""
    out: dict[str, str] = {}
    for header, column in layout.header_map(entity).items():
        out.setdefault(column, header)
    return out


def inverse_codes(entity: str, layout: Layout, column: str) -> dict[str, str]:
    """Reference code -> source word (where several words map to one code, the first)."""
    out: dict[str, str] = {}
    for word, code in layout.code_map(entity, column).items():
        out.setdefault(code, word)
    return out


def _date_replacement(fmt: str) -> str:
    """A regex replacement turning the groups of _ISO into `fmt` (keeps stray whitespace)."""
    body = fmt.replace("$", "$$").replace("%Y", "${2}").replace("%m", "${3}").replace("%d", "${4}")
    return "${1}" + body + "${5}"


def to_source_values(frame: pl.DataFrame, entity: str, layout: Layout) -> pl.DataFrame:
    """Reference strings -> the layout's words, date format and decimal mark (same columns).

    Only well-formed values are converted; anything else (a defect such as '2004-02-31' still
    converts, being digit-shaped; 'ca. 20' or an unknown word stays as it is). Leading and
    trailing blanks around a code survive the mapping.
    """
    ent = ENTITIES[entity]
    fmt = layout.date_formats[0]
    exprs = []
    for name in frame.columns:
        col = ent.column(name)
        c = pl.col(name)
        if col.type == "date" and fmt != "%Y-%m-%d":
            c = c.str.replace(_ISO, _date_replacement(fmt))
        elif col.type in ("decimal", "integer") and layout.decimal == ",":
            c = c.str.replace(r"^(\s*-?\d+)\.(\d+)(\s*)$", "${1},${2}${3}")
        elif col.type == "code":
            inverse = inverse_codes(entity, layout, name)
            if inverse:
                core = c.str.strip_chars(" \t")
                c = pl.concat_str(
                    [
                        c.str.extract(r"^([ \t]*)", 1).fill_null(""),
                        core.replace(inverse),
                        c.str.extract(r"([ \t]*)$", 1).fill_null(""),
                    ]
                )
        exprs.append(c.alias(name))
    return frame.select(exprs)


def write_export(
    frame: pl.DataFrame,
    entity: str,
    layout: Layout,
    path: Path,
    *,
    malformed_rows: Sequence[int] = (),
    text_date_every: int | None = None,
) -> None:
    """Write `frame` (reference column names, all values strings; ISO dates, point decimals,
    null = missing) as one export file of `layout` at `path`.

    CSV: the layout's encoding, delimiter and quote; standard quoting of fields holding the
    delimiter, the quote or a line break; the rows listed in `malformed_rows` (0-based data
    rows) are written unquoted, so a delimiter inside one of their values splits the line into
    one field too many. XLSX: one sheet (the layout's sheet name or the entity name), header in
    row 1; valid ISO dates become date cells with a date number format (every
    `text_date_every`-th data row as hand-typed text in date_formats[0] instead); numbers
    become number cells; anything else, including an impossible date, a text cell.
    """
    if any(not isinstance(dtype, pl.String) for dtype in frame.dtypes):
        frame = frame.with_columns(pl.all().cast(pl.String))
    source = to_source_values(frame, entity, layout)
    headers = inverse_headers(entity, layout)
    source = source.rename({c: headers.get(c, c) for c in source.columns})
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout.format == "xlsx":
        _write_xlsx(frame, source, entity, layout, path, text_date_every)
    else:
        _write_csv(source, layout, path, sorted(set(malformed_rows)))


def _write_csv(frame: pl.DataFrame, layout: Layout, path: Path, malformed: list[int]) -> None:
    opts = dict(
        separator=layout.delimiter, quote_char=layout.quote, null_value="", line_terminator="\n"
    )
    parts = [frame.head(0).write_csv(include_header=True, quote_style="necessary", **opts)]
    start = 0
    # Rows between malformed ones are written normally, each malformed row unquoted.
    for row in malformed:
        if row > start:
            parts.append(
                frame.slice(start, row - start).write_csv(
                    include_header=False, quote_style="necessary", **opts
                )
            )
        parts.append(
            frame.slice(row, 1).write_csv(include_header=False, quote_style="never", **opts)
        )
        start = row + 1
    if start < frame.height:
        parts.append(
            frame.slice(start).write_csv(include_header=False, quote_style="necessary", **opts)
        )
    path.write_bytes("".join(parts).encode(layout.encoding))


def _write_xlsx(
    reference: pl.DataFrame,
    source: pl.DataFrame,
    entity: str,
    layout: Layout,
    path: Path,
    text_date_every: int | None,
) -> None:
    ent = ENTITIES[entity]
    types = [ent.column(c).type for c in reference.columns]
    # Python values per column: dates parsed from the reference ISO strings (None when not a
    # valid date), numbers likewise; the source-format strings are the text fallback.
    parsed = []
    for name, kind in zip(reference.columns, types, strict=False):
        if kind == "date":
            parsed.append(reference[name].str.to_date("%Y-%m-%d", strict=False).to_list())
        else:
            parsed.append(None)
    text = [source[c].to_list() for c in source.columns]
    raw = [reference[c].to_list() for c in reference.columns]
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"created": XLSX_CREATED})
    date_fmt = wb.add_format({"num_format": XLSX_DATE_FORMAT})
    sheet = wb.add_worksheet(layout.entity(entity).sheet or entity)
    for j, header in enumerate(source.columns):
        sheet.write_string(0, j, header)
    for i in range(reference.height):
        as_text = bool(text_date_every) and (i + 1) % text_date_every == 0
        for j, kind in enumerate(types):
            value = text[j][i]
            if value is None:
                continue
            if kind == "date" and parsed[j][i] is not None and not as_text:
                sheet.write_datetime(i + 1, j, parsed[j][i], date_fmt)
            elif kind in ("integer", "decimal") and _NUMBER.match(raw[j][i]):
                sheet.write_number(i + 1, j, float(raw[j][i]))
            else:
                sheet.write_string(i + 1, j, value)
    wb.close()
