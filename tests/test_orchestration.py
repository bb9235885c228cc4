"""The Dagster job: definitions, a full run, the validation gate, readers during a publish,
sealed research sessions and status."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, AssetSelection

from reentry.cli import main
from reentry.files import sha256_file
from reentry.pipeline import PipelineFailed, run_pipeline

from .conftest import materialise, query, run_argv, settings_for


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_definitions_load_with_an_unbroken_lineage(tmp_path, demo_keys) -> None:
    from reentry.defs.definitions import JOB_NAME, build_definitions

    defs = build_definitions(settings_for(tmp_path, demo_keys))
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw/custody_episodes",
        "ingest/files",
        "staging/stg_prison__custody_episodes",
        "intermediate/int_custody_spells_stitched",
        "marts/recidivism_rates",
        "published/warehouse",
    } <= keys
    # Ingestion -> staging -> ... -> marts -> publish, with no gap.
    upstream = graph.get(AssetKey(["marts", "releases"])).parent_keys
    assert AssetKey(["intermediate", "int_releases_joined_to_participation"]) in upstream
    staging_parents = graph.get(AssetKey(["staging", "stg_prison__custody_episodes"])).parent_keys
    assert AssetKey(["raw", "custody_episodes"]) in staging_parents
    assert (
        AssetKey(["marts", "releases"])
        in graph.get(AssetKey(["published", "warehouse"])).parent_keys
    )
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("marts/recidivism_rates", "great_expectations") in checks
    assert any(name.startswith("unique") for _, name in checks)  # dbt tests as checks
    assert defs.resolve_job_def(JOB_NAME) is not None
    assert {s.name for s in defs.sensors} == {"new_landing_files"}
    assert {s.name for s in defs.schedules} == {"quarterly_pack"}


def test_the_selections_of_a_run_follow_dagsters_lineage(tmp_path, demo_keys) -> None:
    """After new files of one entity: the models reading it, the ingestion's own reports,
    publish and outputs, with the checks of exactly those assets; a full build: everything
    after the ingestion."""
    from dagster import AssetCheckKey

    from reentry.defs.definitions import build_definitions
    from reentry.defs.selections import FULL_BUILD, INGESTION, MODELS, after_new_files

    graph = build_definitions(settings_for(tmp_path, demo_keys)).resolve_asset_graph()
    names = lambda keys: {k.to_user_string() for k in keys}  # noqa: E731
    partial = after_new_files(["placements"])
    assets, checks = partial.resolve(graph), partial.resolve_checks(graph)
    assert {
        "staging/stg_partner__placements",
        "marts/placements",
        "marts/data_quality_deliveries",
        "marts/run_metadata",
        "published/warehouse",
        "dashboards/site",
        "reports/pack",
    } <= names(assets)
    assert not {
        "raw/placements",
        "ingest/files",
        "staging/stg_prison__inmates",
        "intermediate/int_parameters",
        "marts/releases",
        "marts/survival",
    } & names(assets)
    # checks: those of the selected assets (dbt tests and Great Expectations), no other
    assert {c.asset_key for c in checks} <= assets
    assert AssetCheckKey(AssetKey(["marts", "placements"]), "great_expectations") in checks
    assert AssetCheckKey(AssetKey(["marts", "releases"]), "great_expectations") not in checks
    assert any(  # a dbt test
        c.asset_key == AssetKey(["marts", "placements"]) and c.name != "great_expectations"
        for c in checks
    )
    # nothing selected is upstream of a model left alone
    left_alone = MODELS.resolve(graph) - assets
    assert not assets & AssetSelection.assets(*left_alone).upstream().resolve(graph)
    full = FULL_BUILD.resolve(graph)
    assert full == graph.get_all_asset_keys() - INGESTION.resolve(graph)
    assert FULL_BUILD.resolve_checks(graph) == graph.asset_check_keys
    assert after_new_files(["inmates"]).resolve(graph) < full


def test_full_materialisation_of_the_demo_through_dagster(built_demo) -> None:
    first = built_demo["first"]
    for key in (
        "raw/inmates",
        "ingest/files",
        "staging/stg_partner__participants",
        "marts/releases",
        "marts/survival",
        "published/warehouse",
    ):
        assert key in first.materialized, key
    assert not first.failed_checks
    assert query(built_demo["db"], "select success from ledger.validations") == [(True,)]
    assert query(built_demo["published"], "select count(*) from marts.releases") == query(
        built_demo["db"], "select count(*) from marts.releases"
    )
    assert any("published" in m for m in built_demo["messages"])


def test_published_person_keys_cannot_be_joined_to_the_warehouse(built_demo) -> None:
    internal = {r[0] for r in query(built_demo["db"], "select person_key from marts.releases")}
    published = {
        r[0] for r in query(built_demo["published"], "select person_key from marts.releases")
    }
    assert len(published) == len(internal) > 1000
    assert not internal & published
    for column, table in (("release_id", "recidivism"), ("placement_id", "placements")):
        inner = {r[0] for r in query(built_demo["db"], f"select {column} from marts.{table}")}
        outer = {
            r[0] for r in query(built_demo["published"], f"select {column} from marts.{table}")
        }
        assert not inner & outer
    # Within the release the re-keyed ids still join.
    assert query(
        built_demo["published"],
        "select count(*) from marts.recidivism x anti join marts.releases r using (release_id)",
    ) == [(0,)]


def test_a_failing_expectation_blocks_publish_and_keeps_the_old_file(
    copied_demo, demo_keys, capsys
) -> None:
    published = copied_demo / "published" / "warehouse.duckdb"
    # The last publish had sixteen times the releases: today's build looks like a collapse.
    con = duckdb.connect(str(published))
    for _ in range(4):
        con.execute("insert into marts.releases select * from marts.releases")
    con.close()
    before = sha256(published)
    settings = settings_for(copied_demo, demo_keys, as_of="2009-12-30")
    with pytest.raises(PipelineFailed) as failed:
        run_pipeline(settings, lambda _m: None)
    assert "marts/releases great_expectations" in str(failed.value)
    assert sha256(published) == before
    assert not published.with_name("warehouse.previous.duckdb").exists()
    assert not published.with_name("warehouse.duckdb.new").exists()
    assert query(
        copied_demo / "work" / "warehouse.duckdb",
        "select success from ledger.validations order by validated_at",
    ) == [(True,), (False,)]
    # Through the command line: a non-zero exit, the failing step named.
    code = main(
        [*run_argv(copied_demo, copied_demo / "landing", demo_keys), "--as-of", "2009-12-29"]
    )
    assert code == 1
    assert "great_expectations" in capsys.readouterr().err
    assert sha256(published) == before


def rows_differing(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows of marts.<table> in database `full` and `incremental` that differ: other columns
    exactly, doubles within 1e-9 relative (parallel sums differ in the last bits from run to
    run). Rows are paired in the order of their exact columns, then their rounded doubles."""
    columns = con.execute(
        "select column_name, data_type in ('DOUBLE', 'FLOAT') from duckdb_columns() where "
        "database_name = 'full' and schema_name = 'marts' and table_name = ? "
        "order by column_index",
        [table],
    ).fetchall()
    exact = [f'"{c}"' for c, is_float in columns if not is_float]
    floats = [f'"{c}"' for c, is_float in columns if is_float]
    order = ", ".join([*exact, *(f"round({c}, 6)" for c in floats)])
    numbered = 'select *, row_number() over (order by {order}) as _n from "{db}".marts.{t}'
    mismatch = " or ".join(
        [f"a.{c} is distinct from b.{c}" for c in exact]
        + [
            f"(a.{c} is null) <> (b.{c} is null) or abs(a.{c} - b.{c}) > "
            f"1e-9 * greatest(1, abs(a.{c}))"
            for c in floats
        ]
    )
    return con.execute(f"""
        select count(*) from ({numbered.format(order=order, db="full", t=table)}) a
        full join ({numbered.format(order=order, db="incremental", t=table)}) b using (_n)
        where a._n is null or b._n is null or {mismatch}
    """).fetchone()[0]


