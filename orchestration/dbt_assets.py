"""The dbt models as Dagster assets (dagster-dbt): dbt tests become asset checks, dbt sources
point at the ingestion assets, so the lineage runs unbroken from landing files to marts."""


import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Output
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from reentry import ops
from reentry.transform import DBT_PROJECT, dbt_executable, unaffected_models

from .resources import WarehouseResource

PROJECT = DbtProject(project_dir=DBT_PROJECT, profiles_dir=DBT_PROJECT)
_WATCHED = ("models", "macros", "tests", "dbt_project.yml")


def prepare_manifest() -> Path:
    """Parse the dbt project into target/manifest.json when it is missing or older than a file
    of the project (dbt parse needs no database: the profile points at a scratch path)."""
    manifest = Path(PROJECT.manifest_path)
    newest = max(
        p.stat().st_mtime
        for name in _WATCHED
        for p in ([DBT_PROJECT / name] if (DBT_PROJECT / name).is_file()
                  else (DBT_PROJECT / name).rglob("*"))
        if p.is_file()
    )
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return manifest
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "REENTRY_WORK_DB": str(DBT_PROJECT / "target" / "parse-only.duckdb")}
    subprocess.run([dbt_executable(), "--quiet", "parse", "--project-dir", str(DBT_PROJECT),
                    "--log-path", str(DBT_PROJECT / "target" / "logs"),
                    "--profiles-dir", str(DBT_PROJECT)], env=env, check=True, cwd=DBT_PROJECT)
    return manifest


class ReentryTranslator(DagsterDbtTranslator):
    """Models are keyed by layer and name (marts/releases); groups are the layers."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingestion"
        return dbt_resource_props["schema"]


TRANSLATOR = ReentryTranslator(settings=DagsterDbtTranslatorSettings(
    enable_asset_checks=True, enable_duplicate_source_asset_keys=True))


def build_dbt_assets(manifest: Path):
    """The dbt multi-asset for a prepared manifest."""

    @dbt_assets(manifest=manifest, project=PROJECT, dagster_dbt_translator=TRANSLATOR,
                name="dbt_models")
    def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource,
                   warehouse: WarehouseResource):
        """`dbt build` on the work database, unless nothing changed since the last build."""
        work_db = warehouse.paths.work_db
        checksum = hashlib.sha256(Path(manifest).read_bytes()).hexdigest()
        state = ops.build_state(work_db, warehouse.as_of_date, checksum)
        if state["is_current"]:
            context.log.info("no new data, no model change and the same as-of date since the "
                             "last build: the models are current, nothing is rebuilt")
            return
        os.environ["REENTRY_WORK_DB"] = str(work_db.resolve())
        os.environ["DBT_LOG_PATH"] = str(work_db.parent / "dbt" / "logs")
        dbt_vars = {"as_of": state["as_of"]} if state["as_of"] else {}
        args = ["build", "--vars", json.dumps(dbt_vars)]
        unaffected: list[str] = []
        if state["changed_entities"] is not None:
            # Only what changed is rebuilt: the models downstream of the entities with new
            # files (plus the ingestion's own small models); the rest keep their tables.
            dbt_manifest = json.loads(Path(manifest).read_text(encoding="utf-8"))
            unaffected = unaffected_models(dbt_manifest, state["changed_entities"])
            context.log.info(f"new files of {', '.join(state['changed_entities']) or 'no entity'}"
                             f": rebuilding what depends on them, {len(unaffected)} models "
                             "unchanged")
            if unaffected:
                args += ["--exclude", " ".join(unaffected)]
        # The models left alone are current as they stand: say so (parents first, before
        # anything rebuilt, which never feeds them), so that the validation and the publish
        # downstream of them run (Dagster skips a step when an input did not come).
        schemas = {n["name"]: n["schema"] for n in dbt_manifest["nodes"].values()
                   if n["resource_type"] in ("model", "seed")} if unaffected else {}
        for name in unaffected:
            key = AssetKey([schemas[name], name])
            yield Output(None, output_name=context.assets_def.get_output_name_for_asset_key(key),
                         metadata={"rebuilt": False,
                                   "why": "none of the entities it reads has a new file"})
        yield from dbt.cli(args, context=context,
                           target_path=work_db.parent / "dbt" / "target").stream()
        ops.record_build(work_db, state)

    return dbt_models
