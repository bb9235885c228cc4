"""The Great Expectations validation of the marts (reentry.validation): the demo passes,
tampered copies fail with the right expectations named, row counts are held against the
previous publish, and no report carries a value of a person-level row."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from reentry.validation.suites import TABLES, TOLERANCE, validate_marts, write_report

PERSON_TABLES = ["releases", "placements", "recidivism"]


def tampered(built_demo: dict, tmp_path: Path, *statements: str) -> Path:
    """A copy of the published database with the statements applied."""
    copy = tmp_path / "tampered.duckdb"
    shutil.copyfile(built_demo["published"], copy)
    con = duckdb.connect(str(copy))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()
    return copy


def failed_names(report, table: str | None = None) -> set[str]:
    return {o.expectation for o in report.failures() if table is None or o.table == table}


@pytest.fixture(scope="module")
def clean_report(built_demo):
    """The whole suite on the work database, held against the published one (as the
    job runs it)."""
    started = time.perf_counter()
    report = validate_marts(built_demo["db"], previous=built_demo["published"])
    report.elapsed = time.perf_counter() - started  # for the timing test only
    return report


def test_demo_marts_pass_every_expectation(clean_report, built_demo):
    failures = [(o.table, o.expectation, o.counts, o.error) for o in clean_report.failures()]
    assert failures == []
    assert clean_report.success
    assert set(clean_report.by_table()) == set(TABLES)
    assert all(clean_report.by_table().values())
    assert clean_report.previous_used
    names = {(o.table, o.expectation) for o in clean_report.outcomes}
    for table in TABLES:
        if table != "run_metadata":
            assert any(t == table and n.startswith("row count within") for t, n in names), table
    # the whole validation takes a few seconds
    print(
        f"validation of all marts: {clean_report.elapsed:.1f} s, "
        f"{len(clean_report.outcomes)} expectations"
    )
    assert clean_report.elapsed < 30
    # the published database passes too
    published = validate_marts(built_demo["published"])
    assert published.success, [(o.table, o.expectation) for o in published.failures()]
    assert not published.previous_used


def test_rate_out_of_range_fails_bounds_and_interval_only(built_demo, tmp_path):
    db = tampered(
        built_demo,
        tmp_path,
        """
        update marts.recidivism_rates set rate = 1.5
        where rowid = (select min(rowid) from marts.recidivism_rates
                       where ci_high < 1 and cohort <> 'all')
    """,
    )
    report = validate_marts(db, tables=["recidivism_rates"])
    assert not report.success
    assert failed_names(report) == {
        "rate in [0, 1]",
        f"rate <= ci_high (tolerance {TOLERANCE:g})",
    }
    assert report.by_table() == {"recidivism_rates": False}
    bounds = next(o for o in report.failures() if o.expectation == "rate in [0, 1]")
    assert bounds.counts["unexpected_count"] == 1
    assert bounds.expectation_type == "expect_column_values_to_be_between"


def test_duplicated_release_fails_key_uniqueness(built_demo, tmp_path):
    db = tampered(
        built_demo,
        tmp_path,
        """
        insert into marts.releases
        select * from marts.releases where not is_index_year limit 1
    """,
    )
    report = validate_marts(db, tables=PERSON_TABLES)
    assert failed_names(report) == {"release_id is unique"}
    assert report.by_table() == {"releases": False, "placements": True, "recidivism": True}
    # person-level: no counts, no values
    assert all(o.counts == {} for o in report.outcomes if o.table == "releases")


def test_rising_survival_curve_fails_non_increasing(built_demo, tmp_path):
    db = tampered(
        built_demo,
        tmp_path,
        """
        create temp table target as
        select rowid as id, prev + 0.01 as new_survival
        from (select rowid, survival,
                     lag(survival) over (partition by programme, cohort, "group", measure
                                         order by day) as prev
              from marts.survival)
        where prev < 0.9 and survival < prev
        order by rowid limit 1
    """,
        """
        update marts.survival s set survival = t.new_survival,
            ci_low = t.new_survival - 0.02, ci_high = t.new_survival + 0.02
        from target t where s.rowid = t.id
    """,
    )
    report = validate_marts(db, tables=["survival"])
    assert failed_names(report) == {
        "survival non-increasing within each curve (programme, cohort, group, measure; "
        f"tolerance {TOLERANCE:g})",
    }


def test_changed_total_fails_sum_of_parts(built_demo, tmp_path):
    db = tampered(
        built_demo,
        tmp_path,
        """
        update marts.recidivism_rates set n_releases = n_releases + 1
        where rowid = (select min(rowid) from marts.recidivism_rates
                       where cohort = 'all' and prison_id = 'all' and sex = 'all'
                         and age_band = 'all')
    """,
    )
    report = validate_marts(db, tables=["recidivism_rates"])
    names = failed_names(report)
    assert "n_releases of cohort 'all' = sum over cohorts" in names
    assert "n_releases of prison_id 'all' = sum over prisons" in names
    assert all(n.startswith("n_releases of ") and "= sum over" in n for n in names), names


def test_employment_status_total_fails_sum_over_cohorts(built_demo, tmp_path):
    db = tampered(
        built_demo,
        tmp_path,
        """
        update marts.employment_status set n_in_work = n_in_work - 1
        where rowid = (select min(rowid) from marts.employment_status
                       where cohort = 'all' and n_in_work > 0)
    """,
    )
    report = validate_marts(db, tables=["employment_status"])
    assert failed_names(report) == {"n_in_work of cohort 'all' = sum over cohorts"}


def test_programme_indicator_releases_fail_sum_over_prisons(built_demo, tmp_path):
    db = tampered(
        built_demo,
        tmp_path,
        """
        update marts.programme_indicators set numerator = numerator + 5, value = value + 5
        where rowid = (select min(rowid) from marts.programme_indicators
                       where indicator = 'releases' and prison_id = 'all'
                         and partner_id = 'all' and sex = 'all' and age_band = 'all')
    """,
    )
    report = validate_marts(db, tables=["programme_indicators"])
    names = failed_names(report)
    assert "value of prison_id 'all' = sum over prisons (count indicators)" in names
    assert "numerator of prison_id 'all' = sum over prisons" in names
    assert all("= sum over" in n for n in names), names


def test_row_counts_held_against_previous_publish(built_demo, tmp_path):
    previous = tmp_path / "previous.duckdb"
    con = duckdb.connect(str(previous))
    try:
        con.execute(f"attach '{built_demo['published']}' as pub (read_only)")
        con.execute("create schema marts")
        con.execute("""create table marts.employment_status as
                       select e.* from pub.marts.employment_status e, range(10)""")
    finally:
        con.close()
    report = validate_marts(
        built_demo["published"], previous=previous, tables=["employment_status", "dropout_rates"]
    )
    failures = report.failures()
    assert [(o.table, o.expectation_type) for o in failures] == [
        ("employment_status", "expect_table_row_count_to_be_between"),
    ]
    assert failures[0].expectation.startswith("row count within 0.5x-2x of the previous publish")
    # a table absent from the previous publish is not compared
    assert not any(
        o.table == "dropout_rates" and o.expectation.startswith("row count within")
        for o in report.outcomes
    )
    # a missing previous database is no previous publish at all
    missing = validate_marts(
        built_demo["published"], previous=tmp_path / "nothing.duckdb", tables=["employment_status"]
    )
    assert missing.success and not missing.previous_used


def test_reports_carry_no_person_level_values(built_demo, tmp_path):
    # Failing values that SUMMARY would copy into results: ids in code columns, duplicates,
    # nulls.
    db = tampered(
        built_demo,
        tmp_path,
        """
        update marts.releases set release_type = release_id, sex = person_key
        where rowid in (select rowid from marts.releases order by rowid limit 50)
    """,
        """
        insert into marts.releases select * from marts.releases order by rowid limit 20
    """,
        """
        update marts.placements set sector = person_key, placement_type = placement_id,
            end_reason = release_id
        where rowid in (select rowid from marts.placements order by rowid limit 50)
    """,
        """
        insert into marts.placements select * from marts.placements order by rowid limit 20
    """,
        """
        update marts.recidivism set measure = release_id, days_to_event = -1
        where rowid in (select rowid from marts.recidivism order by rowid limit 50)
    """,
    )
    report = validate_marts(db, tables=PERSON_TABLES)
    assert not report.success
    assert {o.table for o in report.failures()} == set(PERSON_TABLES)
    html_path = write_report(report, tmp_path / "reports")
    texts = {
        "html": html_path.read_text(encoding="utf-8"),
        "json": html_path.with_suffix(".json").read_text(encoding="utf-8"),
        "latest.html": (tmp_path / "reports" / "latest.html").read_text(encoding="utf-8"),
        "latest.json": (tmp_path / "reports" / "latest.json").read_text(encoding="utf-8"),
        "to_json": str(report.to_json()),
        "repr": repr(report),
    }
    con = duckdb.connect(str(db), read_only=True)
    try:
        ids = [
            v
            for (v,) in con.execute("""
            (select person_key from marts.releases order by rowid limit 300)
            union (select release_id from marts.releases order by rowid limit 300)
            union (select placement_id from marts.placements order by rowid limit 300)
            union (select person_key from marts.placements order by rowid limit 100)
        """).fetchall()
        ]
    finally:
        con.close()
    assert len(ids) > 600
    for name, text in texts.items():
        leaked = [v for v in ids if v in text]
        assert leaked == [], f"{name} carries {len(leaked)} person-level values"


def test_html_report_is_readable(clean_report, built_demo, tmp_path):
    folder = tmp_path / "validation"
    html_path = write_report(clean_report, folder)
    assert html_path.name.startswith("validation-") and html_path.suffix == ".html"
    page = html_path.read_text(encoding="utf-8")
    assert page == (folder / "latest.html").read_text(encoding="utf-8")
    data = json.loads(html_path.with_suffix(".json").read_text(encoding="utf-8"))
    assert data == json.loads((folder / "latest.json").read_text(encoding="utf-8"))
    totals = data["totals"]
    assert totals["expectations"] == len(clean_report.outcomes) == totals["passed"]
    for table in TABLES:
        assert table in page
    assert "Validation PASSED" in page and "pass" in page
    assert (
        f"{totals['expectations']} expectations on {totals['tables']} tables, "
        f"{totals['passed']} passed, 0 failed"
    ) in page
    assert "release_id is unique" in page
    # self-contained: no external assets
    for needle in ("http://", "https://", "<script", "<link", "<img", "@import"):
        assert needle not in page

    # a failing report says so at the top and marks the failed expectation
    db = tampered(
        built_demo,
        tmp_path,
        """
        update marts.dropout_rates set dropout_share = -0.5
        where rowid = (select min(rowid) from marts.dropout_rates)
    """,
    )
    failing = validate_marts(db, tables=["dropout_rates", "placement_funnel"])
    page = write_report(failing, folder).read_text(encoding="utf-8")
    assert page == (folder / "latest.html").read_text(encoding="utf-8")
    assert len(list(folder.glob("validation-*.html"))) == 2
    assert "Validation FAILED" in page
    assert '<td class="fail">fail</td><td>dropout_share in [0, 1]</td>' in page
    assert "1 tables passed, 1 tables failed" in page


def test_chunked_validation_judges_like_the_whole_frame(built_demo, tmp_path):
    """Frames above chunk_rows are streamed in chunks (national scale). A duplicate key and
    one out-of-range value far apart, plus rates out of range, fail in chunks exactly as they
    fail on the whole frame, and the counts of a non-person table add up over chunks."""
    db = tampered(
        built_demo,
        tmp_path,
        """
        insert into marts.releases
        select * from marts.releases where not is_index_year order by release_id limit 1
    """,
        """
        update marts.recidivism set days_to_event = 5000
        where rowid = (select max(rowid) from marts.recidivism where has_event)
    """,
        """
        update marts.recidivism_rates set rate = 1.5
        where rowid in (select rowid from marts.recidivism_rates
                        where ci_high < 1 and cohort <> 'all' order by rowid desc limit 2)
    """,
    )
    con = duckdb.connect(str(db), read_only=True)
    n_releases, n_rates = (
        con.execute(f"select count(*) from marts.{t}").fetchone()[0]
        for t in ("releases", "recidivism_rates")
    )
    con.close()

    def judged(report):
        return [(o.table, o.expectation, o.success) for o in report.outcomes]

    # two chunks of releases (the duplicate lands in the second), ~25 of recidivism
    persons = validate_marts(db, tables=PERSON_TABLES, chunk_rows=n_releases // 2 + 1)
    assert judged(persons) == judged(validate_marts(db, tables=PERSON_TABLES))
    assert failed_names(persons) == {"release_id is unique", "days_to_event in [0, 1096]"}
    # person-level tables still carry no counts at all
    assert all(o.counts == {} for o in persons.outcomes)
    # three chunks of rates, one of them partial: the counts add up
    rates = validate_marts(db, tables=["recidivism_rates"], chunk_rows=n_rates // 3 + 1)
    assert judged(rates) == judged(validate_marts(db, tables=["recidivism_rates"]))
    bounds = next(o for o in rates.failures() if o.expectation == "rate in [0, 1]")
    assert bounds.counts["unexpected_count"] == 2
    assert bounds.counts["element_count"] == n_rates
    clean = validate_marts(
        built_demo["published"], tables=PERSON_TABLES, chunk_rows=n_releases // 2 + 1
    )
    assert clean.success, [(o.table, o.expectation) for o in clean.failures()]
