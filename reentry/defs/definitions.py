"""Dagster definitions: ingestion, dbt models, validations, publish, dashboards and pack,
sensor and schedule.

`dagster dev -m reentry.defs.definitions` (see `make dev`) loads `defs`, configured from the
REENTRY_* environment variables; `reentry run` and `reentry demo` build the same definitions
with their own settings and execute the job `warehouse` in process.
"""

from __future__ import annotations

import json
import os

from dagster import AssetSelection, Definitions, define_asset_job, definitions
from dagster_dbt import DbtCliResource

from reentry.transform import DBT_PROJECT, dbt_executable
from reentry.validation.rules import public_marts

from .checks import build_marts_checks
from .dbt import build_dbt_assets, prepare_manifest
from .ingest import landing_files
from .outputs import dashboards_site, ministry_pack
from .publish import build_researcher_database
from .resources import WarehouseResource
from .sensors import build_landing_sensor, build_schedule

JOB_NAME = "warehouse"


def warehouse_from_env() -> WarehouseResource:
    """Settings for `dagster dev`: REENTRY_WORKDIR (default ./demo), REENTRY_LANDING,
    REENTRY_SOURCES, REENTRY_KEY_FILE, REENTRY_RESEARCH_KEY_FILE, REENTRY_AS_OF,
    REENTRY_RETENTION_DAYS, REENTRY_DEMO."""
    workdir = os.environ.get("REENTRY_WORKDIR", "demo")
    return WarehouseResource(
        workdir=workdir,
        landing=os.environ.get("REENTRY_LANDING", os.path.join(workdir, "landing")),
        sources=os.environ.get("REENTRY_SOURCES") or None,
        key_file=os.environ.get("REENTRY_KEY_FILE") or None,
        research_key_file=os.environ.get("REENTRY_RESEARCH_KEY_FILE") or None,
        as_of=os.environ.get("REENTRY_AS_OF") or None,
        retention_days=int(os.environ.get("REENTRY_RETENTION_DAYS") or 730),
        demo=os.environ.get("REENTRY_DEMO", "") == "1",
    )


def build_definitions(warehouse: WarehouseResource) -> Definitions:
    """Every asset, check, job, sensor and schedule, bound to one warehouse."""
    manifest = prepare_manifest()
    dbt_models = build_dbt_assets(manifest)
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
        sensors=[build_landing_sensor(JOB_NAME, warehouse.landing_path)],
        schedules=[build_schedule(JOB_NAME)],
        resources={
            "warehouse": warehouse,
            "dbt": DbtCliResource(
                project_dir=str(DBT_PROJECT),
                profiles_dir=str(DBT_PROJECT),
                dbt_executable=dbt_executable(),
            ),
        },
    )


@definitions
def defs() -> Definitions:
    """Loaded lazily by `dagster dev`, so importing this module parses nothing."""
    return build_definitions(warehouse_from_env())
