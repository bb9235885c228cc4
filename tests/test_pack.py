"""The ministry pack: read back from the workbook, the CSVs and the printed report, and checked
against the marts and the disclosure rules; text from sources never becomes a formula."""

from __future__ import annotations

import hashlib
import html
import re
import subprocess
import zipfile
from xml.etree import ElementTree

import polars as pl
import pytest

from reentry.cli import main
from reentry.outputs.disclosure import THRESHOLD
from reentry.outputs.pack import EFFECT_COLUMNS, PACK_INDICATORS, build_pack
from reentry.outputs.render import render_packs
from reentry.outputs.site import EFFECT_HEADLINE, load_messages
from reentry.outputs.tables import EFFECT_DIFFERENCE, EFFECT_ESTIMATES
from reentry.settings import Workdir
from tests.browser import CHROMIUM_ARGS, ensure_chromium
from tests.conftest import query

EN = load_messages()["en"]
DE = load_messages()["de"]
SUPPRESSED = EN["chart.suppressed"]
MISSING = "–"
WIDE = {"Prisons": "prison_id", "Partners": "partner_id", "Programmes": None}
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.fixture(scope="module")
def pack(built_demo):
    """The job wrote packs for the newest quarter and year; make one for an earlier quarter
    through the command line, as a ministry would."""
    root = built_demo["root"]
    assert main(["report", "--period", "2004Q2", "--workdir", str(root)]) == 0
    folder = root / "reports" / "2004Q2"
    return {
        "folder": folder,
        "workbook": folder / "reentry-pack-2004Q2-en.xlsx",
        "published": built_demo["published"],
        "root": root,
    }


@pytest.fixture(scope="module")
def german(pack):
    (made,) = render_packs(Workdir(pack["root"]), None, ["2004Q2"], lang="de")
    return made


def sheet(workbook, name: str) -> pl.DataFrame:
    """A sheet's cells as text, no header (the wide sheets have two header rows)."""
    return pl.read_excel(
        workbook, sheet_name=name, engine="calamine", has_header=False, infer_schema_length=0
    )


def long_sheet(workbook) -> pl.DataFrame:
    return pl.read_excel(
        workbook, sheet_name=EN["pack.long"], engine="calamine", infer_schema_length=0
    )


def read_csv(path, separator: str = ",") -> pl.DataFrame:
    """A pack CSV as documented: skip the `#` comment line."""
    return pl.read_csv(path, separator=separator, comment_prefix="#", infer_schema_length=0)


def sheet_names(workbook) -> list[str]:
    with zipfile.ZipFile(workbook) as book:
        root = ElementTree.fromstring(book.read("xl/workbook.xml"))
    return [s.get("name") for s in root.iter(f"{MAIN}sheet")]


def sheet_xml(workbook, name: str) -> tuple[ElementTree.Element, list[str]]:
    """The sheet's XML and the number format of every cell style (index = `s`)."""
    with zipfile.ZipFile(workbook) as book:
        index = sheet_names(workbook).index(name)
        # XlsxWriter names the parts by position.
        root = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{index + 1}.xml"))
        styles = ElementTree.fromstring(book.read("xl/styles.xml"))
    custom = {f.get("numFmtId"): f.get("formatCode") for f in styles.iter(f"{MAIN}numFmt")}
    xfs = styles.find(f"{MAIN}cellXfs")
    formats = [custom.get(xf.get("numFmtId"), "General") for xf in xfs]
    return root, formats


def wide_columns(book: pl.DataFrame) -> list[tuple[str | None, str]]:
    """(indicator code, 'value' or 'denominator') per column of a wide sheet, from its two
    header rows (the indicator's name over its columns, then % or n)."""
    names = {EN[f"indicator.{c}"]: c for c in PACK_INDICATORS}
    groups, labels = book.row(0), book.row(1)
    out, current = [], None
    for group, label in zip(groups, labels, strict=True):
        if group:
            current = names.get(group)
        code = current if label in ("%", "n") else None
        field = "denominator" if label == "n" and out and out[-1][0] == code else "value"
        out.append((code, field))
    return out


