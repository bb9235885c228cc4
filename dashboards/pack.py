"""The ministry pack for a period (a quarter `2004Q2` or a year `2004`): the headline indicators
by programme, prison and partner as an Excel workbook, CSV files and a printable HTML report,
with definitions, as-of date, data version and the disclosure rules applied.

The figures are the protected indicators of `tables.indicators`, the same cells the dashboards
show, so no pack can be set against a dashboard to recover a suppressed cell. The period is the
release cohort: the releases of the period, followed up to the as-of date.
"""

from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .disclosure import THRESHOLD
from .site import LANGUAGES, load_messages
from .tables import BREAKDOWNS, metadata, open_published, protected_tables

PERIOD = re.compile(r"^(\d{4})(Q[1-4])?$")
HEADLINE = [
    "releases", "participation", "placed_before_release", "placed_within_90_days",
    "seamless_start", "in_work_day_180", "dropout_180_days",
    "reconviction_12m_participants", "reconviction_12m_comparison",
    "reconviction_24m_participants", "reconviction_24m_comparison",
    "reincarceration_12m_participants", "reincarceration_12m_comparison",
]
SHEETS = {"programme": "programmes", "prison_id": "prisons", "partner_id": "partners"}
DEFINITIONS = ["def.headline", "def.employment", "def.dropout_by", "def.rates"]
# Spreadsheet programs run a cell that starts like this as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def check_period(period: str) -> str:
    """'2004Q2' or '2004', else a PackError."""
    if not PERIOD.match(period or ""):
        raise PackError(f"--period {period!r} is neither a quarter (2004Q2) nor a year (2004)")
    return period