def test_one_new_partner_file_rebuilds_only_what_depends_on_it(
    copied_demo, demo_keys, tmp_path, capsys
) -> None:
    """A new placements file rebuilds the models downstream of placements (and the ingestion's
    own), validates only the marts rebuilt, publishes, and leaves every mart exactly as a
    full rebuild would."""
    from bench.run import add_partner_file
    from reentry.defs.selections import MODELS, validation_checks

    work = copied_demo / "work" / "warehouse.duckdb"
    loaded = "select count(*) from ingest.files where status = 'loaded'"
    ((loaded_before,),) = query(work, loaded)
    first_version = sha256_file(copied_demo / "published" / "warehouse.duckdb")
    add_partner_file(copied_demo / "archive", copied_demo / "landing")
    messages: list[str] = []
    result = run_pipeline(settings_for(copied_demo, demo_keys), messages.append)
    run_results = json.loads(
        (copied_demo / "work" / "dbt" / "target" / "run_results.json").read_text(encoding="utf-8")
    )
    rebuilt = {
        r["unique_id"].split(".")[-1]
        for r in run_results["results"]
        if r["unique_id"].startswith("model.")
    }
    assert {
        "placements",
        "placement_funnel",
        "programme_indicators",
        "int_indicator_facts",
        "data_quality_deliveries",
        "run_metadata",
    } <= rebuilt
    assert not rebuilt & {
        "releases",
        "recidivism",
        "recidivism_rates",
        "survival",
        "int_parameters",
        "int_releases_cohorts",
    }
    # Dagster materialised what dbt rebuilt and nothing else; the marts rebuilt were
    # validated (only they), then published
    assert {"marts/placements", "marts/run_metadata", "published/warehouse"} <= set(
        result.materialized
    )
    assert not {"marts/releases", "marts/survival", "intermediate/int_parameters"} & set(
        result.materialized
    )
    assert {"marts/placements great_expectations", "marts/placement_funnel great_expectations"} <= (
        set(result.checked)
    )
    assert not {c for c in result.checked if c.startswith(("marts/releases ", "marts/survival "))}
    assert not result.failed_checks
    assert any("rebuilding what depends on them" in m for m in messages)
    assert query(work, loaded) == [(loaded_before + 1,)]
    assert query(
        work, "select rebuilt_entities from ledger.builds order by built_at desc limit 1"
    ) == [(["placements"],)]
    # the same marts as a full rebuild of the same data (the models of the job, on a copy)
    full = tmp_path / "full" / "work" / "warehouse.duckdb"
    full.parent.mkdir(parents=True)
    shutil.copyfile(work, full)
    built = materialise(settings_for(tmp_path / "full", demo_keys), MODELS - validation_checks())
    assert (
        "marts/releases" in built.materialized and "published/warehouse" not in built.materialized
    )
    assert built.checked and not [c for c in built.checked if c.endswith(" great_expectations")]
    con = duckdb.connect()
    con.execute(f"attach '{full}' as \"full\" (read_only)")
    con.execute(f"attach '{work}' as incremental (read_only)")
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where database_name = 'full' "
            "and schema_name = 'marts' and table_name <> 'run_metadata'"
        ).fetchall()
    ]
    assert len(tables) > 15
    for t in tables:
        assert rows_differing(con, t) == 0, t
    con.close()
    # the new delivery is in the published numbers
    assert query(
        copied_demo / "published" / "warehouse.duckdb",
        "select count(*) from marts.data_quality_deliveries",
    ) == query(work, "select count(*) from marts.data_quality_deliveries")
    # Both publishes are kept as releases: the first still reads exactly as it was published.
    from reentry.cli import main
    from reentry.publish.releases import list_releases
    from reentry.store import Warehouse

    published = copied_demo / "published"
    first, second = list_releases(Warehouse("file", path=work))
    assert (first.name, second.name) == ("release-0001", "release-0002")
    assert first.data_version == first_version == sha256_file(published / first.path)
    assert second.data_version == sha256_file(published / "warehouse.duckdb") != first_version
    assert sha256_file(published / second.path) == second.data_version
    assert first.method_version == second.method_version
    assert second.method_version.count("+") == 1 and not first.withdrawn_at
    assert main(["releases", "--workdir", str(copied_demo)]) == 0
    listed = capsys.readouterr().out
    assert "release-0001" in listed and "release-0002" in listed and first_version[:12] in listed


