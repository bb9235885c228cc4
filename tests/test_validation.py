"""The validation of the marts (reentry.validation): every public mart of the dbt manifest has
a suite and a blocking check, the demo passes, tampered copies fail with the right rule named
(the dbt tests beside the columns, the GX row counts), row counts are held against the
previous publish, the check validates exactly the selected marts, and no report carries a
value of a person-level row."""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from reentry.defs.dbt import prepare_manifest, run_dbt_tests
from reentry.defs.resources import WarehouseResource
from reentry.validation import suites
from reentry.validation.rules import (
    UncoveredMarts,
    check_coverage,
    load_manifest,
    public_marts,
)
from reentry.validation.suites import write_report

from .conftest import settings_for

PERSON_TABLES = ["releases", "placements", "recidivism"]


@pytest.fixture(scope="module")
def manifest() -> dict:
    return load_manifest(prepare_manifest())


def validate_marts(database: Path, *args, **kwargs):
    """The validation as the job's check runs it: the project's manifest (unless given) and
    the job's dbt resource for the tests the build did not run."""
    kwargs.setdefault("manifest", load_manifest(prepare_manifest()))
    kwargs.setdefault("run_tests", run_dbt_tests)
    return suites.validate_marts(database, *args, **kwargs)


def build_results(built_demo: dict) -> Path:
    """The run_results.json of the demo's dbt build (every test of every mart ran there)."""
    return built_demo["db"].parent / "dbt" / "target" / "run_results.json"


def tampered(built_demo: dict, tmp_path: Path, *statements: str) -> Path:
    """A copy of the work database with the statements applied (its dbt tests run on it).
    It keeps the work database's name: dbt's views name their sources with the database,
    which DuckDB names after the file."""
    copy_path = tmp_path / "work" / built_demo["db"].name
    copy_path.parent.mkdir(parents=True)
    shutil.copyfile(built_demo["db"], copy_path)
    con = duckdb.connect(str(copy_path))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()
    return copy_path


def failed_names(report, table: str | None = None) -> set[str]:
    return {o.expectation for o in report.failures() if table is None or o.table == table}


@pytest.fixture(scope="module")
def clean_report(built_demo, manifest):
    """Every mart of the work database, held against the published one, with the results of
    the demo's build (as the job's check runs it)."""
    started = time.perf_counter()
    report = validate_marts(
        built_demo["db"],
        previous=built_demo["published"],
        run_results=build_results(built_demo),
        manifest=manifest,
    )
    report.elapsed = time.perf_counter() - started  # for the timing test only
    return report


def test_every_public_mart_has_a_suite_and_a_blocking_check(built_demo, manifest, tmp_path):
    from dagster import AssetCheckKey, AssetKey

    from reentry.defs.definitions import build_definitions

    marts = public_marts(manifest)
    # the folder marts of the dbt project is what the work database's schema marts holds
    con = duckdb.connect(str(built_demo["db"]), read_only=True)
    tables = {
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'"
        ).fetchall()
    }
    con.close()
    assert set(marts) == tables and len(marts) == 26
    rules = check_coverage(manifest)
    assert set(rules) == set(marts) and all(rules[m] for m in marts)

    graph = build_definitions(
        settings_for(tmp_path, {"key_file": "k", "research_key_file": "r"})
    ).resolve_asset_graph()
    for mart in marts:
        key = AssetCheckKey(AssetKey(["marts", mart]), "great_expectations")
        assert key in graph.asset_check_keys, mart
        assert graph.get_check_spec(key).blocking, mart
        assert (
            AssetKey(["marts", mart]) in graph.get(AssetKey(["published", "warehouse"])).parent_keys
        )


def test_a_mart_without_rules_fails_the_coverage_check(manifest, built_demo):
    """Drop the rules of one mart (as if its tests were deleted from the YAML): the coverage
    check raises naming it, and no validation runs."""
    stripped = copy.deepcopy(manifest)
    dropped = [
        uid
        for uid, node in stripped["nodes"].items()
        if node["resource_type"] == "test"
        and node.get("attached_node") == "model.reentry.placement_end_reasons"
    ]
    assert len(dropped) >= 5
    for uid in dropped:
        del stripped["nodes"][uid]
    with pytest.raises(UncoveredMarts, match="placement_end_reasons") as raised:
        check_coverage(stripped)
    assert raised.value.marts == ["placement_end_reasons"]
    with pytest.raises(UncoveredMarts, match="placement_end_reasons"):
        validate_marts(built_demo["db"], run_results=build_results(built_demo), manifest=stripped)


