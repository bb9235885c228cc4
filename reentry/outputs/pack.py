"""The ministry pack for a period (a quarter `2004Q2` or a year `2004`): did the programmes
work, and the headline indicators by programme, prison and partner, as an Excel workbook, CSV
files and a printable HTML report (A4), with definitions, as-of date, data version and the
disclosure rules applied.

The figures are the protected cells of `tables.protected_tables` (indicators, programmes,
effects), the same cells the dashboards show, so no pack can be set against a dashboard to
recover a suppressed cell. The period is the release cohort: the releases of the period,
followed up to the as-of date. The programme effect is the whole programme period's.

Layout: a Summary sheet first (per programme the headline effect, participants against
comparison, with the as-of date and the data version), then wide sheets (one row per
programme, prison or partner; per indicator its value and, for a share, its n), the effects,
the indicators in long form (with intervals, for analysts) and About. Numbers keep their
kind: counts as integers, shares as percentages with one decimal, ratios with two decimals; a
suppressed cell shows the language's word for suppressed ("•" in the HTML), a cell with nothing
to show "–" (empty in a CSV), never a blank that could be read as zero. CSVs follow the
language: `;` and decimal comma (DE, NL), `,` and decimal point (EN); their first line is a
comment (`# ...`: as-of date, data version, period) that readers skip with comment char `#`.
"""

from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import polars as pl

from reentry.contract import OUTPUT_INDICATORS

from .disclosure import THRESHOLD
from .site import EFFECT_HEADLINE, LANGUAGES, load_messages
from .tables import (
    BREAKDOWNS,
    EFFECT_DIFFERENCE,
    EFFECT_ESTIMATES,
    EFFECT_KEY,
    metadata,
    open_published,
    protected_tables,
)

PERIOD = re.compile(r"^(\d{4})(Q[1-4])?$")
PACK_INDICATORS = list(OUTPUT_INDICATORS["pack"])
SHEETS = {"programme": "programmes", "prison_id": "prisons", "partner_id": "partners"}
DEFINITIONS = ["def.headline", "def.employment", "def.dropout_by", "def.rates"]
# Spreadsheet programs run a cell that starts like this as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LONG_COLUMNS = [
    "programme",
    "cohort",
    "unit_id",
    "unit_name",
    "indicator",
    "indicator_name",
    "kind",
    "numerator",
    "denominator",
    "value",
    "ci_low",
    "ci_high",
]
LONG_NUMBERS = ("numerator", "denominator", "value", "ci_low", "ci_high")
MARK = "•"  # a suppressed cell in the printable report (the workbook and CSVs spell it out)
MISSING = "–"  # nothing to show (e.g. no release has the follow-up yet): not zero, not hidden


class PackError(ValueError):
    """A pack that cannot be made: the message says why and what to do."""


@dataclass(frozen=True)
class Pack:
    """What was written."""

    period: str
    folder: Path
    workbook: Path
    report: Path
    csvs: list[Path]
    data_version: str


@dataclass(frozen=True)
class Locale:
    """How a language writes numbers and dates, in the report, the workbook and its CSVs."""

    decimal: str
    thousands: str
    date: str  # strftime
    excel_date: str
    percent: str  # after a share in the report
    delimiter: str  # of the CSVs

    @property
    def list_separator(self) -> str:
        return "; " if self.decimal == "," else ", "


LOCALES = {
    "de": Locale(",", ".", "%d.%m.%Y", "dd.mm.yyyy", "\u00a0%", ";"),
    "nl": Locale(",", ".", "%d-%m-%Y", "dd-mm-yyyy", "%", ";"),
    "en": Locale(".", ",", "%Y-%m-%d", "yyyy-mm-dd", "%", ","),
}


@dataclass(frozen=True)
class Style:
    """A kind of number: decimals shown, a share (x 100), signed; the Excel number format."""

    decimals: int
    excel: str
    percent: bool = False
    signed: bool = False


STYLES = {
    "count": Style(0, "#,##0"),
    "share": Style(1, "0.0%", percent=True),
    # A difference of two shares: percentage points.
    "diff": Style(1, "+0.0%;-0.0%;0.0%", percent=True, signed=True),
    "ratio": Style(2, "0.00"),
    "dec1": Style(1, "#,##0.0"),
    "dec2": Style(2, "#,##0.00"),
}
# Indicator kind -> style of its value (programme_indicators.sql).
KIND_STYLE = {
    "count": "count",
    "share": "share",
    "km": "share",
    "per_100": "dec1",
    "rate": "dec2",
    "median": "count",
}


class Cell(NamedTuple):
    """One cell of a table: a value (None: nothing to show, or suppressed), and a style that
    overrides the column's (the long table's value column holds counts and shares)."""

    value: object
    suppressed: bool = False
    style: str | None = None


@dataclass(frozen=True)
class Column:
    """A column: key (machine name), label, style ('text' or a STYLES key), the group it
    belongs to (an indicator: its value and n side by side under the indicator's name)."""

    key: str
    label: str
    style: str = "text"
    group: str = ""
    wrap: bool = False


@dataclass
class Table:
    """A sheet, a CSV and a section of the report."""

    key: str
    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    frozen: int = 1  # columns kept in view when scrolling right
    groups: list[str] | None = None  # programme of each row (the report's group rows)
    cohort: str | None = None  # the release cohort of every row (a quarter's year for units)


def check_period(period: str) -> str:
    """'2004Q2' or '2004', else a PackError."""
    if not PERIOD.match(period or ""):
        raise PackError(f"--period {period!r} is neither a quarter (2004Q2) nor a year (2004)")
    return period


