"""The ministry pack: read back from the workbook and checked against the marts and the
disclosure rules; text from sources never becomes a formula."""

from __future__ import annotations

import hashlib
import zipfile

import polars as pl
import pytest

from dashboards.disclosure import THRESHOLD
from dashboards.outputs import render_packs
from dashboards.pack import HEADLINE, build_pack
from reentry.cli import main
from reentry.workdir import Workdir
from tests.conftest import query

SHEETS = ("Programmes", "Prisons", "Partners")


@pytest.fixture(scope="module")
def pack(built_demo):
    """The job wrote packs for the newest quarter and year; make one for an earlier quarter
    through the command line, as a ministry would."""
    root = built_demo["root"]
    assert main(["report", "--period", "2004Q2", "--workdir", str(root)]) == 0
    folder = root / "reports" / "2004Q2"
    return {"folder": folder, "workbook": folder / "reentry-pack-2004Q2-en.xlsx",
            "published": built_demo["published"], "root": root}


def sheet(workbook, name: str) -> pl.DataFrame:
    return pl.read_excel(workbook, sheet_name=name, engine="calamine",
                         infer_schema_length=0)


def test_the_job_wrote_the_newest_quarter_and_year(built_demo) -> None:
    reports = built_demo["root"] / "reports"
    periods = sorted(p.name for p in reports.iterdir() if p.is_dir())
    newest = query(built_demo["published"], "select max(period) filter (where period like "
                   "'%Q%'), max(period) filter (where period not like '%Q%' and period <> "
                   "'all') from marts.programme_indicators")[0]
    assert set(newest) <= set(periods)
    for period in newest:
        assert (reports / period / f"reentry-pack-{period}-en.xlsx").exists()
        assert (reports / period / f"reentry-pack-{period}-en.html").exists()


def test_workbook_figures_are_the_marts_figures_or_suppressed(pack) -> None:
    marts = pl.DataFrame(query(pack["published"], """
        select programme, prison_id, partner_id, indicator, kind, numerator, denominator
        from marts.programme_indicators
        where period = '2004Q2' and sex = 'all' and age_band = 'all'"""),
        schema=["programme", "prison_id", "partner_id", "indicator", "kind", "numerator",
                "denominator"], orient="row")
    suppressed = "suppressed"
    checked = hidden = 0
    for name, by in (("Prisons", "prison_id"), ("Partners", "partner_id"),
                     ("Programmes", None)):
        book = sheet(pack["workbook"], name)
        assert set(book["Indicator code"].unique().to_list()) <= set(HEADLINE)
        for row in book.iter_rows(named=True):
            unit = row["Unit"]
            want = marts.filter(
                pl.col("programme") == row["Programme"], pl.col("indicator") == row[
                    "Indicator code"],
                pl.col("prison_id") == (unit if by == "prison_id" else "all"),
                pl.col("partner_id") == (unit if by == "partner_id" else "all"))
            assert want.height == 1, row
            truth = want.row(0, named=True)
            for column, label in (("numerator", "Numerator"), ("denominator", "Denominator")):
                shown = row[label]
                value = truth[column]
                if value is None or truth["kind"] == "count" and column == "denominator":
                    continue
                if value < THRESHOLD and truth["kind"] in ("share", "count"):
                    # Primary suppression: small counts never appear, nor as zero.
                    assert shown == suppressed, (name, row, truth)
                if shown == suppressed:
                    hidden += 1
                else:
                    assert float(shown) == pytest.approx(value), (name, row, truth)
                    if truth["kind"] in ("share", "count"):
                        assert value >= THRESHOLD
                    checked += 1
            if row["Numerator"] == suppressed or row["Denominator"] == suppressed:
                assert row["Value"] == suppressed
    assert checked > 100 and hidden > 10


def test_the_about_sheet_names_version_as_of_and_the_rules(pack) -> None:
    about = pl.read_excel(pack["workbook"], sheet_name="About", engine="calamine",
                          has_header=False)
    text = "\n".join(" ".join(str(v) for v in r if v is not None) for r in about.rows())
    version = hashlib.sha256(pack["published"].read_bytes()).hexdigest()
    as_of = str(query(pack["published"], "select as_of_date from marts.run_metadata")[0][0])
    assert version in text and as_of in text and "2004Q2" in text
    assert f"below {THRESHOLD}" in text and "suppressed" in text
    report = (pack["folder"] / "reentry-pack-2004Q2-en.html").read_text(encoding="utf-8")
    assert version in report and as_of in report


def test_source_text_never_becomes_a_formula(pack, tmp_path) -> None:
    prisons = [r[0] for r in query(pack["published"],
                                   "select distinct prison_id from marts.releases")]
    evil = {prisons[0]: '=HYPERLINK("http://example.invalid","x")', prisons[1]: "+1+1",
            prisons[2]: "@SUM(A1)"}
    made = build_pack(pack["published"], tmp_path, "2004", "v", evil)
    with zipfile.ZipFile(made.workbook) as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in book.read(name).decode("utf-8"), name
    names = set(sheet(made.workbook, "Prisons")["Name"].to_list())
    assert set(evil.values()) <= names  # kept as the text it is
    csv = (tmp_path / "2004" / "reentry-pack-2004-en-prisons.csv").read_text(encoding="utf-8-sig")
    for value in evil.values():
        assert "'" + value.replace('"', '""') in csv or "'" + value in csv


