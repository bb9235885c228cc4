"""The simulated demo exports through ingestion: exact quarantine, linkage, privacy."""

from __future__ import annotations

import plotly.offline
import polars as pl
import pytest

from simulation.defects import KINDS as DEFECT_KINDS

from .conftest import query
from .privacy_scan import landing_identifiers, scan_tree


@pytest.fixture(scope="module")
def demo(built_demo) -> dict:
    return {
        **built_demo,
        "defects": pl.read_csv(built_demo["truth"] / "defects.csv", infer_schema=False),
    }


def test_every_file_loads_and_every_row_is_accounted_for(demo) -> None:
    assert (
        query(
            demo["db"], "select file_name, status, error from ingest.files where status <> 'loaded'"
        )
        == []
    )
    rows = query(
        demo["db"],
        "select file_name, n_received, n_loaded, n_quarantined, "
        "n_current + n_superseded from ingest.load_report",
    )
    assert len(rows) > 300
    for name, received, loaded, quarantined, current_or_superseded in rows:
        assert received == loaded + quarantined, name
        assert loaded == current_or_superseded, name


def test_quarantine_holds_exactly_the_injected_defects(demo) -> None:
    defects = demo["defects"].filter(pl.col("kind") != "whitespace")
    assert defects.height > 50
    injected = {(r["file"], int(r["line"])): r["kind"] for r in defects.iter_rows(named=True)}
    found = {
        (file, line): reasons
        for file, line, reasons in query(
            demo["db"],
            "select file_name, line, list_transform(problems, lambda p: p.reason) "
            "from ingest.quarantine",
        )
    }
    assert set(found) == set(injected)
    wrong = {k: (injected[k], found[k]) for k in injected if injected[k] not in found[k]}
    assert not wrong
    kinds = set(defects["kind"])
    assert set(DEFECT_KINDS) - {"whitespace"} <= kinds  # whitespace is trimmed and loaded


def test_stray_whitespace_is_trimmed_and_loaded(demo) -> None:
    spaced = demo["defects"].filter(pl.col("kind") == "whitespace")
    assert spaced.height > 0
    tables = " union all ".join(
        f"select _file_name, _line from raw.{e}"
        for e in (
            "inmates",
            "custody_episodes",
            "prison_measures",
            "participants",
            "placements",
            "aftercare_contacts",
            "register_entries",
        )
    )
    loaded = set(query(demo["db"], tables))
    expected = {(r["file"], int(r["line"])) for r in spaced.iter_rows(named=True)}
    assert expected <= loaded


def test_all_three_source_formats_are_loaded(demo) -> None:
    by_layout = dict(query(demo["db"], "select layout, sum(n_loaded) from ingest.files group by 1"))
    assert set(by_layout) >= {"reference", "de-justiz", "nl-exodus", "xlsx-zeitarbeit"}
    assert all(n > 0 for n in by_layout.values())


def test_persons_link_across_sources_despite_spelling(demo) -> None:
    # The link rate as indicators.md defines it (marts.data_quality_link_rates), over every
    # programme and source: the run summary shows these rows.
    rates = dict(
        query(
            demo["db"],
            "select entity, link_rate from marts.data_quality_link_rates "
            "where programme = 'all' and source_id = 'all'",
        )
    )
    assert set(rates) == {"participants", "register_entries", "all"}
    assert rates["participants"] > 0.95
    assert rates["register_entries"] > 0.95
    (multi,) = query(
        demo["db"],
        "select count(*) from (select person_key from "
        "raw.inmates__current group by 1 "
        "having count(distinct _source_id) > 1)",
    )[0]
    assert multi > 0  # transfers: one person under booking numbers of two prisons


def test_correction_files_supersede_earlier_snapshots(demo) -> None:
    (removed,) = query(demo["db"], "select sum(n_removed) from ingest.files")[0]
    assert removed > 0
    stale = query(
        demo["db"],
        """
        select count(*) from raw.custody_episodes__current c
        where c._export_date < (select max(export_date) from ingest.files f
                                where f.source_id = c._source_id
                                  and f.entity = 'custody_episodes' and f.status = 'loaded')""",
    )
    assert stale == [(0,)]


def test_rerun_without_new_files_does_no_new_work(demo) -> None:
    runs = query(
        demo["db"],
        "select run_id, n_files_seen, n_loaded, n_skipped from ingest.runs order by run_id",
    )
    assert len(runs) == 2
    # the first run moved every file it loaded into the archive: the second finds none
    assert runs[0][1] == runs[0][2] > 300
    assert runs[1][1:] == (0, 0, 0)
    assert query(demo["db"], "select count(distinct run_id) from ingest.files") == [(1,)]
    assert query(demo["db"], "select count(*) from ledger.builds") == [(1,)]
    assert query(demo["db"], "select count(*) from ledger.publishes") == [(1,)]
    second = demo["second"]
    assert not [k for k in second.materialized if k.startswith(("marts/", "published/"))]
    after = demo["published"].stat()
    before = demo["published_stat_after_first"]
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not demo["published"].with_name("warehouse.previous.duckdb").exists()


def test_no_name_or_birth_date_reaches_anything_the_run_wrote(demo) -> None:
    # The run moved every landing file into the archive, which keeps the landing layout.
    archive = demo["root"] / "archive"
    assert not [p for p in demo["landing"].glob("*/*.*") if p.suffix != ".yml"]
    ids = landing_identifiers(archive)
    assert len(ids.name_tokens) > 200 and len(ids.birth_dates) > 500
    # The scan must find what it looks for: the archive itself is full of names.
    assert scan_tree(archive, ids)
    # plotly.js is bundled into the site as it ships (its vocabulary has words such as
    # "winter"); it is checked to be byte-identical to the library's, then left out.
    bundled = demo["root"] / "dashboards" / "assets" / "plotly.min.js"
    assert bundled.read_text(encoding="utf-8") == plotly.offline.get_plotlyjs()
    leaks = scan_tree(demo["root"], ids, exclude=(demo["landing"], archive, bundled))
    assert leaks == {}
    written = {p.relative_to(demo["root"]).parts[0] for p in demo["root"].rglob("*")}
    # The dashboards, the packs and their cached aggregates were scanned too.
    assert {"work", "truth", "dashboards", "reports"} <= written
    assert list((demo["root"] / "work" / "aggregates").glob("*.parquet"))