def safe_text(value: str) -> str:
    """Text from sources as it may enter a spreadsheet or CSV cell: never as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def pack_rows(table: pl.DataFrame, period: str, names: dict[str, str],
              messages: dict[str, str], programme_names: dict[str, str] | None = None
              ) -> dict[str, pl.DataFrame]:
    """The headline indicators of the period, one frame per sheet (programmes, prisons,
    partners), in long form with the suppressed cells marked."""
    rows = table.filter(pl.col("cohort") == period, pl.col("indicator").is_in(HEADLINE))
    order = {code: i for i, code in enumerate(HEADLINE)}
    out = {}
    for by, sheet in SHEETS.items():
        others = [d for d in BREAKDOWNS if d != by]
        part = rows.filter(*(pl.col(d) == "all" for d in others))
        if by != "programme":
            part = part.filter(pl.col(by) != "all")
        unit = pl.lit("all") if by == "programme" else pl.col(by)
        part = part.with_columns(
            unit.alias("unit_id"),
            unit.replace_strict(names, default=unit).alias("unit_name")
            if by != "programme" else pl.col("programme").replace_strict(
                programme_names or {}, default=pl.col("programme")).alias("unit_name"),
            pl.col("indicator").replace_strict(
                {c: messages[f"indicator.{c}"] for c in HEADLINE}).alias("indicator_name"),
            pl.col("indicator").replace_strict(order).alias("_order"),
        )
        out[sheet] = part.sort("programme", "unit_id", "_order").select(
            "programme", "unit_id", "unit_name", "indicator", "indicator_name", "kind",
            "numerator", "denominator", "value", "ci_low", "ci_high", "value_suppressed")
    return out


EFFECT_COLUMNS = [
    "programme", "programme_name", "cohort", "estimator", "measure", "window_months",
    "n_participants", "n_comparison", "rate_participants", "rate_comparison", "difference",
    "difference_ci_low", "difference_ci_high", "risk_ratio", "risk_ratio_ci_low",
    "risk_ratio_ci_high", "e_value", "e_value_ci", "verdict", "verdict_text",
    "verdict_language"]
EFFECT_SHARE_COLUMNS = ("rate_participants", "rate_comparison", "difference",
                        "difference_ci_low", "difference_ci_high")
EFFECT_RATIO_COLUMNS = ("risk_ratio", "risk_ratio_ci_low", "risk_ratio_ci_high", "e_value",
                        "e_value_ci")


def verdict_in(texts, lang: str, languages: list[str]) -> tuple[str | None, str | None]:
    """A row's verdict in `lang`; else English; else the programme's main language (the first
    of its languages); else any it has. Returns (text, language)."""
    by_lang = {e["key"]: e["value"] for e in (texts or []) if e.get("value")}
    for code in [lang, "en", *languages, *sorted(by_lang)]:
        if code in by_lang:
            return by_lang[code], code
    return None, None


def effect_rows(effects: pl.DataFrame, programmes: pl.DataFrame, period: str,
                lang: str) -> pl.DataFrame:
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
        out.append({
            **{c: r.get(c) for c in EFFECT_COLUMNS if c in r},
            "programme_name": programme.get("programme_name") or r["programme"],
            "verdict_text": text, "verdict_language": code,
            **{f"{c}_suppressed": bool(r.get(f"{c}_suppressed")) for c in EFFECT_COLUMNS
               if f"{c}_suppressed" in r},
            "_order": (order.get(r["programme"], len(order)), r["cohort"] != "all",
                       r["estimator"], MEASURES.index(r["measure"])
                       if r["measure"] in MEASURES else 99, r["window_months"]),
        })
    if not out:
        return pl.DataFrame({c: [] for c in EFFECT_COLUMNS})
    out.sort(key=lambda r: r["_order"])
    frame = pl.DataFrame([{k: v for k, v in r.items() if k != "_order"} for r in out],
                         infer_schema_length=None)
    flags = [c for c in frame.columns if c.endswith("_suppressed")]
    return frame.select(EFFECT_COLUMNS + flags)


def _effect_cell(row: dict, column: str, suppressed: str):
    """A cell of the effects sheet: the value, the word for suppressed, or None (blank)."""
    value = row[column]
    if value is None and row.get(f"{column}_suppressed"):
        return suppressed
    return value


def _write_effects_csv(frame: pl.DataFrame, path: Path, suppressed: str) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(EFFECT_COLUMNS)
        for row in frame.iter_rows(named=True):
            cells = [_effect_cell(row, c, suppressed) for c in EFFECT_COLUMNS]
            writer.writerow([safe_text(v) if isinstance(v, str) else ("" if v is None else v)
                             for v in cells])


def _write_csv(frame: pl.DataFrame, path: Path, suppressed: str) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(frame.columns[:-1])
        for row in frame.iter_rows():
            *values, hidden = row
            writer.writerow([
                safe_text(v) if isinstance(v, str)
                else (suppressed if v is None and hidden else ("" if v is None else v))
                for v in values])


def _write_workbook(path: Path, sheets: dict[str, pl.DataFrame], about: list[tuple[str, str]],
                    messages: dict[str, str], effects: pl.DataFrame | None = None) -> None:
    import xlsxwriter

    # strings_to_formulas off: a text cell is always a string, whatever it starts with.
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                           "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    pct = book.add_format({"num_format": "0.0%"})
    num = book.add_format({"num_format": "#,##0.##"})
    grey = book.add_format({"italic": True, "font_color": "#555555"})
    sheet = book.add_worksheet(messages["pack.about"][:31])
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 100)
    for r, (key, text) in enumerate(about):
        sheet.write_string(r, 0, key, bold)
        sheet.write_string(r, 1, text, wrap)
    suppressed = messages["chart.suppressed"]
    for name, frame in sheets.items():
        ws = book.add_worksheet(messages[f"pack.{name}"][:31])
        columns = frame.columns[:-1]
        for c, column in enumerate(columns):
            ws.write_string(0, c, messages.get(f"pack.col.{column}", column), bold)
        ws.set_column(0, len(columns), 16)
        ws.set_column(2, 2, 32)
        ws.set_column(4, 4, 40)
        ws.freeze_panes(1, 0)
        for r, row in enumerate(frame.iter_rows(), start=1):
            *values, hidden = row
            kind = values[columns.index("kind")]
            for c, value in enumerate(values):
                column = columns[c]
                if value is None:
                    if hidden and column in ("numerator", "denominator", "value", "ci_low",
                                             "ci_high"):
                        ws.write_string(r, c, suppressed, grey)
                    else:
                        ws.write_blank(r, c, None)
                elif isinstance(value, str):
                    ws.write_string(r, c, value)
                else:
                    share = column in ("value", "ci_low", "ci_high") and kind == "share"
                    ws.write_number(r, c, float(value), pct if share else num)
    if effects is not None:
        ratio = book.add_format({"num_format": "0.00"})
        ws = book.add_worksheet(messages["pack.effects"][:31])
        for c, column in enumerate(EFFECT_COLUMNS):
            ws.write_string(0, c, messages.get(f"pack.col.{column}", column), bold)
        ws.set_column(0, len(EFFECT_COLUMNS), 14)
        ws.set_column(1, 1, 32)
        ws.set_column(EFFECT_COLUMNS.index("verdict_text"),
                      EFFECT_COLUMNS.index("verdict_text"), 90, wrap)
        ws.freeze_panes(1, 2)
        for r, row in enumerate(effects.iter_rows(named=True), start=1):
            for c, column in enumerate(EFFECT_COLUMNS):
                value = _effect_cell(row, column, suppressed)
                if value is None:
                    ws.write_blank(r, c, None)
                elif value is suppressed:
                    ws.write_string(r, c, suppressed, grey)
                elif isinstance(value, str):
                    ws.write_string(r, c, value)
                elif column in EFFECT_SHARE_COLUMNS:
                    ws.write_number(r, c, float(value), pct)
                elif column in EFFECT_RATIO_COLUMNS:
                    ws.write_number(r, c, float(value), ratio)
                else:
                    ws.write_number(r, c, float(value), num)
    book.close()


def _html_table(frame: pl.DataFrame, messages: dict[str, str]) -> str:
    suppressed = html.escape(messages["chart.suppressed"])
    head = "".join(f"<th>{html.escape(messages[k])}</th>" for k in
                   ("pack.col.unit_name", "pack.col.indicator_name", "pack.col.numerator",
                    "pack.col.denominator", "pack.col.value", "chart.interval"))
    body = []
    for r in frame.iter_rows(named=True):
        share = r["kind"] == "share"

        def fmt(v, as_share=False, r=r):
            if v is None:
                return f'<td class="s">{suppressed}</td>' if r["value_suppressed"] else \
                    "<td>–</td>"
            return f"<td>{v:.1%}</td>" if as_share else f"<td>{v:,.0f}</td>"
        interval = (f"<td>{r['ci_low']:.1%} – {r['ci_high']:.1%}</td>"
                    if share and r["ci_low"] is not None and r["ci_high"] is not None
                    else fmt(None) if r["value_suppressed"] else "<td></td>")
        body.append(
            f"<tr><td>{html.escape(r['unit_name'])}</td>"
            f"<td>{html.escape(r['indicator_name'])}</td>{fmt(r['numerator'])}"
            f"{fmt(r['denominator'])}{fmt(r['value'], share)}{interval}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _effects_html(frame: pl.DataFrame, messages: dict[str, str]) -> str:
    """Per programme and cohort: the headline verdict, then a table of every effect."""
    suppressed = html.escape(messages["chart.suppressed"])
    out = []

    def cell(row, column, as_share=False, digits=2):
        value = _effect_cell(row, column, messages["chart.suppressed"])
        if value is None:
            return "–"
        if isinstance(value, str):
            return suppressed if value == messages["chart.suppressed"] else html.escape(value)
        return f"{value:+.1%}" if as_share == "signed" else (
            f"{value:.1%}" if as_share else f"{value:,.{digits}f}")

    def interval(row, low, high, as_share=False):
        a, b = cell(row, low, as_share), cell(row, high, as_share)
        return "–" if a == "–" and b == "–" else f"{a} – {b}"

    head = "".join(f"<th>{html.escape(messages[k])}</th>" for k in (
        "pack.col.estimator", "pack.col.measure", "pack.col.n_participants",
        "pack.col.rate_participants", "pack.col.rate_comparison", "pack.col.difference",
        "chart.interval", "pack.col.risk_ratio", "chart.interval", "pack.col.e_value",
        "pack.col.e_value_ci", "pack.col.verdict_text"))
    for (_, cohort), part in frame.group_by(["programme", "cohort"],
                                                    maintain_order=True):
        name = part["programme_name"][0]
        headline = part.filter(pl.col("estimator") == "matched",
                               pl.col("measure") == "reconviction",
                               pl.col("window_months") == 24)
        lead = ""
        if headline.height and headline["verdict_text"][0]:
            lead = f'<p class="verdict">{html.escape(headline["verdict_text"][0])}</p>'
        body = []
        for r in part.iter_rows(named=True):
            measure = (f"{messages.get('measure.' + r['measure'], r['measure'])} · "
                       f"{messages.get('window.' + str(r['window_months']), r['window_months'])}")
            estimator = messages.get("estimator." + r["estimator"], r["estimator"])
            verdict = r["verdict_text"] or messages.get("verdict." + (r["verdict"] or ""), "")
            body.append(
                f"<tr><td>{html.escape(estimator)}</td><td>{html.escape(measure)}</td>"
                f"<td>{cell(r, 'n_participants', digits=0)}</td>"
                f"<td>{cell(r, 'rate_participants', True)}</td>"
                f"<td>{cell(r, 'rate_comparison', True)}</td>"
                f"<td>{cell(r, 'difference', 'signed')}</td>"
                f"<td>{interval(r, 'difference_ci_low', 'difference_ci_high', 'signed')}</td>"
                f"<td>{cell(r, 'risk_ratio')}</td>"
                f"<td>{interval(r, 'risk_ratio_ci_low', 'risk_ratio_ci_high')}</td>"
                f"<td>{cell(r, 'e_value')}</td><td>{cell(r, 'e_value_ci')}</td>"
                f"<td class=\"t\">{html.escape(verdict)}</td></tr>")
        out.append(f"<h2>{html.escape(messages['pack.effects'])} · {html.escape(name)} · "
                   f"{html.escape(messages['pack.col.cohort'])} {html.escape(cohort)}</h2>"
                   f"{lead}<table class=\"effects\"><thead><tr>{head}</tr></thead><tbody>"
                   f"{''.join(body)}</tbody></table>")
    return "".join(out)


def _write_report(path: Path, period: str, sheets: dict[str, pl.DataFrame],
                  about: list[tuple[str, str]], messages: dict[str, str], lang: str,
                  effects: pl.DataFrame | None = None,
                  programme_names: dict[str, str] | None = None) -> None:
    sections = [_effects_html(effects, messages)] if effects is not None and effects.height \
        else []
    programme_names = programme_names or {}
    for name, frame in sheets.items():
        for programme in frame["programme"].unique(maintain_order=True).to_list():
            part = frame.filter(pl.col("programme") == programme)
            sections.append(
                f"<h2>{html.escape(messages[f'pack.{name}'])} · "
                f"{html.escape(programme_names.get(programme, programme))}</h2>"
                + _html_table(part, messages))
    facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in about)
    path.write_text(f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{html.escape(messages['pack.title'])} {html.escape(period)}</title>
<style>
body {{ font: 11pt/1.4 system-ui, sans-serif; margin: 2em; color: #1a1a1a; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }}
th, td {{ border-bottom: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
th:nth-child(-n+2), td:nth-child(-n+2) {{ text-align: left; }}
td.s {{ color: #555; font-style: italic; }}
table.effects {{ font-size: 9pt; }}
table.effects td.t {{ text-align: left; min-width: 24em; }}
p.verdict {{ font-size: 1.05em; max-width: 60em; }}
dt {{ font-weight: 600; margin-top: .5em; }} dd {{ margin: 0 0 0 1em; }}
h2 {{ font-size: 1.1em; margin-top: 1.5em; }}
@media print {{ body {{ margin: 0; }} h2 {{ page-break-after: avoid; }}
               tr {{ page-break-inside: avoid; }} }}
</style></head>
<body>
<h1>{html.escape(messages['pack.title'])} {html.escape(period)}</h1>
<dl>{facts}</dl>
{''.join(sections)}
</body></html>
""", encoding="utf-8")