READER = """
import sys, time, duckdb
path, stop, log = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect(path, read_only=True)
counts = set()
with open(log, "w") as out:
    out.write("open\\n"); out.flush()
    import os
    while not os.path.exists(stop):
        counts.add(con.execute("select count(*), sum(n_releases) from marts.recidivism_rates"
                               ).fetchone())
        time.sleep(0.05)
    out.write(f"ok {len(counts)}\\n")
"""


def test_a_reader_holding_the_published_file_never_blocks_a_run(
    copied_demo, demo_keys, tmp_path
) -> None:
    published = copied_demo / "published" / "warehouse.duckdb"
    before = sha256(published)
    stop, log = tmp_path / "stop", tmp_path / "reader.log"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop), str(log)])
    try:
        for _ in range(200):
            if log.exists() and log.read_text().startswith("open"):
                break
            time.sleep(0.05)
        # A new as-of date: the models are rebuilt and published while the reader reads.
        result = run_pipeline(
            settings_for(copied_demo, demo_keys, as_of="2008-12-31"), lambda _m: None
        )
        assert "published/warehouse" in result.materialized
    finally:
        stop.touch()
        reader.wait(timeout=60)
    assert reader.returncode == 0
    assert log.read_text().splitlines()[-1] == "ok 1"  # the old version, undisturbed
    assert sha256(published) != before
    assert sha256(published.with_name("warehouse.previous.duckdb")) == before
    assert query(published, "select as_of_date::varchar from marts.run_metadata") == [
        ("2008-12-31",)
    ]


