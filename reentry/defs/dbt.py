"""The dbt models as Dagster assets (dagster-dbt): dbt tests become asset checks, dbt sources
point at the ingestion assets, so the lineage runs unbroken from landing files to marts."""

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from reentry.faults import moment
from reentry.files import sha256_file
from reentry.settings import DBT_WORK_DB_ENV
from reentry.store import Warehouse, as_warehouse
from reentry.validation.rules import read_run_results

from .resources import WarehouseResource

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
PROJECT = DbtProject(project_dir=DBT_PROJECT, profiles_dir=DBT_PROJECT)
_WATCHED = ("models", "macros", "tests", "seeds", "dbt_project.yml")
# A run tag of the partial build `reentry run` plans after new files of some entities (see
# reentry.pipeline): the entities, comma-separated. The build records them in the ledger.
REBUILT_ENTITIES_TAG = "reentry/rebuilt_entities"


# The build and the publish write the whole warehouse: one at a time across all runs (the
# pool's limit is 1, reentry/defs/dagster.yaml). Ingestion of different sources is not in it:
# on the lake, several ingestions write at once.
WRITER_POOL = "warehouse_writer"


def dbt_executable() -> str:
    """The dbt of this environment (next to the running Python), started through
    `reentry-dbt` so that it dies with the run (reentry.dbt_child); else the dbt on PATH."""
    for name in ("reentry-dbt", "dbt"):
        beside = Path(sys.executable).parent / name
        if beside.exists():
            return str(beside)
    return shutil.which("dbt") or "dbt"


@contextlib.contextmanager
def _profile_database(database: Warehouse | Path | str) -> Iterator[None]:
    """dbt's profile pointed at `database` while a command runs (settings.export_for_dbt
    points it at the work folder's database; a check may test another file; parsing needs
    a value but opens nothing). A lake is the profile's lake target as export_for_dbt set it."""
    if isinstance(database, Warehouse):
        if database.is_lake:
            yield
            return
        database = Path(database.path)
    saved = os.environ.get(DBT_WORK_DB_ENV)
    os.environ[DBT_WORK_DB_ENV] = (
        str(Path(database).resolve()) if isinstance(database, Path) else database
    )
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(DBT_WORK_DB_ENV, None)
        else:
            os.environ[DBT_WORK_DB_ENV] = saved


def run_dbt_tests(database: Warehouse | Path, selectors: Sequence[str]) -> dict[str, dict]:
    """`dbt test` of these tests on `database` through the job's dbt resource, and their
    results (reentry.validation's test runner). The target folder is `dbt/validation` beside
    the database (in the work folder), so the build's run_results.json stays as it was."""
    if not selectors:
        return {}
    target = as_warehouse(database).scratch_dir.resolve() / "dbt" / "validation"
    results = target / "run_results.json"
    results.unlink(missing_ok=True)
    with _profile_database(database):
        invocation = dbt_resource().cli(
            # one --select argument: dagster-dbt reads a single value after it
            ["--quiet", "test", "--select", " ".join(selectors)],
            target_path=target,
            raise_on_error=False,
        )
        invocation.wait()
    if not results.exists():  # dbt stopped before running anything (parse, profile)
        raise RuntimeError(f"dbt test did not run on {database}; its log is in {target}")
    return read_run_results(results)


def dbt_resource() -> DbtCliResource:
    """The one way dbt runs: the job's dbt resource (also `reentry docs` and the parse)."""
    return DbtCliResource(
        project_dir=str(DBT_PROJECT), profiles_dir=str(DBT_PROJECT), dbt_executable=dbt_executable()
    )


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
    of the project (dbt parse opens no database)."""
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
    # Parsing renders the profile, which names the work folder's database; a clean checkout
    # (CI, the tests' collection) parses before any work folder exists.
    with _profile_database(":memory:"):
        dbt_resource().cli(["--quiet", "parse"], target_path=manifest.parent).wait()
    return manifest


def project_checksum(manifest: Path) -> str:
    """The dbt project as the ledger remembers it: a model change means a full build."""
    return sha256_file(manifest)


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
        manifest=manifest,
        project=PROJECT,
        dagster_dbt_translator=TRANSLATOR,
        name="dbt_models",
        pool=WRITER_POOL,
    )
    def dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        """`dbt build` of the selected models (dagster-dbt passes the selection to dbt), with
        the as-of date of the settings; the ledger remembers a build of every model, or the
        partial build `reentry run` planned."""
        settings = warehouse.settings
        work_db = settings.warehouse
        state = ledger.build_state(work_db, settings.as_of, project_checksum(manifest))
        dbt_vars = {"as_of": settings.as_of.isoformat()} if settings.as_of else {}
        args = ["build", "--vars", json.dumps(dbt_vars)]
        sink = _OUTPUT["sink"]
        colors = _OUTPUT["colors"] if sink is not None else sys.stdout.isatty()
        args.append("--use-colors" if colors else "--no-use-colors")
        target = settings.paths.work_db.parent / "dbt" / "target"
        (target / "run_results.json").unlink(missing_ok=True)
        try:
            for event in _stream(dbt.cli(args, context=context, target_path=target), sink):
                if isinstance(event, Output):
                    moment("build:model")
                yield event
        except Exception:
            line = build_result_line(target / "run_results.json")
            if line:
                context.log.error(line)
            raise
        context.log.info(build_result_line(target / "run_results.json") or "dbt: build finished")
        planned = context.run.tags.get(REBUILT_ENTITIES_TAG)
        moment("build:done")
        if not context.is_subset:
            ledger.record_build(work_db, {**state, "changed_entities": None})
        elif planned is not None:
            ledger.record_build(
                work_db, {**state, "changed_entities": [e for e in planned.split(",") if e]}
            )
        moment("build:recorded")

    return dbt_models