def test_the_job_wrote_the_newest_quarter_and_year(built_demo) -> None:
    reports = built_demo["root"] / "reports"
    periods = sorted(p.name for p in reports.iterdir() if p.is_dir())
    newest = query(
        built_demo["published"],
        "select max(period) filter (where period like "
        "'%Q%'), max(period) filter (where period not like '%Q%' and period <> "
        "'all') from marts.programme_indicators",
    )[0]
    assert set(newest) <= set(periods)
    for period in newest:
        assert (reports / period / f"reentry-pack-{period}-en.xlsx").exists()
        assert (reports / period / f"reentry-pack-{period}-en.html").exists()


def marts_indicators(published) -> pl.DataFrame:
    """The unprotected figures of the quarter and its year (a quarter's prisons and partners
    are published for its year)."""
    return pl.DataFrame(
        query(
            published,
            """
        select period, programme, prison_id, partner_id, indicator, kind, numerator,
               denominator, value
        from marts.programme_indicators
        where period in ('2004Q2', '2004') and sex = 'all' and age_band = 'all'""",
        ),
        schema=[
            "cohort",
            "programme",
            "prison_id",
            "partner_id",
            "indicator",
            "kind",
            "numerator",
            "denominator",
            "value",
        ],
        orient="row",
    )


def test_long_sheet_figures_are_the_marts_figures_or_suppressed(pack) -> None:
    marts = marts_indicators(pack["published"])
    checked = hidden = 0
    book = long_sheet(pack["workbook"])
    assert set(book["Indicator code"].unique().to_list()) <= set(PACK_INDICATORS)
    prisons = set(marts["prison_id"].to_list()) - {"all"}
    for row in book.iter_rows(named=True):
        unit = row["Unit"]
        prison = unit if unit in prisons else "all"
        partner = "all" if unit == "all" or unit in prisons else unit
        # The programme for the quarter; prisons and partners for its year.
        assert row["Cohort"] == ("2004Q2" if unit == "all" else "2004"), row
        want = marts.filter(
            pl.col("cohort") == row["Cohort"],
            pl.col("programme") == row["Programme"],
            pl.col("indicator") == row["Indicator code"],
            pl.col("prison_id") == prison,
            pl.col("partner_id") == partner,
        )
        assert want.height == 1, row
        truth = want.row(0, named=True)
        for column, label in (("numerator", "Numerator"), ("denominator", "Denominator")):
            shown = row[label]
            value = truth[column]
            if value is None:
                assert shown in (MISSING, SUPPRESSED), (row, truth)
                continue
            if value < THRESHOLD and truth["kind"] in ("share", "count"):
                # Primary suppression: small counts never appear, nor as zero.
                assert shown == SUPPRESSED, (row, truth)
            if shown == SUPPRESSED:
                hidden += 1
            else:
                assert float(shown) == pytest.approx(value), (row, truth)
                assert float(shown).is_integer()
                checked += 1
        if row["Numerator"] == SUPPRESSED or row["Denominator"] == SUPPRESSED:
            assert row["Value"] == SUPPRESSED
    assert checked > 100 and hidden > 10


