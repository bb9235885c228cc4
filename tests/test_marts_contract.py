"""The published marts answer the contract of outputs.md, documented, for both programmes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from .conftest import materialise, query

# outputs.md, "Public marts": names and grains are a contract, columns may grow.
CONTRACT = {
    "releases": [
        "release_id",
        "person_key",
        "programme",
        "prison_id",
        "release_date",
        "release_type",
        "cohort_year",
        "cohort_quarter",
        "sex",
        "age_band",
        "prior_spells",
        "is_participant",
        "partner_id",
    ],
    "placements": [
        "placement_id",
        "person_key",
        "partner_id",
        "release_id",
        "placement_type",
        "arranged_date",
        "start_date",
        "end_date",
        "end_reason",
        "days_release_to_start",
        "is_dropout",
    ],
    "recidivism": [
        "release_id",
        "window_months",
        "measure",
        "has_full_follow_up",
        "has_event",
        "days_to_event",
    ],
    "recidivism_rates": [
        "programme",
        "cohort",
        "prison_id",
        "group",
        "window_months",
        "measure",
        "n_releases",
        "n_full_follow_up",
        "n_events",
        "rate",
        "ci_low",
        "ci_high",
    ],
    "survival": [
        "programme",
        "group",
        "measure",
        "day",
        "n_at_risk",
        "n_events",
        "n_censored",
        "survival",
        "ci_low",
        "ci_high",
    ],
    "employment_status": ["programme", "cohort", "day", "n_observed", "n_in_work", "share"],
    "programme_indicators": ["indicator", "numerator", "denominator", "value"],
    "programme_effects": [
        "programme",
        "cohort",
        "estimator",
        "measure",
        "window_months",
        "n_participants",
        "n_comparison",
        "rate_participants",
        "rate_comparison",
        "difference",
        "difference_ci_low",
        "difference_ci_high",
        "risk_ratio",
        "risk_ratio_ci_low",
        "risk_ratio_ci_high",
        "e_value",
        "verdict",
    ],
    "covariate_balance": [
        "programme",
        "covariate",
        "stage",
        "mean_participants",
        "mean_comparison",
        "smd",
    ],
}


def test_published_marts_carry_every_contract_column(built_demo) -> None:
    columns = query(
        built_demo["published"],
        "select table_name, list(column_name) from duckdb_columns() "
        "where schema_name = 'marts' group by 1",
    )
    present = dict(columns)
    for table, required in CONTRACT.items():
        assert table in present, table
        assert set(required) <= set(present[table]), (table, set(required) - set(present[table]))


def test_every_mart_enforces_its_contract_set_once_for_the_folder() -> None:
    from reentry.defs.dbt import DBT_PROJECT, prepare_manifest
    from reentry.validation.rules import load_manifest, public_marts

    manifest = load_manifest(prepare_manifest())
    marts = set(public_marts(manifest))
    assert set(CONTRACT) <= marts
    nodes = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["name"] in marts
    ]
    assert len(nodes) == len(marts)
    assert all(n["config"]["contract"]["enforced"] for n in nodes)
    # dbt_project.yml sets it for the folder; no model repeats it
    models = (DBT_PROJECT / "models" / "marts" / "_marts__models.yml").read_text(encoding="utf-8")
    assert not re.search(r"^\s*contract:", models, re.MULTILINE)


def test_published_file_holds_only_marts(built_demo) -> None:
    schemas = query(built_demo["published"], "select distinct schema_name from duckdb_tables()")
    assert schemas == [("marts",)]


def test_every_published_column_is_described(built_demo) -> None:
    undescribed = query(
        built_demo["published"],
        "select table_name, column_name from duckdb_columns() "
        "where schema_name = 'marts' and coalesce(comment, '') = ''",
    )
    assert undescribed == []
    (n,) = query(
        built_demo["published"],
        "select count(*) from marts.data_dictionary where table_name = 'recidivism_rates'",
    )[0]
    assert n == len(
        query(
            built_demo["published"],
            "select 1 from duckdb_columns() where table_name = 'recidivism_rates'",
        )
    )


def test_both_programmes_in_every_public_mart(built_demo) -> None:
    for table in (
        "releases",
        "placements",
        "recidivism_rates",
        "survival",
        "employment_status",
        "programme_indicators",
        "recidivism_effects",
        "programmes",
        "programme_effects",
        "covariate_balance",
        "propensity_overlap",
        "effect_survival",
    ):
        programmes = query(
            built_demo["published"], f"select distinct programme from marts.{table} order by 1"
        )
        assert programmes == [("exodus",), ("mabis",)], table
    # 'all' total rows are always present.
    totals = query(
        built_demo["published"],
        "select count(*) from marts.recidivism_rates where cohort = 'all' "
        "and prison_id = 'all' and sex = 'all' and age_band = 'all'",
    )
    assert totals == [(2 * 2 * 3 * 4,)]  # programme x group x window x measure


def test_an_older_duckdb_client_opens_the_published_file(built_demo) -> None:
    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    assert cli, "duckdb-cli is a test dependency"
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("v1.")
    out = subprocess.run(
        [
            cli,
            "-readonly",
            "-json",
            str(built_demo["published"]),
            "-c",
            "select count(*) as n from marts.releases",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (n,) = query(built_demo["published"], "select count(*) from marts.releases")[0]
    assert json.loads(out.stdout) == [{"n": n}]


def test_docs_generate_works_offline(built_demo, tmp_path) -> None:
    from reentry.cli import main

    (tmp_path / "published").mkdir()
    shutil.copyfile(built_demo["published"], tmp_path / "published" / "warehouse.duckdb")
    assert main(["docs", "--workdir", str(tmp_path)]) == 0
    catalog = tmp_path / "docs" / "dbt" / "catalog.json"
    nodes = json.loads(catalog.read_text(encoding="utf-8"))["nodes"]
    assert "model.reentry.recidivism_rates" in nodes


def test_as_of_date_is_a_run_variable(built_demo, tmp_path) -> None:
    from dagster import AssetKey, AssetSelection

    from reentry.defs.selections import MODELS
    from reentry.settings import Settings

    settings = Settings(workdir=tmp_path, as_of=date(2006, 12, 31))
    db = settings.paths.work_db
    db.parent.mkdir()
    shutil.copy(built_demo["db"], db)
    assert query(db, "select as_of_date::varchar from marts.run_metadata") == [("2009-12-31",)]
    # every model after the parameters, with the as-of date of the settings
    parameters = AssetSelection.assets(AssetKey(["intermediate", "int_parameters"]))
    built = materialise(settings, (parameters.downstream() & MODELS).without_checks())
    assert {"intermediate/int_parameters", "marts/recidivism_rates"} <= set(built.materialized)
    assert query(db, "select as_of_date::varchar from marts.run_metadata") == [("2006-12-31",)]
    # Releases of 2005 have no 24 months + 6 months lag of follow-up by the end of 2006.
    rows = query(
        db,
        "select sum(n_full_follow_up), sum(n_releases) from marts.recidivism_rates "
        "where cohort = '2005' and prison_id = 'all' and sex = 'all' "
        "and age_band = 'all' and window_months = 24 and measure = 'reconviction'",
    )
    assert rows[0][0] == 0 and rows[0][1] > 0
    assert (
        query(
            db,
            "select count(*) from raw.register_entries__current "
            "where decision_date > date '2006-12-31'",
        )[0][0]
        > 0
    )


@pytest.mark.parametrize("bad", ["2006-13-01", "yesterday"])
def test_run_refuses_a_malformed_as_of(bad, capsys) -> None:
    from reentry.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--landing", ".", "--as-of", bad])
    assert "is not a date YYYY-MM-DD" in capsys.readouterr().err
