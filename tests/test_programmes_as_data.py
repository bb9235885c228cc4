"""Programmes are registry data (exports.md, Programmes): a programme of another time and
place, declared only in the registry (here: written by the simulation from a scenario file),
runs end to end with no code change; a programme that delivers no placements publishes
everything else; a run whose releases lie outside every programme period publishes the
descriptive marts and says so."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from reentry.outputs.headline import evaluation_lines
from reentry.pipeline import run_pipeline
from simulation import generate_demo

from .conftest import query, settings_for
from .test_simulation import THIRD_PROGRAMME, THIRD_REGISTER, _scenario_with

CODE_FOLDERS = ("reentry", "dbt_project/models", "dbt_project/macros")
CODE_SUFFIXES = {".py", ".sql", ".js", ".yml", ".yaml"}


def _run(root: Path, keys: dict) -> list[str]:
    messages: list[str] = []
    run_pipeline(settings_for(root, keys), messages.append)
    return messages


def test_a_registry_only_programme_of_the_1970s_runs_end_to_end(tmp_path, demo_keys) -> None:
    scenario = _scenario_with(tmp_path / "scenario.yml", THIRD_PROGRAMME, THIRD_REGISTER)
    generate_demo(
        tmp_path / "landing",
        tmp_path / "truth",
        persons=4000,
        seed=5,
        defect_rate=0.0,
        scenario=scenario,
    )
    _run(tmp_path, demo_keys)
    published = tmp_path / "published" / "warehouse.duckdb"
    assert query(
        published,
        "select programme, period_start_date::varchar, country "
        "from marts.programmes where programme = 'pilot70'",
    ) == [("pilot70", "1972-01-01", "GB")]
    effects = query(
        published,
        """
        select estimator, is_estimated, difference, verdict, verdict_texts['en']
        from marts.programme_effects
        where programme = 'pilot70' and cohort = 'all' and measure = 'reconviction'
          and outcome = 'rate' and window_months = 24""",
    )
    assert {e[0] for e in effects} == {"matched", "weighted", "raw"}
    for estimator, estimated, difference, verdict, text in effects:
        assert estimated and difference is not None, (estimator, verdict)
        assert text
    assert query(
        published,
        "select count(*) from marts.placements p join marts.releases r "
        "using (release_id) where r.programme = 'pilot70'",
    ) == [(0,)]
    assert (
        query(
            published, "select count(*) from marts.covariate_balance where programme = 'pilot70'"
        )[0][0]
        > 10
    )
    lines = evaluation_lines(published)
    assert any(
        line.startswith("programme effect, Pilot 1970s (England) (pilot70): Within 24")
        for line in lines
    ), lines


def test_a_programme_without_placements_publishes_everything_else(tmp_path, demo_keys) -> None:
    def only_the_pilot(doc: dict) -> None:
        doc["programmes"] = [yaml.safe_load(THIRD_PROGRAMME)]
        doc["registers"] = [yaml.safe_load(THIRD_REGISTER)]

    scenario = _scenario_with(tmp_path / "scenario.yml", edit=only_the_pilot)
    generate_demo(
        tmp_path / "landing",
        tmp_path / "truth",
        persons=2500,
        seed=8,
        defect_rate=0.0,
        scenario=scenario,
    )
    _run(tmp_path, demo_keys)
    published = tmp_path / "published" / "warehouse.duckdb"
    counts = dict(
        query(
            published,
            """
        select 'placements', count(*) from marts.placements
        union all select 'dropout_rates', count(*) from marts.dropout_rates
        union all select 'releases', count(*) from marts.releases
        union all select 'programme_effects', count(*) from marts.programme_effects""",
        )
    )
    assert counts["placements"] == 0 and counts["dropout_rates"] == 0
    assert counts["releases"] > 0 and counts["programme_effects"] > 0


def test_releases_outside_every_period_publish_the_descriptive_marts(tmp_path, demo_keys) -> None:
    generate_demo(tmp_path / "landing", tmp_path / "truth", persons=2000, seed=9, defect_rate=0.0)
    registry_path = tmp_path / "landing" / "sources.yml"
    registry = yaml.safe_load(registry_path.read_text(encoding="utf-8"))
    # Persons of the demo are born from 1938 on and enter custody at 16 at the earliest.
    for programme in registry["programmes"]:
        programme["start"], programme["end"] = "1950-01-01", "1950-12-31"
    registry_path.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    _run(tmp_path, demo_keys)
    published = tmp_path / "published" / "warehouse.duckdb"
    assert query(published, "select sum(n_period_releases) from marts.programmes") == [(0,)]
    assert query(published, "select count(*) from marts.programme_effects") == [(0,)]
    assert query(published, "select count(*) from marts.releases")[0][0] > 0
    assert query(published, "select count(*) from marts.placements")[0][0] > 0
    assert evaluation_lines(published) == [
        "programme effect: no release lies in a programme period (see the periods in the "
        "source registry); only the descriptive marts carry numbers"
    ]


def test_no_programme_id_or_period_in_code() -> None:
    """Programme ids, names and periods live in the registry (and the demo's scenario file),
    never in SQL, Python, JavaScript or message files."""
    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"mabis|exodus|2002-08-16|2005-06-30", re.IGNORECASE)
    found = []
    for folder in CODE_FOLDERS:
        assert (root / folder).is_dir(), folder
        for path in (root / folder).rglob("*"):
            if path.suffix not in CODE_SUFFIXES:
                continue
            if path.name == "scenario.yml" or "/layouts/" in str(path):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