def test_wide_sheets_one_row_per_unit_with_the_marts_figures(pack) -> None:
    """Units in rows, indicators in columns (a share's value and its n side by side)."""
    marts = marts_indicators(pack["published"])
    names = {
        r[0]: r[1]
        for r in query(pack["published"], "select programme, programme_name from marts.programmes")
    }
    checked = hidden = 0
    for name, by in WIDE.items():
        book = sheet(pack["workbook"], name)
        columns = wide_columns(book)
        assert {c for c, _ in columns if c} == set(PACK_INDICATORS), name
        labels = book.row(1)
        rows = book.slice(2)
        if by is None:
            assert labels[:2] == ("Programme", "Cohort")
            units = [(next(p for p, n in names.items() if n == r[0]), "all") for r in rows.rows()]
        else:
            assert labels[:4] == ("Name", "Code", "Programme", "Cohort")
            units = [(next(p for p, n in names.items() if n == r[2]), r[1]) for r in rows.rows()]
        # The quarter for the programmes; its year for prisons and partners (quarters are
        # published without break-downs).
        cohort = "2004Q2" if by is None else "2004"
        assert set(rows.to_series(labels.index("Cohort")).to_list()) == {cohort}, name
        # One row per unit: every unit of the period once.
        want_units = (
            marts.filter(
                pl.col(by) != "all", *(pl.col(d) == "all" for d in WIDE.values() if d and d != by)
            )
            if by
            else marts.filter(pl.col("prison_id") == "all", pl.col("partner_id") == "all")
        )
        want_units = want_units.filter(pl.col("cohort") == cohort)
        want_units = want_units.filter(pl.col("indicator").is_in(PACK_INDICATORS))
        assert sorted(units) == sorted(
            set(want_units.select("programme", pl.lit("all") if by is None else pl.col(by)).rows())
        ), name
        for (programme, unit), cells in zip(units, rows.rows(), strict=True):
            for (code, field), shown in zip(columns, cells, strict=True):
                if code is None:
                    continue
                truth = want_units.filter(
                    pl.col("programme") == programme,
                    pl.col("indicator") == code,
                    pl.lit(True) if by is None else pl.col(by) == unit,
                )
                if truth.height == 0:  # no such figure for this unit
                    assert shown == MISSING, (name, programme, unit, code)
                    continue
                assert truth.height == 1, (name, programme, unit, code)
                value = truth[field][0]
                kind = truth["kind"][0]
                assert shown is not None and shown != "", (name, unit, code, field)
                if shown == SUPPRESSED:
                    hidden += 1
                elif shown == MISSING:
                    assert value is None, (name, unit, code, field)
                else:
                    assert float(shown) == pytest.approx(value), (name, unit, code, field)
                    if field == "denominator" or kind == "count":
                        assert value >= THRESHOLD
                    checked += 1
                if field == "denominator" and value is not None and value < THRESHOLD:
                    assert shown == SUPPRESSED
    assert checked > 100 and hidden > 10


def test_wide_sheets_have_autofilter_frozen_panes_and_fitting_widths(pack) -> None:
    for name in (*WIDE, EN["pack.effects"], EN["pack.long"]):
        root, _ = sheet_xml(pack["workbook"], name)
        header = 2 if name in WIDE else 1
        autofilter = root.find(f"{MAIN}autoFilter")
        assert autofilter is not None, name
        assert autofilter.get("ref").split(":")[0] == f"A{header}", name
        pane = root.find(f"{MAIN}sheetViews/{MAIN}sheetView/{MAIN}pane")
        assert pane is not None and pane.get("state") == "frozen", name
        assert pane.get("ySplit") == str(header) and int(pane.get("xSplit")) >= 1, name
        widths = {int(c.get("min")): float(c.get("width")) for c in root.iter(f"{MAIN}col")}
        book = sheet(pack["workbook"], name)
        labels = book.row(header - 1)
        for i, column in enumerate(book.columns):
            width = next(w for start, w in sorted(widths.items(), reverse=True) if start <= i + 1)
            # Text (names, the word for suppressed) fits; long text wraps in a wide column.
            texts = [
                v
                for v in book[column].slice(header).drop_nulls().to_list()
                if not re.fullmatch(r"-?[\d.e+-]+", v)
            ]
            longest = max(map(len, texts), default=0)
            assert width >= longest + 1 or width >= 60, (name, column, longest, width)
            # A header wraps between words, never inside one; numbers get room.
            assert width >= max(map(len, (labels[i] or "").split()), default=0), (name, i)
            assert width >= 5