def test_demo_marts_pass_every_rule(clean_report, built_demo, manifest, tmp_path):
    failures = [(o.table, o.expectation, o.counts, o.error) for o in clean_report.failures()]
    assert failures == []
    assert clean_report.success
    assert clean_report.tables == list(public_marts(manifest))
    assert set(clean_report.by_table()) == set(public_marts(manifest))
    assert all(clean_report.by_table().values())
    assert clean_report.previous_used
    assert clean_report.tested_now == []  # the build ran every test: none runs twice
    rules = check_coverage(manifest)
    for table in clean_report.tables:
        outcomes = [o for o in clean_report.outcomes if o.table == table]
        # every dbt test of the mart is listed, with the GX row counts
        assert sorted(o.expectation for o in outcomes if o.source == "dbt") == sorted(
            r.name for r in rules[table]
        )
        if table != "run_metadata":
            assert any(
                o.source == "great_expectations" and o.expectation.startswith("row count within")
                for o in outcomes
            ), table
    print(
        f"validation of all marts: {clean_report.elapsed:.1f} s, {len(clean_report.outcomes)} rules"
    )
    assert clean_report.elapsed < 30
    # without a build's results the dbt tests run now, and pass too
    copied = tmp_path / "work" / "warehouse.duckdb"
    copied.parent.mkdir()
    shutil.copyfile(built_demo["db"], copied)
    tested = validate_marts(copied, manifest=manifest)
    assert tested.success, [(o.table, o.expectation) for o in tested.failures()]
    assert tested.tested_now == tested.tables
    assert not tested.previous_used


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
        "rate: between(min_value=0, max_value=1)",
        "rate: inside_interval(low=ci_low, high=ci_high)",
    }
    assert report.by_table() == {"recidivism_rates": False}
    bounds = next(o for o in report.failures() if o.expectation.startswith("rate: between"))
    assert bounds.counts["unexpected_count"] == 1
    assert bounds.expectation_type == "between" and bounds.source == "dbt"


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
    assert failed_names(report) == {"release_id: unique"}
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
        'survival: non_increasing(partition_by=[programme, cohort, "group", measure], '
        "order_by=day, tolerance=1e-12)",
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
    measures = "measures=[n_releases, n_full_follow_up, n_events]"
    assert (
        "sums_to_total(over=cohort, keys=[programme, group, window_months, measure, prison_id, "
        f"sex, age_band], {measures})" in names
    )
    assert (
        "sums_to_total(over=prison_id, keys=[programme, group, window_months, measure, cohort], "
        f"{measures}, fixed_all=[sex, age_band])" in names
    )
    assert all(n.startswith("sums_to_total(") for n in names), names


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
    assert failed_names(report) == {
        "sums_to_total(over=cohort, keys=[programme, day], measures=[n_observed, n_in_work])"
    }


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
    over_prisons = (
        "sums_to_total(over=prison_id, keys=[programme, period_type, period, indicator], "
        "measures=[{}], fixed_all_of=breakdown) where {}"
    )
    assert over_prisons.format("value", "kind = 'count'") in names
    assert over_prisons.format("numerator", "kind <> 'km'") in names
    assert all(n.startswith("sums_to_total(") for n in names), names


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
    results = build_results(built_demo)
    report = validate_marts(
        built_demo["db"],
        previous=previous,
        tables=["employment_status", "dropout_rates"],
        run_results=results,
    )
    failures = report.failures()
    assert [(o.table, o.source, o.expectation_type) for o in failures] == [
        ("employment_status", "great_expectations", "expect_column_values_to_be_between"),
    ]
    assert failures[0].expectation.startswith("row count within 0.5x-2x of the previous publish")
    # a table absent from the previous publish is not compared
    assert not any(
        o.table == "dropout_rates" and o.expectation.startswith("row count within")
        for o in report.outcomes
    )
    # a missing previous database is no previous publish at all
    missing = validate_marts(
        built_demo["db"],
        previous=tmp_path / "nothing.duckdb",
        tables=["employment_status"],
        run_results=results,
    )
    assert missing.success and not missing.previous_used


def test_the_check_validates_exactly_the_selected_marts(copied_demo, demo_keys, manifest):
    """The job's check is subsettable: a run selecting two marts' checks validates those two,
    from the build's results; a test that failed in the build fails its mart's check."""
    from dagster import AssetCheckKey, AssetKey, AssetSelection, Definitions, define_asset_job

    from reentry.defs.checks import CHECK_NAME, build_marts_checks

    selected = ("survival", "placement_end_reasons")
    results_file = copied_demo / "work" / "dbt" / "target" / "run_results.json"
    results = json.loads(results_file.read_text(encoding="utf-8"))
    failing = next(r.unique_id for r in check_coverage(manifest)["survival"])
    for result in results["results"]:
        if result["unique_id"] == failing:
            result.update(status="fail", failures=3)
    results_file.write_text(json.dumps(results), encoding="utf-8")

    checks = [AssetCheckKey(AssetKey(["marts", m]), CHECK_NAME) for m in selected]
    defs = Definitions(
        asset_checks=[build_marts_checks(public_marts(manifest))],
        jobs=[define_asset_job("validate", selection=AssetSelection.checks(*checks))],
        resources={
            "warehouse": WarehouseResource.from_settings(settings_for(copied_demo, demo_keys))
        },
    )
    run = defs.resolve_job_def("validate").execute_in_process(raise_on_error=False)
    evaluations = {e.asset_key.path[-1]: e.passed for e in run.get_asset_check_evaluations()}
    assert evaluations == {"survival": False, "placement_end_reasons": True}
    report = json.loads((copied_demo / "validation" / "latest.json").read_text(encoding="utf-8"))
    assert set(report["tables"]) == set(selected)
    assert report["tested_now"] == []
    assert [(o["table"], o["counts"]) for o in report["outcomes"] if not o["success"]] == [
        ("survival", {"unexpected_count": 3})
    ]


def test_reports_carry_no_person_level_values(built_demo, tmp_path):
    # Failing values that a result could quote: ids in code columns, duplicates, nulls.
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
    for table in clean_report.tables:
        assert table in page
    assert "Validation PASSED" in page and "pass" in page
    assert (
        f"{totals['expectations']} expectations on {totals['tables']} tables, "
        f"{totals['passed']} passed, 0 failed"
    ) in page
    assert "release_id: unique" in page
    assert "great_expectations: expect_column_values_to_be_between" in page
    # self-contained: no external assets
    for needle in ("http://", "https://", "<script", "<link", "<img", "@import"):
        assert needle not in page

    # a failing report says so at the top and marks the failed rule
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
    assert (
        '<td class="fail">fail</td><td>dropout_share: between(min_value=0, max_value=1)</td>'
        in page
    )
    assert "1 tables passed, 1 tables failed" in page
