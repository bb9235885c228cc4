"""A relative work folder (as `make demo` passes) keeps everything inside that folder; the
settings come from the environment for `dagster dev` and reach the Dagster resource intact."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from reentry.defs.resources import WarehouseResource
from reentry.settings import Settings


def test_relative_paths_are_resolved_before_dbt_changes_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(workdir=Path("demo"), landing="demo/landing", demo=True)
    assert settings.paths.work_db == tmp_path / "demo" / "work" / "warehouse.duckdb"
    assert settings.landing == tmp_path / "demo" / "landing"
    assert settings.paths.work_db.is_absolute()
    assert settings.registry == tmp_path / "demo" / "landing" / "sources.yml"


def test_settings_from_the_environment_and_through_the_resource(tmp_path) -> None:
    environ = {
        "REENTRY_WORKDIR": str(tmp_path / "w"),
        "REENTRY_SOURCES": str(tmp_path / "registry.yml"),
        "REENTRY_KEY_FILE": str(tmp_path / "k"),
        "REENTRY_AS_OF": "2008-06-30",
        "REENTRY_RETENTION_DAYS": "30",
        "REENTRY_DEMO": "1",
        "REENTRY_DUCKDB_MEMORY": "1GB",
        "REENTRY_RESEARCH_KEY_FILE": "",  # empty means unset
    }
    settings = Settings.from_env(environ)
    assert settings.landing == tmp_path / "w" / "landing"  # the default: WORKDIR/landing
    assert settings.registry == tmp_path / "registry.yml"
    assert settings.as_of == date(2008, 6, 30)
    assert (settings.retention_days, settings.demo, settings.duckdb_memory) == (30, True, "1GB")
    assert settings.research_key_file is None
    assert WarehouseResource.from_settings(settings).settings == settings
    default = Settings.from_env({})
    assert default.workdir == Path("demo").resolve()
    assert (default.as_of, default.demo, default.retention_days) == (None, False, 730)