def test_counts_are_integers_and_shares_percentages(pack) -> None:
    """No '#,##0.##' (Excel shows 256 as '256.'): counts '#,##0', shares '0.0%'."""
    for name in (*WIDE, EN["pack.summary"], EN["pack.effects"], EN["pack.long"]):
        root, formats = sheet_xml(pack["workbook"], name)
        assert not any(".##" in f for f in formats)
        book = sheet(pack["workbook"], name)
        start = (
            1
            if name in WIDE
            else next(i for i, r in enumerate(book.rows()) if r[0] == EN["pack.col.programme"])
        )
        labels = book.row(start)
        seen = set()
        for cell in root.iter(f"{MAIN}c"):
            if cell.get("t") is not None or cell.find(f"{MAIN}v") is None:
                continue  # text
            column, row = re.fullmatch(r"([A-Z]+)(\d+)", cell.get("r")).groups()
            if int(row) <= start + 1:
                continue  # above the table (the summary's as-of date)
            index = sum((ord(ch) - 64) * 26**i for i, ch in enumerate(reversed(column))) - 1
            label = labels[index]
            fmt = formats[int(cell.get("s", 0))]
            value = float(cell.find(f"{MAIN}v").text)
            if label in (
                "n",
                EN["pack.col.n_participants"],
                EN["pack.col.n_comparison"],
                EN["pack.col.numerator"],
                EN["pack.col.denominator"],
                EN["pack.col.window_months"],
            ):
                assert fmt == "#,##0" and value.is_integer(), (name, label, fmt, value)
                seen.add("count")
            elif label in ("%", EN["pack.col.rate_participants"], EN["pack.col.rate_comparison"]):
                assert fmt == "0.0%", (name, label, fmt)
                seen.add("share")
            elif label in (EN["pack.col.risk_ratio"], EN["pack.col.e_value"]):
                assert fmt == "0.00", (name, label, fmt)
            elif label in (EN["pack.col.value"], EN["pack.col.ci_low"], EN["pack.col.ci_high"]):
                # The long sheet: by the row's kind (counts and shares here).
                assert fmt in ("#,##0", "0.0%"), (name, label, fmt)
                seen.add("share" if fmt == "0.0%" else "count")
        assert name == EN["pack.summary"] or seen >= {"count", "share"}, (name, seen)


def test_summary_sheet_first_with_each_programmes_headline_effect(pack) -> None:
    assert sheet_names(pack["workbook"])[0] == EN["pack.summary"]
    book = sheet(pack["workbook"], EN["pack.summary"])
    cells = {r[0]: r[1] for r in book.rows() if r[0]}
    version = hashlib.sha256(pack["published"].read_bytes()).hexdigest()
    as_of = str(query(pack["published"], "select as_of_date from marts.run_metadata")[0][0])
    assert cells[EN["pack.data_version"]] == version
    assert cells[EN["pack.as_of"]].startswith(as_of)  # a date cell
    assert cells[EN["pack.period"]] == "2004Q2"
    where = " and ".join(f"e.{k} = '{v}'" for k, v in EFFECT_HEADLINE.items())
    truth = {
        r[0]: r[1:]
        for r in query(
            pack["published"],
            f"""
        select p.programme_name, e.n_participants, e.n_comparison, e.rate_participants,
               e.rate_comparison, e.difference, e.difference_ci_low, e.difference_ci_high,
               map_entries(e.verdict_texts), p.languages
        from marts.programme_effects e join marts.programmes p using (programme)
        where e.outcome = 'rate' and {where}""",
        )
    }
    assert truth
    start = next(i for i, r in enumerate(book.rows()) if r[0] == EN["pack.col.programme"])
    header = book.row(start)
    rows = [
        dict(zip(header, r, strict=True)) for r in book.slice(start + 1).rows() if r[0] in truth
    ]
    # One line per programme: participants against comparison.
    assert sorted(r[header[0]] for r in rows) == sorted(truth)
    for row in rows:
        *numbers, texts, languages = truth[row[header[0]]]
        for key, value in zip(
            ("n_participants", "n_comparison", *EFFECT_DIFFERENCE),
            numbers,
            strict=True,
        ):
            shown = row[EN[f"pack.col.{key}"]]
            if shown == SUPPRESSED:
                continue
            assert value is not None, key
            if key.startswith("n_"):
                assert value >= THRESHOLD and int(shown) == value, key
            else:
                assert float(shown) == pytest.approx(value, abs=6e-4), key
        by_lang = {e["key"]: e["value"] for e in texts or []}
        want = next((by_lang[c] for c in ("en", *languages) if by_lang.get(c)), None)
        if want and row[EN["pack.col.rate_participants"]] != SUPPRESSED:
            assert row[EN["pack.col.verdict_text"]].startswith(want)