def test_a_pack_in_german_and_the_same_cells(pack) -> None:
    wd = Workdir(pack["root"])
    (german,) = render_packs(wd, None, ["2004Q2"], lang="de")
    with zipfile.ZipFile(german.workbook) as book:
        assert any("Justizvollzugsanst" in book.read(n).decode("utf-8")
                   for n in book.namelist() if n.endswith("workbook.xml"))
    english = pl.read_csv(pack["folder"] / "reentry-pack-2004Q2-en-prisons.csv",
                          infer_schema_length=0)
    again = pl.read_csv(german.csvs[1], infer_schema_length=0)
    # Same cells hidden in either language: the suppression does not depend on the language.
    assert (english["numerator"] == "suppressed").to_list() == \
        (again["numerator"] == "unterdrückt").to_list()


def test_bad_periods_get_a_clear_message(pack, capsys) -> None:
    root = str(pack["root"])
    assert main(["report", "--period", "2004Q5", "--workdir", root]) == 2
    assert "neither a quarter" in capsys.readouterr().err
    assert main(["report", "--period", "1999", "--workdir", root]) == 2
    err = capsys.readouterr().err
    assert "no releases in period 1999" in err and "2002" in err


EFFECT_NUMBERS = ("n_participants", "n_comparison", "rate_participants", "rate_comparison",
                  "difference", "difference_ci_low", "difference_ci_high", "risk_ratio",
                  "risk_ratio_ci_low", "risk_ratio_ci_high", "e_value", "e_value_ci")


def test_the_effects_sheet_is_programme_effects(pack) -> None:
    from dashboards.pack import EFFECT_COLUMNS

    book = sheet(pack["workbook"], "Effects")
    csv = pl.read_csv(pack["folder"] / "reentry-pack-2004Q2-en-effects.csv",
                      infer_schema_length=0)
    assert csv.columns == EFFECT_COLUMNS
    assert book.height == csv.height
    marts = query(pack["published"], f"""
        select e.programme, cohort, estimator, measure, window_months,
               {', '.join('e.' + c for c in EFFECT_NUMBERS)}, verdict,
               map_entries(verdict_texts),
               p.programme_name, p.languages
        from marts.programme_effects e join marts.programmes p using (programme)
        where outcome = 'rate' and estimator in ('matched', 'weighted')
          and cohort in ('all', '2004')""")
    truth = {r[:5]: r[5:] for r in marts}
    seen = set()
    checked = hidden = 0
    for row in csv.iter_rows(named=True):
        key = (row["programme"], row["cohort"], row["estimator"], row["measure"],
               int(row["window_months"]))
        assert key in truth, key
        seen.add(key)
        *numbers, verdict, texts, name, languages = truth[key]
        assert row["programme_name"] == name
        assert row["verdict"] == verdict
        for column, value in zip(EFFECT_NUMBERS, numbers, strict=True):
            shown = row[column]
            if shown == "suppressed":
                hidden += 1
                continue
            if value is None:
                assert shown in (None, ""), (key, column)
                continue
            if column.startswith("n_"):
                assert value >= THRESHOLD and int(shown) == value, (key, column)
            else:  # rounded as the verdicts state them
                assert float(shown) == pytest.approx(value, abs=6e-4), (key, column)
            checked += 1
        by_lang = {e["key"]: e["value"] for e in texts or []}
        want = next((by_lang[c] for c in ("en", *languages) if by_lang.get(c)), None)
        if row["rate_participants"] != "suppressed":
            assert row["verdict_text"] == want, key
            assert row["verdict_language"] in by_lang
    assert seen == set(truth)
    assert checked > 100
    # The workbook holds the same cells as the CSV (text as text, never a formula).
    for a, b in zip(book.iter_rows(), csv.iter_rows(), strict=True):
        for x, y in zip(a, b, strict=True):
            if y is None or x is None:
                assert (x or "") == (y or "")
            elif y == "suppressed" or not y.replace(".", "").replace("-", "").isdigit():
                assert x == y
            else:
                assert float(x) == pytest.approx(float(y))
    report = (pack["folder"] / "reentry-pack-2004Q2-en.html").read_text(encoding="utf-8")
    headline = next(r for r in csv.iter_rows(named=True)
                    if r["cohort"] == "all" and r["estimator"] == "matched"
                    and r["measure"] == "reconviction" and r["window_months"] == "24")
    import html

    assert html.escape(headline["verdict_text"]) in report
    assert hidden >= 0


def test_a_german_pack_falls_back_to_english_or_the_main_language(pack) -> None:
    wd = Workdir(pack["root"])
    (german,) = render_packs(wd, None, ["2004Q2"], lang="de")
    effects = pl.read_csv(next(p for p in german.csvs if p.name.endswith("-effects.csv")),
                          infer_schema_length=0)
    languages = dict(query(pack["published"], "select programme, languages from "
                                              "marts.programmes"))
    for row in effects.iter_rows(named=True):
        if row["verdict_text"] in (None, "", "unterdrückt"):
            continue
        langs = languages[row["programme"]]
        want = "de" if "de" in langs else "en" if "en" in langs else langs[0]
        assert row["verdict_language"] == want, row