def test_sql_reads_the_marts_and_nothing_outside(built_demo, capsys) -> None:
    workdir = str(built_demo["root"])
    assert (
        main(
            [
                "sql",
                "select count(*) as n from marts.releases",
                "--workdir",
                workdir,
                "--format",
                "csv",
            ]
        )
        == 0
    )
    (n,) = query(built_demo["published"], "select count(*) from marts.releases")[0]
    assert capsys.readouterr().out.splitlines() == ["n", str(n)]
    for escape in (
        "select * from read_csv('/etc/passwd')",
        f"select * from read_text('{built_demo['db']}')",
        f"attach '{built_demo['db']}' as work",
        "copy (select * from marts.releases) to '/tmp/releases.csv'",
        "set enable_external_access = true",
        "set lock_configuration = false",
    ):
        assert main(["sql", escape, "--workdir", workdir]) == 1, escape
        err = capsys.readouterr().err
        assert "Permission Error" in err or "Cannot change configuration" in err, err
    assert not Path("/tmp/releases.csv").exists()


def test_shell_answers_statements_from_stdin(built_demo) -> None:
    from reentry.research import open_research, shell

    out = io.StringIO()
    con = open_research(built_demo["published"])
    shell(
        con,
        io.StringIO(
            ".tables\nselect count(*)\n  as n from marts.survival;\n"
            "select * from read_csv('/etc/passwd');\n.quit\n"
        ),
        out,
    )
    text = out.getvalue()
    assert "recidivism_rates" in text and "data_dictionary" in text
    assert "│ n" in text or "n\n" in text
    assert "error: Permission Error" in text


def test_status_tells_loads_quarantine_checks_and_publish(built_demo, capsys) -> None:
    assert main(["status", "--workdir", str(built_demo["root"])]) == 0
    out = capsys.readouterr().out
    assert "run 1 at" in out and "run 2 at" in out
    assert "missing_required" in out
    assert "Last validation" in out and "passed" in out
    assert "data version" in out
    assert "Overdue deliveries" in out


def test_one_writer_of_the_warehouse_at_a_time(tmp_path, monkeypatch) -> None:
    """The build and the publish share a pool of limit 1 across all runs (reentry/defs/
    dagster.yaml); the ingestion is not in it (on the lake, sources ingest in parallel)."""
    import shutil

    from dagster import AssetKey, DagsterInstance

    from reentry.defs.dbt import WRITER_POOL
    from reentry.defs.definitions import defs
    from reentry.defs.selections import INGESTION, MODELS

    graph = defs().resolve_asset_graph()
    writers = {AssetKey(["published", "warehouse"]), *(k for k in MODELS.resolve(graph))}
    for key in writers:
        if graph.get(key).is_materializable:
            assert graph.get(key).pools == {WRITER_POOL}, key
    for key in INGESTION.resolve(graph):
        assert WRITER_POOL not in (graph.get(key).pools or set()), key
    shutil.copy(Path(__file__).parents[1] / "reentry" / "defs" / "dagster.yaml", tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with DagsterInstance.get() as instance:
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1
        assert config.run_queue_config.max_concurrent_runs == 1