def build_pack(published_db: Path, reports_dir: Path, period: str, data_version: str,
               names: dict[str, str] | None = None, lang: str = "en",
               cache_dir: Path | None = None) -> Pack:
    """Write the pack for `period` into `reports_dir/<period>/`."""
    check_period(period)
    if lang not in LANGUAGES:
        raise PackError(f"--lang {lang!r}: choose one of {', '.join(LANGUAGES)}")
    messages = load_messages()[lang]
    con = open_published(published_db)
    try:
        meta = metadata(con, data_version)
        available = _periods(con)
        if period not in available:
            raise PackError(
                f"no releases in period {period}: the published database holds "
                f"{available[0]} to {available[-1]}" if available else
                "the published database holds no periods")
    finally:
        con.close()
    tables = protected_tables(published_db, ["indicators", "programmes", "effects"], cache_dir,
                              data_version)
    programmes = tables["programmes"]
    programme_names = {r["programme"]: r["programme_name"] or r["programme"]
                       for r in programmes.iter_rows(named=True)}
    order = {p: i for i, p in enumerate(programme_names)}
    table = tables["indicators"].sort(
        pl.col("programme").replace_strict(order, default=len(order)), maintain_order=True)
    sheets = pack_rows(table, period, names or {}, messages, programme_names)
    effects = effect_rows(tables["effects"], programmes, period, lang)
    about = [
        (messages["pack.period"], period),
        (messages["pack.cohort_note"], messages["pack.cohort_text"].format(period=period)),
        (messages["pack.as_of"], meta.as_of_date),
        (messages["pack.data_version"], meta.data_version),
        (messages["pack.built_at"], meta.built_at),
        (messages["pack.disclosure"], messages["pack.disclosure_text"].format(
            threshold=THRESHOLD)),
        *((messages["chart.definition"], messages[key]) for key in DEFINITIONS),
        (messages["pack.effects"], messages["pack.effects_text"]),
        (messages["chart.definition"], messages["def.forest"]),
        (messages["chart.definition"], messages["def.evalues"]),
    ]
    folder = reports_dir / period
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"reentry-pack-{period}-{lang}"  # packs in several languages live side by side
    workbook = folder / f"{stem}.xlsx"
    _write_workbook(workbook, sheets, about, messages, effects)
    csvs = []
    for name, frame in sheets.items():
        path = folder / f"{stem}-{name}.csv"
        _write_csv(frame, path, messages["chart.suppressed"])
        csvs.append(path)
    path = folder / f"{stem}-effects.csv"
    _write_effects_csv(effects, path, messages["chart.suppressed"])
    csvs.append(path)
    report = folder / f"{stem}.html"
    _write_report(report, period, sheets, about, messages, lang, effects, programme_names)
    return Pack(period=period, folder=folder, workbook=workbook, report=report, csvs=csvs,
                data_version=meta.data_version)


def _periods(con) -> list[str]:
    """Every quarter and year with releases, in order."""
    return [r[0] for r in con.sql(
        "select distinct period from marts.programme_indicators where period <> 'all' "
        "order by 1").fetchall()]


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
