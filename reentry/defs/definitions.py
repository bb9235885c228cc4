"""Dagster definitions: ingestion, dbt models, validations, publish, dashboards and pack,
sensor and schedule.

`dagster dev -m reentry.defs.definitions` (see `make dev`) loads `defs`, configured by
`Settings.from_env()` (the REENTRY_* environment variables); `reentry run` and `reentry demo`
build the same definitions with their own settings and execute parts of the job `warehouse`
in process (reentry.pipeline).
"""

from __future__ import annotations

import json

from dagster import AssetSelection, Definitions, define_asset_job, definitions

from reentry.settings import Settings
from reentry.validation.rules import public_marts

from .checks import build_marts_checks
from .dbt import build_dbt_assets, dbt_resource, prepare_manifest
from .ingest import landing_files
from .outputs import dashboards_site, ministry_pack
from .publish import build_researcher_database
from .resources import WarehouseResource
from .sensors import build_landing_sensor, build_schedule

JOB_NAME = "warehouse"


def build_definitions(settings: Settings) -> Definitions:
    """Every asset, check, job, sensor and schedule, bound to one warehouse.

    dbt's profile reads the work database and DuckDB's memory limit from the environment
    (dbt_project/profiles.yml): they are set here, for every dbt the definitions run."""
    settings.export_for_dbt()
    manifest = prepare_manifest()
    dbt_models = build_dbt_assets(manifest)
    # Every mart of the dbt project is validated and published: one list, from the manifest.
    marts = public_marts(json.loads(manifest.read_text(encoding="utf-8")))
    job = define_asset_job(
        JOB_NAME,
        selection=AssetSelection.all(),
        description="Ingest what is new, build, validate, publish, dashboards "
        "and the ministry pack.",
    )
    return Definitions(
        assets=[
            landing_files,
            dbt_models,
            build_researcher_database(marts),
            dashboards_site,
            ministry_pack,
        ],
        asset_checks=[build_marts_checks(marts)],
        jobs=[job],
        sensors=[build_landing_sensor(JOB_NAME, settings.landing)],
        schedules=[build_schedule(JOB_NAME)],
        resources={"warehouse": WarehouseResource.from_settings(settings), "dbt": dbt_resource()},
    )


@definitions
def defs() -> Definitions:
    """Loaded lazily by `dagster dev`, so importing this module parses nothing."""
    return build_definitions(Settings.from_env())