def test_the_about_sheet_names_version_as_of_and_the_rules(pack) -> None:
    about = pl.read_excel(pack["workbook"], sheet_name="About", engine="calamine", has_header=False)
    text = "\n".join(" ".join(str(v) for v in r if v is not None) for r in about.rows())
    version = hashlib.sha256(pack["published"].read_bytes()).hexdigest()
    as_of = str(query(pack["published"], "select as_of_date from marts.run_metadata")[0][0])
    assert version in text and as_of in text and "2004Q2" in text
    assert f"below {THRESHOLD}" in text and "suppressed" in text
    report = (pack["folder"] / "reentry-pack-2004Q2-en.html").read_text(encoding="utf-8")
    assert version in report and as_of in report


def test_source_text_never_becomes_a_formula(pack, tmp_path) -> None:
    prisons = [
        r[0] for r in query(pack["published"], "select distinct prison_id from marts.releases")
    ]
    evil = {
        prisons[0]: '=HYPERLINK("http://example.invalid","x")',
        prisons[1]: "+1+1",
        prisons[2]: "@SUM(A1)",
    }
    made = build_pack(pack["published"], tmp_path, "2004", "v", evil)
    with zipfile.ZipFile(made.workbook) as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in book.read(name).decode("utf-8"), name
    names = set(sheet(made.workbook, "Prisons")["column_0"].to_list())
    assert set(evil.values()) <= names  # kept as the text it is
    csv = (tmp_path / "2004" / "reentry-pack-2004-en-prisons.csv").read_text(encoding="utf-8-sig")
    for value in evil.values():
        assert "'" + value.replace('"', '""') in csv or "'" + value in csv


def test_a_pack_in_german_and_the_same_cells(pack, german) -> None:
    with zipfile.ZipFile(german.workbook) as book:
        assert any(
            "Justizvollzugsanst" in book.read(n).decode("utf-8")
            for n in book.namelist()
            if n.endswith("workbook.xml")
        )
    english = read_csv(pack["folder"] / "reentry-pack-2004Q2-en-prisons.csv")
    again = read_csv(next(p for p in german.csvs if p.name.endswith("-prisons.csv")), ";")
    assert english.shape == again.shape
    # Same cells hidden in either language: the suppression does not depend on the language.
    for a, b in zip(english.columns, again.columns, strict=True):
        hidden = (again[b] == DE["chart.suppressed"]).to_list()
        assert (english[a] == SUPPRESSED).to_list() == hidden, (a, b)


