"""The dbt models as Dagster assets (dagster-dbt): dbt tests become asset checks, dbt sources
point at the ingestion assets, so the lineage runs unbroken from landing files to marts."""

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
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

from reentry import ledger
from reentry.transform import DBT_PROJECT, dbt_executable, unaffected_models

from .resources import WarehouseResource

PROJECT = DbtProject(project_dir=DBT_PROJECT, profiles_dir=DBT_PROJECT)
_WATCHED = ("models", "macros", "tests", "dbt_project.yml")

# Where dbt's own lines go. Under `dagster dev` (nothing set) dagster-dbt writes them to
# stdout (the step's compute log), coloured only on a terminal; `reentry run` sets a sink
# with `dbt_output` and shows them only when asked (-v).
_OUTPUT: dict[str, Any] = {"sink": None, "colors": None}


@contextlib.contextmanager
def dbt_output(sink: Callable[[str], None], colors: bool = False) -> Iterator[None]:
    """While a job runs in this process, hand dbt's own lines to `sink` (one call per line)
    instead of writing them to stdout, coloured or not."""
    saved = dict(_OUTPUT)
    _OUTPUT.update(sink=sink, colors=colors)
    try:
        yield
    finally:
        _OUTPUT.update(saved)


class _Lines:
    """A text stream that hands each complete line to a sink (for dagster-dbt's writes)."""

    def __init__(self, sink: Callable[[str], None]):
        self.sink = sink
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                self.sink(line.rstrip())
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _stream(invocation, sink: Callable[[str], None] | None):
    """The invocation's events; dbt's lines go to `sink` (stdout only while dagster-dbt reads
    the next event, so nothing else this process prints is caught)."""
    events = invocation.stream()
    if sink is None:
        yield from events
        return
    lines = _Lines(sink)
    while True:
        with contextlib.redirect_stdout(lines):
            try:
                event = next(events)
            except StopIteration:
                break
        yield event


def _node(unique_id: str) -> str:
    """`model x`, `test y`, `unit_test m::t` from a dbt unique id."""
    kind, _, *rest = unique_id.split(".")
    name = "::".join(rest[:2]) if kind == "unit_test" else (rest[0] if rest else unique_id)
    return f"{kind} {name}"


def build_result_line(run_results: Path) -> str | None:
    """One line on a dbt build from its run_results.json: how many nodes passed in how many
    seconds, or which failed (statuses only: dbt's messages may quote values)."""
    try:
        data = json.loads(run_results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    results = data.get("results", [])
    statuses = [r.get("status") for r in results]
    passed = sum(s in ("success", "pass") for s in statuses)
    warned = sum(s == "warn" for s in statuses)
    skipped = sum(s == "skipped" for s in statuses)
    failed = [
        f"{_node(r['unique_id'])} ({r['status']})"
        for r in results
        if r.get("status") in ("error", "fail", "runtime error")
    ]
    seconds = f"{data.get('elapsed_time', 0):.0f} s"
    if not failed:
        extra = f", {warned} with warnings" if warned else ""
        return f"dbt: {passed + warned} of {len(results)} nodes passed{extra} in {seconds}"
    shown = ", ".join(failed[:8]) + (f" and {len(failed) - 8} more" if len(failed) > 8 else "")
    return f"dbt: {len(failed)} of {len(results)} nodes failed in {seconds}: {shown}" + (
        f"; {skipped} skipped" if skipped else ""
    )


def prepare_manifest() -> Path:
    """Parse the dbt project into target/manifest.json when it is missing or older than a file
    of the project (dbt parse needs no database: the profile points at a scratch path)."""
    manifest = Path(PROJECT.manifest_path)
    newest = max(
        p.stat().st_mtime
        for name in _WATCHED
        for p in (
            [DBT_PROJECT / name]
            if (DBT_PROJECT / name).is_file()
            else (DBT_PROJECT / name).rglob("*")
        )
        if p.is_file()
    )
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return manifest
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "REENTRY_WORK_DB": str(DBT_PROJECT / "target" / "parse-only.duckdb"),
    }
    subprocess.run(
        [
            dbt_executable(),
            "--quiet",
            "parse",
            "--project-dir",
            str(DBT_PROJECT),
            "--log-path",
            str(DBT_PROJECT / "target" / "logs"),
            "--profiles-dir",
            str(DBT_PROJECT),
        ],
        env=env,
        check=True,
        cwd=DBT_PROJECT,
    )
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


TRANSLATOR = ReentryTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_duplicate_source_asset_keys=True
    )
)


def build_dbt_assets(manifest: Path):
    """The dbt multi-asset for a prepared manifest."""

    @dbt_assets(
        manifest=manifest, project=PROJECT, dagster_dbt_translator=TRANSLATOR, name="dbt_models"
    )
    def dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        """`dbt build` on the work database, unless nothing changed since the last build."""
        work_db = warehouse.paths.work_db
        checksum = hashlib.sha256(Path(manifest).read_bytes()).hexdigest()
        state = ledger.build_state(work_db, warehouse.as_of_date, checksum)
        if state["is_current"]:
            context.log.info(
                "dbt: nothing to rebuild (no new data, no model change and the "
                "same as-of date since the last build)"
            )
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
            context.log.info(
                f"dbt: new files of "
                f"{', '.join(state['changed_entities']) or 'no entity'}: rebuilding "
                f"what depends on them, {len(unaffected)} models unchanged"
            )
            if unaffected:
                args += ["--exclude", " ".join(unaffected)]
        # The models left alone are current as they stand: say so (parents first, before
        # anything rebuilt, which never feeds them), so that the validation and the publish
        # downstream of them run (Dagster skips a step when an input did not come).
        schemas = (
            {
                n["name"]: n["schema"]
                for n in dbt_manifest["nodes"].values()
                if n["resource_type"] in ("model", "seed")
            }
            if unaffected
            else {}
        )
        for name in unaffected:
            key = AssetKey([schemas[name], name])
            yield Output(
                None,
                output_name=context.assets_def.get_output_name_for_asset_key(key),
                metadata={"rebuilt": False, "why": "none of the entities it reads has a new file"},
            )
        sink = _OUTPUT["sink"]
        colors = _OUTPUT["colors"] if sink is not None else sys.stdout.isatty()
        args.append("--use-colors" if colors else "--no-use-colors")
        target = work_db.parent / "dbt" / "target"
        (target / "run_results.json").unlink(missing_ok=True)
        try:
            yield from _stream(dbt.cli(args, context=context, target_path=target), sink)
        except Exception:
            line = build_result_line(target / "run_results.json")
            if line:
                context.log.error(line)
            raise
        context.log.info(build_result_line(target / "run_results.json") or "dbt: build finished")
        ledger.record_build(work_db, state)

    return dbt_models
