"""A relative work folder (as `make demo` passes) keeps everything inside that folder."""

from __future__ import annotations

from reentry.defs.resources import WarehouseResource


def test_relative_paths_are_resolved_before_dbt_changes_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    warehouse = WarehouseResource(workdir="demo", landing="demo/landing", demo=True)
    assert warehouse.paths.work_db == tmp_path / "demo" / "work" / "warehouse.duckdb"
    assert warehouse.landing_path == tmp_path / "demo" / "landing"
    assert warehouse.paths.work_db.is_absolute()