def test_csvs_follow_the_language(pack, german) -> None:
    """DE: `;`, decimal comma, German headers, the as-of date as 31.12.2009 and the data
    version in the `#` comment line; EN: `,` and decimal point. Counts never as '256.0'."""
    version = hashlib.sha256(pack["published"].read_bytes()).hexdigest()
    as_of = query(pack["published"], "select as_of_date from marts.run_metadata")[0][0]
    for made, lang, sep in ((german, "de", ";"), (None, "en", ",")):
        paths = made.csvs if made else sorted(pack["folder"].glob("reentry-pack-2004Q2-en-*.csv"))
        assert {p.name.rsplit("-", 1)[1] for p in paths} >= {
            "summary.csv",
            "programmes.csv",
            "prisons.csv",
            "partners.csv",
            "effects.csv",
        }
        messages = load_messages()[lang]
        decimal, other = (",", ".") if lang == "de" else (".", ",")
        for path in paths:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
            comment = lines[0]
            assert comment.startswith("# ") and version in comment, path
            day = as_of.strftime("%d.%m.%Y") if lang == "de" else as_of.isoformat()
            assert day in comment, (path, comment)
            frame = read_csv(path, sep)
            assert frame.width > 3, path  # the delimiter split the header
            for column in frame.columns:
                values = [
                    v
                    for v in frame[column].to_list()
                    if v not in (None, "", messages["chart.suppressed"])
                ]
                if column.endswith("(n)") or column in (
                    messages["pack.col.n_participants"],
                    messages["pack.col.n_comparison"],
                    messages["pack.col.numerator"],
                    messages["pack.col.denominator"],
                ):
                    assert all(re.fullmatch(r"\d+", v) for v in values), (path, column)
                if column.endswith(" (%)"):
                    assert all(re.fullmatch(rf"-?\d+\{decimal}\d", v) for v in values), (
                        path,
                        column,
                        values[:5],
                    )
                    assert not any(other in v for v in values)
        headers = read_csv(next(p for p in paths if p.name.endswith("-prisons.csv")), sep).columns
        assert headers[:3] == [
            messages["pack.col.unit_name"],
            messages["pack.col.code"],
            messages["pack.col.programme"],
        ]
        assert f"{messages['indicator.participation']} (%)" in headers
        assert f"{messages['indicator.releases']} (n)" in headers


def test_bad_periods_get_a_clear_message(pack, capsys) -> None:
    root = str(pack["root"])
    assert main(["report", "--period", "2004Q5", "--workdir", root]) == 2
    assert "neither a quarter" in capsys.readouterr().err
    assert main(["report", "--period", "1999", "--workdir", root]) == 2
    err = capsys.readouterr().err
    assert "no releases in period 1999" in err and "2002" in err


EFFECT_NUMBERS = ("n_participants", "n_comparison", *EFFECT_ESTIMATES)
PERCENT = (
    "rate_participants",
    "rate_comparison",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
)


def effects_csv(path, separator: str = ",") -> pl.DataFrame:
    """The effects CSV with its translated headers renamed to the column codes."""
    frame = read_csv(path, separator)
    assert frame.width == len(EFFECT_COLUMNS)
    return frame.rename(dict(zip(frame.columns, EFFECT_COLUMNS, strict=True)))