def safe_text(value: str) -> str:
    """Text from sources as it may enter a spreadsheet or CSV cell: never as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def number_text(
    value: float,
    style: str,
    loc: Locale,
    *,
    grouping: bool = True,
    minus: str = "-",
    signed: bool | None = None,
) -> str:
    """A number as the language writes it: '1.234', '52,3' (a share in %, without the sign),
    '-13,2'. No thousands separator with grouping=False (the CSVs)."""
    kind = STYLES[style]
    x = round(float(value) * (100 if kind.percent else 1), kind.decimals)
    x = 0.0 if x == 0 else x  # no "-0.0"
    body = f"{abs(x):,.{kind.decimals}f}".replace(",", "\0").replace(".", loc.decimal)
    body = body.replace("\0", loc.thousands if grouping else "")
    signed = kind.signed if signed is None else signed
    return (minus if x < 0 else "+" if signed and x > 0 else "") + body


def date_text(iso: str, loc: Locale) -> str:
    """'2009-12-31' (or '2009-12-31 14:03:00') as the language writes dates."""
    iso = str(iso)
    day = datetime.strptime(iso[:10], "%Y-%m-%d").strftime(loc.date)
    return day + iso[10:]


def pack_rows(
    table: pl.DataFrame,
    period: str,
    names: dict[str, str],
    messages: dict[str, str],
    programme_names: dict[str, str] | None = None,
) -> dict[str, pl.DataFrame]:
    """The headline indicators of the period, one frame per sheet (programmes, prisons,
    partners), in long form with each number's `<column>_suppressed` flag beside it. Quarters
    are published for the programme as a whole only (`tables.indicators`): a quarter's
    prisons and partners are those of its year (the frame's `cohort` says which)."""
    rows = table.filter(
        pl.col("cohort").is_in([period, period[:4]]), pl.col("indicator").is_in(PACK_INDICATORS)
    )
    rows = rows.with_columns(
        pl.lit(False).alias(f"{c}_suppressed")
        for c in LONG_NUMBERS
        if f"{c}_suppressed" not in rows.columns
    )
    order = {code: i for i, code in enumerate(PACK_INDICATORS)}
    out = {}
    for by, sheet in SHEETS.items():
        others = [d for d in BREAKDOWNS if d != by]
        part = rows.filter(*(pl.col(d) == "all" for d in others))
        if by != "programme":
            part = part.filter(pl.col(by) != "all")
        cohort = period
        if part.filter(pl.col("cohort") == period).is_empty():
            cohort = period[:4]
        part = part.filter(pl.col("cohort") == cohort)
        unit = pl.lit("all") if by == "programme" else pl.col(by)
        part = part.with_columns(
            unit.alias("unit_id"),
            unit.replace_strict(names, default=unit).alias("unit_name")
            if by != "programme"
            else pl.col("programme")
            .replace_strict(programme_names or {}, default=pl.col("programme"))
            .alias("unit_name"),
            pl.col("indicator")
            .replace_strict({c: messages[f"indicator.{c}"] for c in PACK_INDICATORS})
            .alias("indicator_name"),
            pl.col("indicator").replace_strict(order).alias("_order"),
        )
        out[sheet] = part.sort("programme", "unit_id", "_order").select(
            *LONG_COLUMNS, *(pl.col(f"{c}_suppressed").fill_null(False) for c in LONG_NUMBERS)
        )
    return out


def _cell(row: dict, column: str, style: str | None = None) -> Cell:
    value = row.get(column)
    return Cell(value, value is None and bool(row.get(f"{column}_suppressed")), style)


def wide_table(
    frame: pl.DataFrame, sheet: str, messages: dict[str, str], programme_names: dict[str, str]
) -> Table:
    """One row per programme, prison or partner; per indicator its value and, for a share
    (or a rate), its n (the denominator: the releases or participants it is a share of)."""
    kinds = dict(frame.select("indicator", "kind").unique("indicator").iter_rows())
    units = sheet != "programmes"
    ids = (
        [
            Column("unit_name", messages["pack.col.unit_name"]),
            Column("unit_id", messages["pack.col.code"]),
            Column("programme", messages["pack.col.programme"]),
        ]
        if units
        else [Column("programme", messages["pack.col.programme"])]
    )
    ids.append(Column("cohort", messages["pack.col.cohort"]))
    columns = list(ids)
    for code in PACK_INDICATORS:
        kind = kinds.get(code, "share")
        name = messages[f"indicator.{code}"]
        if kind == "count":
            columns.append(Column(f"{code}.value", "n", "count", name))
            continue
        label = "%" if KIND_STYLE.get(kind) == "share" else messages["pack.col.value"]
        columns.append(Column(f"{code}.value", label, KIND_STYLE.get(kind, "dec2"), name))
        columns.append(Column(f"{code}.denominator", "n", "count", name))
    order = {p: i for i, p in enumerate(programme_names)}
    rows, groups = [], []
    parts = frame.partition_by("programme", "unit_id", maintain_order=True, as_dict=True)
    keyed = sorted(
        parts.items(),
        key=lambda kv: (
            order.get(kv[0][0], len(order)),
            str(kv[1]["unit_name"][0]).casefold(),
            kv[0][1],
        ),
    )
    for (programme, unit_id), part in keyed:
        by_code = {r["indicator"]: r for r in part.iter_rows(named=True)}
        name = programme_names.get(programme, programme)
        row = (
            [Cell(part["unit_name"][0]), Cell(unit_id), Cell(name)] if units else [Cell(name)]
        ) + [Cell(part["cohort"][0])]
        for column in columns[len(ids) :]:
            code, field = column.key.split(".")
            row.append(_cell(by_code.get(code, {}), field))
        rows.append(row)
        groups.append(name)
    cohort = frame["cohort"][0] if frame.height else None
    return Table(
        sheet, messages[f"pack.{sheet}"], columns, rows, frozen=1, groups=groups, cohort=cohort
    )


def long_table(frames: dict[str, pl.DataFrame], messages: dict[str, str]) -> Table:
    """Every headline cell of every sheet in long form, with numerator and the 95 %
    interval: the tidy table for analysts."""
    columns = [Column(c, messages.get(f"pack.col.{c}", c)) for c in LONG_COLUMNS]
    rows = []
    for frame in frames.values():
        for r in frame.iter_rows(named=True):
            value_style = KIND_STYLE.get(r["kind"], "dec2")
            rows.append(
                [Cell(r[c]) for c in LONG_COLUMNS[:7]]
                + [
                    _cell(r, c, value_style if c in ("value", "ci_low", "ci_high") else "count")
                    for c in LONG_NUMBERS
                ]
            )
    return Table("indicators", messages["pack.long"], columns, rows, frozen=4)


EFFECT_COLUMNS = [
    "programme",
    "programme_name",
    *EFFECT_KEY[1:],
    "n_participants",
    "n_comparison",
    *EFFECT_ESTIMATES,
    "verdict",
    "verdict_text",
    "verdict_language",
]
EFFECT_STYLES = {
    "window_months": "count",
    "n_participants": "count",
    "n_comparison": "count",
    "rate_participants": "share",
    "rate_comparison": "share",
    "difference": "diff",
    "difference_ci_low": "diff",
    "difference_ci_high": "diff",
    "risk_ratio": "ratio",
    "risk_ratio_ci_low": "ratio",
    "risk_ratio_ci_high": "ratio",
    "e_value": "ratio",
    "e_value_ci": "ratio",
}
SUMMARY_COLUMNS = ["n_participants", "n_comparison", *EFFECT_DIFFERENCE]


def verdict_in(texts, lang: str, languages: list[str]) -> tuple[str | None, str | None]:
    """A row's verdict in `lang`; else English; else the programme's main language (the first
    of its languages); else any it has. Returns (text, language)."""
    by_lang = {e["key"]: e["value"] for e in (texts or []) if e.get("value")}
    for code in [lang, "en", *languages, *sorted(by_lang)]:
        if code in by_lang:
            return by_lang[code], code
    return None, None


def effect_rows(
    effects: pl.DataFrame, programmes: pl.DataFrame, period: str, lang: str
) -> pl.DataFrame:
    """The programme effects a pack carries: cohort all and the period's year, matched and
    weighted, every measure x window of the rate outcome, with the verdict in the pack's
    language (or English, or the programme's main language). Suppressed cells are None with
    `<column>_suppressed` beside them."""
    from .site import MEASURES

    info = {r["programme"]: r for r in programmes.iter_rows(named=True)}
    order = {p: i for i, p in enumerate(info)}
    rows = effects.filter(pl.col("cohort").is_in(["all", period[:4]]))
    out = []
    for r in rows.iter_rows(named=True):
        programme = info.get(r["programme"], {})
        text, code = verdict_in(r["verdict_texts"], lang, list(programme.get("languages") or []))
        out.append(
            {
                **{c: r.get(c) for c in EFFECT_COLUMNS if c in r},
                "programme_name": programme.get("programme_name") or r["programme"],
                "verdict_text": text,
                "verdict_language": code,
                **{
                    f"{c}_suppressed": bool(r.get(f"{c}_suppressed"))
                    for c in EFFECT_COLUMNS
                    if f"{c}_suppressed" in r
                },
                "_order": (
                    order.get(r["programme"], len(order)),
                    r["cohort"] != "all",
                    r["estimator"],
                    MEASURES.index(r["measure"]) if r["measure"] in MEASURES else 99,
                    r["window_months"],
                ),
            }
        )
    if not out:
        return pl.DataFrame({c: [] for c in EFFECT_COLUMNS})
    out.sort(key=lambda r: r["_order"])
    frame = pl.DataFrame(
        [{k: v for k, v in r.items() if k != "_order"} for r in out], infer_schema_length=None
    )
    flags = [c for c in frame.columns if c.endswith("_suppressed")]
    return frame.select(EFFECT_COLUMNS + flags)


def effects_table(frame: pl.DataFrame, messages: dict[str, str]) -> Table:
    columns = [
        Column(
            c,
            messages.get(f"pack.col.{c}", c),
            EFFECT_STYLES.get(c, "text"),
            wrap=c == "verdict_text",
        )
        for c in EFFECT_COLUMNS
    ]
    rows = [[_cell(r, c) for c in EFFECT_COLUMNS] for r in frame.iter_rows(named=True)]
    return Table("effects", messages["pack.effects"], columns, rows, frozen=2)


def headline_verdict(row: dict, messages: dict[str, str], lang: str) -> str:
    """The verdict sentence of a headline row; where it is suppressed or not estimated, why;
    where it is in another language, which."""
    text = row.get("verdict_text")
    if not text:
        return (
            messages["effect.suppressed"]
            if row.get("verdict_text_suppressed")
            else messages.get(f"verdict.{row.get('verdict')}", messages["effect.no_row"])
        )
    code = row.get("verdict_language")
    if code and code != lang:
        text += (
            " ("
            + messages["effect.language_fallback"].format(
                language=messages.get(f"language.{code}", code), chosen=messages[f"language.{lang}"]
            )
            + ")"
        )
    return text


def summary_table(
    effects: pl.DataFrame, programme_names: dict[str, str], messages: dict[str, str], lang: str
) -> Table:
    """Did it work: per programme one line, the headline effect (EFFECT_HEADLINE: matched,
    reconviction within 24 months, the whole programme period), participants against
    comparison, the difference with its 95 % interval and the verdict in words."""
    columns = (
        [Column("programme", messages["pack.col.programme"])]
        + [Column(c, messages[f"pack.col.{c}"], EFFECT_STYLES[c]) for c in SUMMARY_COLUMNS]
        + [Column("verdict_text", messages["pack.col.verdict_text"], wrap=True)]
    )
    headline = {}
    if effects.height:
        rows = effects.filter(*(pl.col(k) == v for k, v in EFFECT_HEADLINE.items()))
        headline = {r["programme"]: r for r in rows.iter_rows(named=True)}
    out = []
    for programme, name in programme_names.items():
        row = headline.get(programme)
        if row is None:
            out.append(
                [Cell(name)]
                + [Cell(None) for _ in SUMMARY_COLUMNS]
                + [Cell(messages["effect.no_row" if headline else "effect.none"])]
            )
            continue
        out.append(
            [Cell(name)]
            + [_cell(row, c) for c in SUMMARY_COLUMNS]
            + [Cell(headline_verdict(row, messages, lang))]
        )
    return Table("summary", messages["pack.summary"], columns, out, frozen=1)


# ---------------------------------------------------------------- the workbook


def _shown(cell: Cell, column: Column, suppressed: str) -> str:
    """About what a workbook cell shows (for its column's width)."""
    style = cell.style or column.style
    if cell.value is None:
        return suppressed if cell.suppressed else MISSING
    if style == "text" or isinstance(cell.value, str):
        return str(cell.value)
    return number_text(cell.value, style, LOCALES["en"]) + ("%" if STYLES[style].percent else "")


def _lines(text: str, width: float) -> int:
    """Lines a text wraps to in a column `width` characters wide (word by word)."""
    lines, used = 1, 0
    for word in text.split():
        if used and used + 1 + len(word) > width:
            lines, used = lines + 1, len(word)
        else:
            used += (1 if used else 0) + len(word)
    return lines


def _layout(table: Table, suppressed: str) -> tuple[list[float], int, int]:
    """Column widths that fit header and values (a header may wrap to two lines, a group
    header over its columns to three), and the header rows' heights in lines."""
    widths = []
    for i, column in enumerate(table.columns):
        values = max((len(_shown(r[i], column, suppressed)) for r in table.rows), default=0)
        if column.wrap:
            widths.append(70.0)
            continue
        label = len(column.label)
        longest_word = max((len(w) for w in column.label.split()), default=0)
        header = label if label <= 12 else max(-(-label // 2), longest_word)
        widths.append(min(max(values, header) + 2.5, 50.0 if column.style == "text" else 24.0))
    group_lines = 1
    i = 0
    while i < len(table.columns):
        group = table.columns[i].group
        j = i
        while group and j + 1 < len(table.columns) and table.columns[j + 1].group == group:
            j += 1
        if group:
            need = max(len(group) / 3 + 3, max(len(w) for w in group.split()) + 2)
            have = sum(widths[i : j + 1])
            if have < need:
                for k in range(i, j + 1):
                    widths[k] += (need - have) / (j - i + 1)
            group_lines = max(group_lines, _lines(group, sum(widths[i : j + 1]) - 1))
        i = j + 1
    header_lines = max(_lines(c.label, w - 1) for c, w in zip(table.columns, widths, strict=True))
    return widths, group_lines, header_lines


class _Formats:
    """The workbook's cell formats, made once each."""

    def __init__(self, book, loc: Locale) -> None:
        self.book = book
        head = {
            "bold": True,
            "text_wrap": True,
            "valign": "bottom",
            "bg_color": "#EEEEEE",
            "bottom": 1,
        }
        self.header = book.add_format(head)
        self.group = book.add_format({**head, "align": "center", "valign": "top", "bottom": 0})
        self.text = book.add_format({"valign": "top"})
        self.wrap = book.add_format({"valign": "top", "text_wrap": True})
        self.bold = book.add_format({"bold": True, "valign": "top"})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.subtitle = book.add_format({"bold": True, "font_size": 12})
        self.note = book.add_format({"italic": True, "font_color": "#555555"})
        self.suppressed = book.add_format(
            {"italic": True, "font_color": "#555555", "align": "right", "valign": "top"}
        )
        self.missing = book.add_format({"font_color": "#555555", "align": "right", "valign": "top"})
        self.date = book.add_format({"num_format": loc.excel_date, "align": "left"})
        self.numbers = {
            name: book.add_format({"num_format": s.excel, "valign": "top"})
            for name, s in STYLES.items()
        }


def _write_table(
    ws, table: Table, fmt: _Formats, suppressed: str, start: int = 0, panes: bool = True
) -> int:
    """`table` from row `start`: a row of group headers (if any), the header row with an
    autofilter, the rows; panes frozen below the header and right of the first column(s).
    Returns the next free row."""
    columns = table.columns
    widths, group_lines, header_lines = _layout(table, suppressed)
    for i, width in enumerate(widths):
        ws.set_column(i, i, width)
    header = start
    if any(c.group for c in columns):
        header += 1
        ws.set_row(start, 15 * group_lines)
        i = 0
        while i < len(columns):
            group, j = columns[i].group, i
            while group and j + 1 < len(columns) and columns[j + 1].group == group:
                j += 1
            if j > i:
                ws.merge_range(start, i, start, j, group, fmt.group)
            else:
                ws.write_string(start, i, group, fmt.group)
            i = j + 1
    ws.set_row(header, 15 * header_lines)
    for i, column in enumerate(columns):
        ws.write_string(header, i, column.label, fmt.header)
    for r, row in enumerate(table.rows, start=header + 1):
        lines = 1
        for i, (column, cell) in enumerate(zip(columns, row, strict=True)):
            style = cell.style or column.style
            if cell.value is None:
                ws.write_string(
                    r,
                    i,
                    suppressed if cell.suppressed else MISSING,
                    fmt.suppressed if cell.suppressed else fmt.missing,
                )
            elif style == "text" or isinstance(cell.value, str):
                ws.write_string(r, i, str(cell.value), fmt.wrap if column.wrap else fmt.text)
                if column.wrap:
                    lines = max(lines, _lines(str(cell.value), widths[i] - 1))
            else:
                ws.write_number(r, i, float(cell.value), fmt.numbers[style])
        if lines > 1:
            ws.set_row(r, 15 * lines)
    last = header + len(table.rows)
    if panes:
        ws.autofilter(header, 0, last, len(columns) - 1)
        ws.freeze_panes(header + 1, table.frozen)
    return last + 1


def _write_workbook(
    path: Path,
    summary: Table,
    tables: list[Table],
    about: list[tuple[str, str]],
    facts: dict,
    messages: dict[str, str],
    loc: Locale,
) -> None:
    import xlsxwriter

    # strings_to_formulas off: a text cell is always a string, whatever it starts with.
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    fmt = _Formats(book, loc)
    suppressed = messages["chart.suppressed"]
    # Summary first: did it work, as of when, on which data.
    ws = book.add_worksheet(summary.title[:31])
    ws.write_string(0, 0, f"{messages['pack.title']} {facts['period']}", fmt.title)
    ws.write_string(1, 0, messages["pack.as_of"], fmt.bold)
    ws.write_datetime(1, 1, datetime.strptime(facts["as_of"], "%Y-%m-%d"), fmt.date)
    ws.write_string(2, 0, messages["pack.data_version"], fmt.bold)
    ws.write_string(2, 1, facts["data_version"])
    ws.write_string(3, 0, messages["pack.period"], fmt.bold)
    ws.write_string(3, 1, facts["period"])
    ws.write_string(5, 0, messages["pack.summary_question"], fmt.subtitle)
    ws.write_string(6, 0, facts["headline"])
    row = _write_table(ws, summary, fmt, suppressed, start=7, panes=False) + 1
    labels = (messages["pack.as_of"], messages["pack.data_version"], messages["pack.period"])
    ws.set_column(0, 0, max(_layout(summary, suppressed)[0][0], *(len(t) + 2 for t in labels)))
    for note in facts["notes"]:
        ws.write_string(row, 0, note, fmt.note)
        row += 1
    ws.activate()
    for table in tables:
        _write_table(book.add_worksheet(table.title[:31]), table, fmt, suppressed)
    ws = book.add_worksheet(messages["pack.about"][:31])
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 100)
    for r, (key, text) in enumerate(about):
        ws.write_string(r, 0, key, fmt.bold)
        ws.write_string(r, 1, text, fmt.wrap)
        ws.set_row(r, 15 * _lines(text, 99))
    book.close()


# ---------------------------------------------------------------- the CSVs


def _csv_header(column: Column, units: dict[str, str]) -> str:
    if column.group:
        return f"{column.group} ({column.label})"
    unit = units.get(column.style)
    return f"{column.label} ({unit})" if unit else column.label


def _write_csv(
    table: Table, path: Path, loc: Locale, comment: str, suppressed: str, units: dict[str, str]
) -> None:
    """The table as the language's CSV: a `# ...` comment line first, then the header."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        fh.write(f"# {comment}\r\n")
        writer = csv.writer(fh, delimiter=loc.delimiter)
        writer.writerow([_csv_header(c, units) for c in table.columns])
        for row in table.rows:
            out = []
            for column, cell in zip(table.columns, row, strict=True):
                style = cell.style or column.style
                if cell.value is None:
                    out.append(suppressed if cell.suppressed else "")
                elif style == "text" or isinstance(cell.value, str):
                    out.append(safe_text(str(cell.value)))
                else:
                    out.append(number_text(cell.value, style, loc, grouping=False, signed=False))
            writer.writerow(out)


# ---------------------------------------------------------------- the printable report


def _html_number(cell: Cell, style: str, loc: Locale) -> str:
    """A cell's content in the report: the number as the language writes it, "•" where
    suppressed, "–" where there is nothing to show."""
    if cell.value is None:
        return f'<span class="s">{MARK}</span>' if cell.suppressed else MISSING
    if style == "text" or isinstance(cell.value, str):
        return html.escape(str(cell.value))
    text = number_text(cell.value, style, loc, minus="\u2212")
    return text + loc.percent if style == "share" else text


def _html_interval(low: Cell, high: Cell, style: str, loc: Locale) -> str:
    if low.value is None and high.value is None:
        return _html_number(low if low.suppressed else high, style, loc)
    return f"[{_html_number(low, style, loc)}{loc.list_separator}{_html_number(high, style, loc)}]"


def _html_wide(table: Table, loc: Locale, messages: dict[str, str]) -> str:
    """Units in rows, one column per indicator: the value, and below it, small, its n.
    Indicators named alike ("Reconviction 12 months, participants" and "..., comparison")
    share a header over their two columns. Printed compactly: an indicator with nothing to
    show for any unit (e.g. a comparison group for partners) is left out, and the units with
    no figure shown at all are named in one line per programme."""
    columns = table.columns
    start = next(i for i, c in enumerate(columns) if c.group)
    spans: list[tuple[str, list[int]]] = []
    for i in range(start, len(columns)):
        if spans and spans[-1][0] == columns[i].group:
            spans[-1][1].append(i)
        else:
            spans.append((columns[i].group, [i]))
    spans = [
        (g, m)
        for g, m in spans
        if any(r[i].value is not None or r[i].suppressed for r in table.rows for i in m)
    ]
    # Two header rows: the shared part of a name over its indicators, then the rest.
    parts = [g.rsplit(", ", 1) if ", " in g else [g] for g, _ in spans]
    top, bottom, i = [], [], 0
    while i < len(parts):
        j = i
        while len(parts[i]) == 2 and j + 1 < len(parts) and parts[j + 1][0] == parts[i][0]:
            j += 1
        if j > i:
            top.append(f'<th colspan="{j - i + 1}" class="c">{html.escape(parts[i][0])}</th>')
            bottom.extend(f"<th>{html.escape(p[1])}</th>" for p in parts[i : j + 1])
        else:
            top.append(f'<th rowspan="2">{html.escape(spans[i][0])}</th>')
        i = j + 1
    head = (
        f'<tr><th rowspan="2">{html.escape(columns[0].label)}</th>{"".join(top)}</tr>'
        f"<tr>{''.join(bottom)}</tr>"
    )
    width = len(spans) + 1
    body: list[str] = []
    units = table.key != "programmes"
    groups = table.groups or [""] * len(table.rows)
    for g in dict.fromkeys(groups):
        rows = [r for r, group in zip(table.rows, groups, strict=True) if group == g]
        if units:
            body.append(f'<tr class="g"><th colspan="{width}">{html.escape(g)}</th></tr>')
        hidden = []
        for row in rows:
            if all(c.value is None for c in row[start:]):
                hidden.append(str(row[0].value))
                continue
            cells = [f"<td>{html.escape(str(row[0].value))}</td>"]
            for _, members in spans:
                main = _html_number(row[members[0]], columns[members[0]].style, loc)
                n = "".join(
                    f"<small>{_html_number(row[i], columns[i].style, loc)}</small>"
                    for i in members[1:]
                )
                cells.append(f"<td>{main}{n}</td>")
            body.append(f"<tr>{''.join(cells)}</tr>")
        if hidden:
            text = messages["pack.all_suppressed"].format(mark=MARK, units="; ".join(hidden))
            body.append(f'<tr class="h"><td colspan="{width}">{html.escape(text)}</td></tr>')
    return f'<table class="wide"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def _html_summary(summary: Table, loc: Locale, messages: dict[str, str]) -> str:
    idx = {c.key: i for i, c in enumerate(summary.columns)}
    head = "".join(
        f"<th>{html.escape(messages[k])}</th>"
        for k in (
            "pack.col.programme",
            "pack.col.n_participants",
            "pack.col.n_comparison",
            "pack.col.rate_participants",
            "pack.col.rate_comparison",
        )
    )
    head += (
        f"<th>{html.escape(messages['pack.col.difference'])} "
        f"({html.escape(messages['pack.unit_pp'])})</th>"
        f"<th>{html.escape(messages['chart.interval'])}</th>"
    )
    rows, verdicts = [], []
    for row in summary.rows:
        cells = [f"<td>{html.escape(str(row[0].value))}</td>"]
        for key in (
            "n_participants",
            "n_comparison",
            "rate_participants",
            "rate_comparison",
            "difference",
        ):
            column = summary.columns[idx[key]]
            cells.append(f"<td>{_html_number(row[idx[key]], column.style, loc)}</td>")
        low, high = row[idx["difference_ci_low"]], row[idx["difference_ci_high"]]
        cells.append(f"<td>{_html_interval(low, high, 'diff', loc)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
        verdicts.append(
            f'<p class="verdict"><strong>{html.escape(str(row[0].value))}:</strong> '
            f"{html.escape(str(row[idx['verdict_text']].value or ''))}</p>"
        )
    return (
        f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
        f"</tbody></table>{''.join(verdicts)}"
    )


def _effects_html(frame: pl.DataFrame, messages: dict[str, str], loc: Locale) -> str:
    """Per programme a table of every effect: a group row per cohort and measure, a line per
    estimator and window; the verdict in a word (the sentences are in the workbook's Effects
    sheet)."""
    from .site import MEASURES

    e = html.escape

    def cell(row, column, style):
        return _html_number(_cell(row, column), style, loc)

    def interval(row, low, high, style):
        return _html_interval(_cell(row, low), _cell(row, high), style, loc)

    def pair(label: str, *subs: str) -> str:
        bottom.extend(f"<th>{e(sub)}</th>" for sub in subs)
        return f'<th colspan="{len(subs)}" class="c">{e(label)}</th>'

    bottom: list[str] = []
    both = (messages["group.participant"], messages["group.comparison"])
    value = (messages["pack.col.value"], messages["chart.interval"])
    top = (
        "".join(
            f'<th rowspan="2">{e(messages[k])}</th>'
            for k in ("pack.col.estimator", "pack.col.window_months")
        )
        + pair("n", *both)
        + pair(messages["pack.col.rate"], *both)
        + pair(f"{messages['pack.col.difference']} ({messages['pack.unit_pp']})", *value)
        + pair(messages["pack.col.risk_ratio"], *value)
        + "".join(
            f'<th rowspan="2">{e(messages[k])}</th>'
            for k in ("pack.col.e_value", "pack.col.e_value_ci", "pack.col.verdict_text")
        )
    )
    head = f"<tr>{top}</tr><tr>{''.join(bottom)}</tr>"
    out = []
    for (_,), part in frame.group_by(["programme"], maintain_order=True):
        rows = sorted(
            part.iter_rows(named=True),
            key=lambda r: (
                r["cohort"] != "all",
                r["cohort"],
                MEASURES.index(r["measure"]) if r["measure"] in MEASURES else 99,
                r["measure"],
                r["estimator"],
                r["window_months"],
            ),
        )
        body, current = [], None
        for r in rows:
            if (r["cohort"], r["measure"]) != current:
                current = (r["cohort"], r["measure"])
                cohort = messages["filter.all"] if r["cohort"] == "all" else r["cohort"]
                measure = messages.get("measure." + r["measure"], r["measure"])
                body.append(
                    f'<tr class="g"><th colspan="13">{e(measure)} · '
                    f"{e(messages['pack.col.cohort'])}: {e(cohort)}</th></tr>"
                )
            estimator = messages.get("estimator." + r["estimator"], r["estimator"])
            verdict = messages.get("verdict." + (r["verdict"] or ""), r["verdict"] or MISSING)
            body.append(
                f"<tr><td>{e(estimator)}</td>"
                f"<td>{cell(r, 'window_months', 'count')}</td>"
                f"<td>{cell(r, 'n_participants', 'count')}</td>"
                f"<td>{cell(r, 'n_comparison', 'count')}</td>"
                f"<td>{cell(r, 'rate_participants', 'share')}</td>"
                f"<td>{cell(r, 'rate_comparison', 'share')}</td>"
                f"<td>{cell(r, 'difference', 'diff')}</td>"
                f"<td>{interval(r, 'difference_ci_low', 'difference_ci_high', 'diff')}</td>"
                f"<td>{cell(r, 'risk_ratio', 'ratio')}</td>"
                f"<td>{interval(r, 'risk_ratio_ci_low', 'risk_ratio_ci_high', 'ratio')}</td>"
                f"<td>{cell(r, 'e_value', 'ratio')}</td><td>{cell(r, 'e_value_ci', 'ratio')}</td>"
                f'<td class="t">{e(verdict)}</td></tr>'
            )
        out.append(
            f"<h3>{e(part['programme_name'][0])}</h3>"
            f'<table class="effects"><thead>{head}</thead><tbody>'
            f"{''.join(body)}</tbody></table>"
        )
    return "".join(out)


CSS = """
@page { size: A4 landscape; margin: 10mm 10mm 11mm 10mm; }
body { font: 9pt/1.35 system-ui, sans-serif; color: #1a1a1a; margin: 0; }
@media screen { body { margin: 2em auto; max-width: 277mm; } }
p, dl { max-width: 200mm; }
h1 { font-size: 14pt; margin: 0 0 2mm; }
h2 { font-size: 11pt; margin: 5mm 0 1.5mm; break-after: avoid; }
h3 { font-size: 9.5pt; margin: 3mm 0 1mm; break-after: avoid; }
p { margin: 1mm 0; }
p.facts { font-size: 8pt; color: #333; }
p.facts code { font-size: 7pt; word-break: break-all; }
p.legend, p.note { font-size: 7.5pt; color: #444; }
p.verdict { font-size: 8.5pt; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm; font-size: 7.5pt;
        line-height: 1.15; font-variant-numeric: tabular-nums; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { border-bottom: 0.5pt solid #ccc; padding: 1pt 2.5pt; text-align: right;
         vertical-align: top; }
td { white-space: nowrap; }
th { font-weight: 600; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; white-space: normal; }
th.c { text-align: center; border-bottom: 0.5pt solid #999; }
tr.g th { text-align: left; background: #f0f0f0; font-weight: 600; }
tr.h td { text-align: left; white-space: normal; color: #444; font-size: 7pt; }
table.wide { font-size: 7pt; }
table.wide thead th { font-size: 6.5pt; }
table.wide td:first-child { min-width: 32mm; }
table.wide td small { display: block; color: #666; font-size: 6pt; }
table.effects { font-size: 7pt; }
table.effects thead th { font-size: 6.5pt; }
table.effects td.t, table.effects th:last-child { text-align: left; }
table.effects td.t { width: 30%; }
span.s { color: #555; }
dl { font-size: 7.5pt; margin: 0; }
dt { font-weight: 600; margin-top: 1.5mm; break-after: avoid; }
dd { margin: 0 0 0.5mm 4mm; }
"""


def _write_report(
    path: Path,
    summary: Table,
    wide: list[Table],
    effects: pl.DataFrame,
    about: list[tuple[str, str]],
    facts: dict,
    messages: dict[str, str],
    lang: str,
    loc: Locale,
) -> None:
    e = html.escape
    legend = (
        f'<p class="legend">{e(messages["pack.legend_html"])} '
        f"{e(messages['pack.legend_suppressed'].format(mark=MARK, threshold=THRESHOLD))} "
        f"{e(messages['pack.legend_missing'].format(mark=MISSING))}</p>"
    )
    sections = [
        f"<h2>{e(messages['pack.summary_question'])}</h2>"
        f'<p class="note">{e(facts["headline"])}</p>'
        + _html_summary(summary, loc, messages)
        + "".join(f'<p class="note">{e(n)}</p>' for n in facts["html_notes"])
    ]
    for i, table in enumerate(t for t in wide if t.rows):  # the legend once, at the first
        cohort = table.cohort or facts["period"]
        note = (
            f'<p class="note">{e(facts["year_note"])}</p>'
            if cohort != facts["period"] and facts.get("year_note")
            else ""
        )
        sections.append(
            f"<h2>{e(table.title)} · {e(cohort)}</h2>{note}"
            + (legend if i == 0 else "")
            + _html_wide(table, loc, messages)
        )
    if effects.height:
        sections.append(
            f"<h2>{e(messages['pack.effects'])}</h2>" + _effects_html(effects, messages, loc)
        )
    notes = "".join(
        f"<dt>{e(k)}</dt>" * (i == 0 or about[i - 1][0] != k) + f"<dd>{e(v)}</dd>"
        for i, (k, v) in enumerate(about)
    )
    sections.append(f"<h2>{e(messages['pack.notes'])}</h2><dl>{notes}</dl>")
    head = (
        f"{e(messages['pack.period'])} {e(facts['period'])} · "
        f"{e(messages['pack.as_of'])} {e(date_text(facts['as_of'], loc))} · "
        f"{e(messages['pack.built_at'])} {e(date_text(facts['built_at'], loc))} · "
        f"{e(messages['pack.data_version'])} <code>{e(facts['data_version'])}</code>"
    )
    path.write_text(
        f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{e(messages["pack.title"])} {e(facts["period"])}</title>
<style>{CSS}</style></head>
<body>
<h1>{e(messages["pack.title"])} {e(facts["period"])}</h1>
<p class="facts">{head}</p>
{"".join(sections)}
</body></html>
""",
        encoding="utf-8",
    )


def build_pack(
    published_db: Path,
    reports_dir: Path,
    period: str,
    data_version: str,
    names: dict[str, str] | None = None,
    lang: str = "en",
    cache_dir: Path | None = None,
) -> Pack:
    """Write the pack for `period` into `reports_dir/<period>/`."""
    check_period(period)
    if lang not in LANGUAGES:
        raise PackError(f"--lang {lang!r}: choose one of {', '.join(LANGUAGES)}")
    messages = load_messages()[lang]
    loc = LOCALES[lang]
    con = open_published(published_db)
    try:
        meta = metadata(con, data_version)
        available = _periods(con)
        if period not in available:
            raise PackError(
                f"no releases in period {period}: the published database holds "
                f"{available[0]} to {available[-1]}"
                if available
                else "the published database holds no periods"
            )
    finally:
        con.close()
    tables = protected_tables(
        published_db, ["indicators", "programmes", "effects"], cache_dir, data_version
    )
    programmes = tables["programmes"]
    programme_names = {
        r["programme"]: r["programme_name"] or r["programme"]
        for r in programmes.iter_rows(named=True)
    }
    order = {p: i for i, p in enumerate(programme_names)}
    table = tables["indicators"].sort(
        pl.col("programme").replace_strict(order, default=len(order)), maintain_order=True
    )
    frames = pack_rows(table, period, names or {}, messages, programme_names)
    effects = effect_rows(tables["effects"], programmes, period, lang)
    summary = summary_table(effects, programme_names, messages, lang)
    wide = [wide_table(frame, sheet, messages, programme_names) for sheet, frame in frames.items()]
    tables_out = [*wide, effects_table(effects, messages), long_table(frames, messages)]
    suppressed = messages["chart.suppressed"]
    n_hidden = any(r[1].suppressed for r in summary.rows)
    facts = {
        "period": period,
        "as_of": meta.as_of_date,
        "built_at": meta.built_at,
        "data_version": meta.data_version,
        "headline": messages["pack.summary_effect"].format(
            period=period,
            measure=messages[f"measure.{EFFECT_HEADLINE['measure']}"],
            window=messages[f"window.{EFFECT_HEADLINE['window_months']}"],
            estimator=messages[f"estimator.{EFFECT_HEADLINE['estimator']}"],
        ),
    }
    legend = [
        messages["pack.legend_suppressed"].format(mark="", threshold=THRESHOLD).strip(),
        messages["pack.legend_missing"].format(mark=MISSING).strip(),
    ]
    facts["notes"] = [
        *legend,
        *([messages["pack.summary_n_suppressed"].format(threshold=THRESHOLD)] if n_hidden else []),
        messages["pack.summary_about"].format(sheet=messages["pack.about"][:31]),
    ]
    if any(t.cohort and t.cohort != period for t in wide):
        facts["year_note"] = messages["pack.year_for_quarter"].format(
            year=period[:4], threshold=THRESHOLD
        )
        facts["notes"].insert(0, facts["year_note"])
    facts["html_notes"] = [
        messages["pack.legend_suppressed"].format(mark=MARK, threshold=THRESHOLD),
        *([messages["pack.summary_n_suppressed"].format(threshold=THRESHOLD)] if n_hidden else []),
    ]
    csv_note = messages["pack.csv_note"].format(
        delimiter=loc.delimiter, decimal=loc.decimal, suppressed=suppressed
    )
    about = [
        (messages["pack.period"], period),
        (messages["pack.cohort_note"], messages["pack.cohort_text"].format(period=period)),
        (messages["pack.as_of"], date_text(meta.as_of_date, loc)),
        (messages["pack.data_version"], meta.data_version),
        (messages["pack.built_at"], date_text(meta.built_at, loc)),
        (messages["pack.disclosure"], messages["pack.disclosure_text"].format(threshold=THRESHOLD)),
        (messages["pack.reading"], messages["pack.legend_n"]),
        *(((messages["pack.reading"], facts["year_note"]),) if "year_note" in facts else ()),
        *((messages["pack.reading"], text) for text in legend),
        (messages["pack.csv"], csv_note),
        *((messages["chart.definition"], messages[key]) for key in DEFINITIONS),
        (messages["pack.effects"], messages["pack.effects_text"]),
        (messages["chart.definition"], messages["def.forest"]),
        (messages["chart.definition"], messages["def.evalues"]),
    ]
    folder = reports_dir / period
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"reentry-pack-{period}-{lang}"  # packs in several languages live side by side
    workbook = folder / f"{stem}.xlsx"
    _write_workbook(workbook, summary, tables_out, about, facts, messages, loc)
    comment = messages["pack.csv_comment"].format(
        date=date_text(meta.as_of_date, loc), version=meta.data_version, period=period
    )
    units = {"share": "%", "diff": messages["pack.unit_pp"]}
    csvs = []
    for item in [summary, *tables_out]:
        path = folder / f"{stem}-{item.key}.csv"
        _write_csv(item, path, loc, comment, suppressed, units)
        csvs.append(path)
    report = folder / f"{stem}.html"
    # The report's head names period, dates and version; its notes need not again.
    html_about = [
        (k, v)
        for k, v in about
        if k
        not in (
            messages["pack.csv"],
            messages["pack.period"],
            messages["pack.as_of"],
            messages["pack.data_version"],
            messages["pack.built_at"],
        )
    ]
    _write_report(report, summary, wide, effects, html_about, facts, messages, lang, loc)
    return Pack(
        period=period,
        folder=folder,
        workbook=workbook,
        report=report,
        csvs=csvs,
        data_version=meta.data_version,
    )


def _periods(con) -> list[str]:
    """Every quarter and year with releases, in order."""
    return [
        r[0]
        for r in con.sql(
            "select distinct period from marts.programme_indicators where period <> 'all' "
            "order by 1"
        ).fetchall()
    ]


def latest_periods(published_db: Path) -> list[str]:
    """The newest quarter and year with releases: what the job's pack asset writes."""
    con = open_published(published_db)
    try:
        periods = _periods(con)
    finally:
        con.close()
    quarters = [p for p in periods if "Q" in p]
    years = [p for p in periods if "Q" not in p]
    return quarters[-1:] + years[-1:]