def test_the_effects_sheet_is_programme_effects(pack) -> None:
    book = sheet(pack["workbook"], "Effects")
    path = pack["folder"] / "reentry-pack-2004Q2-en-effects.csv"
    headers = read_csv(path).columns
    assert headers[0] == EN["pack.col.programme"]
    assert (
        headers[EFFECT_COLUMNS.index("rate_participants")]
        == f"{EN['pack.col.rate_participants']} (%)"
    )
    csv = effects_csv(path)
    assert book.height - 1 == csv.height
    marts = query(
        pack["published"],
        f"""
        select e.programme, cohort, estimator, measure, window_months,
               {", ".join("e." + c for c in EFFECT_NUMBERS)}, verdict,
               map_entries(verdict_texts),
               p.programme_name, p.languages
        from marts.programme_effects e join marts.programmes p using (programme)
        where outcome = 'rate' and estimator in ('matched', 'weighted')
          and cohort in ('all', '2004')""",
    )
    truth = {r[:5]: r[5:] for r in marts}
    seen = set()
    checked = 0
    for row in csv.iter_rows(named=True):
        key = (
            row["programme"],
            row["cohort"],
            row["estimator"],
            row["measure"],
            int(row["window_months"]),
        )
        assert key in truth, key
        seen.add(key)
        *numbers, verdict, texts, name, languages = truth[key]
        assert row["programme_name"] == name
        assert row["verdict"] == verdict
        for column, value in zip(EFFECT_NUMBERS, numbers, strict=True):
            shown = row[column]
            if shown == SUPPRESSED:
                continue
            if value is None:
                assert shown in (None, ""), (key, column)
                continue
            if column.startswith("n_"):
                assert value >= THRESHOLD and shown == str(value), (key, column)
            elif column in PERCENT:  # in %, rounded as the verdicts state them
                assert float(shown) / 100 == pytest.approx(value, abs=6e-4), (key, column)
            else:  # ratios with two decimals
                assert float(shown) == pytest.approx(value, abs=6e-3), (key, column)
            checked += 1
        by_lang = {e["key"]: e["value"] for e in texts or []}
        want = next((by_lang[c] for c in ("en", *languages) if by_lang.get(c)), None)
        if row["rate_participants"] != SUPPRESSED:
            assert row["verdict_text"] == want, key
            assert row["verdict_language"] in by_lang
    assert seen == set(truth)
    assert checked > 100
    # The workbook holds the same cells as the CSV (text as text, never a formula).
    for a, b in zip(book.slice(1).iter_rows(), csv.iter_rows(), strict=True):
        for column, x, y in zip(EFFECT_COLUMNS, a, b, strict=True):
            if y is None or y == "":
                assert x in (None, "", MISSING), column
            elif y == SUPPRESSED or column not in EFFECT_NUMBERS and column != "window_months":
                assert x == y, column
            else:
                scale = 100 if column in PERCENT else 1
                assert float(x) * scale == pytest.approx(float(y), abs=0.051), column
    report = (pack["folder"] / "reentry-pack-2004Q2-en.html").read_text(encoding="utf-8")
    headline = next(
        r
        for r in csv.iter_rows(named=True)
        if r["cohort"] == "all"
        and r["estimator"] == "matched"
        and r["measure"] == "reconviction"
        and r["window_months"] == "24"
    )
    assert html.escape(headline["verdict_text"]) in report


def test_a_german_pack_falls_back_to_english_or_the_main_language(pack, german) -> None:
    effects = effects_csv(next(p for p in german.csvs if p.name.endswith("-effects.csv")), ";")
    languages = dict(query(pack["published"], "select programme, languages from marts.programmes"))
    for row in effects.iter_rows(named=True):
        if row["verdict_text"] in (None, "", "unterdrückt"):
            continue
        langs = languages[row["programme"]]
        want = "de" if "de" in langs else "en" if "en" in langs else langs[0]
        assert row["verdict_language"] == want, row


def test_german_report_writes_dates_and_numbers_the_german_way(pack, german) -> None:
    report = german.report.read_text(encoding="utf-8")
    as_of = query(pack["published"], "select as_of_date from marts.run_metadata")[0][0]
    assert as_of.strftime("%d.%m.%Y") in report and as_of.isoformat() not in report
    shares = re.findall(r"<td>([^<]*)\u00a0%", report)
    assert len(shares) > 20
    assert all(re.fullmatch(r"\d{1,3},\d", s) for s in shares), shares[:10]
    # A suppressed cell is marked, never blank or zero.
    assert report.count('<span class="s">•</span>') > 10


def test_the_quarter_report_prints_to_at_most_10_a4_pages(pack, german, tmp_path) -> None:
    chromium = ensure_chromium()
    for report in (german.report, pack["folder"] / "reentry-pack-2004Q2-en.html"):
        pdf = tmp_path / f"{report.stem}.pdf"
        subprocess.run(
            [chromium, *CHROMIUM_ARGS, f"--print-to-pdf={pdf}", report.resolve().as_uri()],
            check=True,
            timeout=180,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        data = pdf.read_bytes()
        pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
        assert 1 <= pages <= 10, (report.name, pages)
        # A4 (595 x 842 pt), upright or landscape.
        for box in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data):
            size = sorted(round(float(v)) for v in box)
            assert size == [595, 842], box
