"""Running the Dagster job `warehouse` in process: the one path of `reentry run`, `reentry
demo`, `reentry ingest` and `reentry erase` (the same definitions `dagster dev` shows), and of
the tests and the benchmark, which materialise parts of it.

`reentry run` executes the job in two parts: the ingestion first; then, from the run ledger
(reentry.ledger.build_state), the part that is stale: everything after the ingestion when the
as-of date, the dbt project, the source registry changed or a person was erased (a full
build); after new files of some entities only what reads them, publish and outputs
(reentry.defs.selections.after_new_files: Dagster's lineage, which dagster-dbt turns into
dbt's own selection); nothing when nothing changed.

What the run says goes to the caller's `say`: the messages of the project's own steps only.
Dagster's own messages (step starts and skips, dagster-dbt's "subsetted execution" and
"partial parse" notes, the warning listing every check a skipped build did not run) are
not shown: they say nothing a person running the warehouse needs, and a failure is reported
once, by PipelineFailed, with its cause.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from dagster import (
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    logger,
)

from reentry import ledger
from reentry.failures import kind_of as failures_kind_of
from reentry.failures import message as failure_message
from reentry.settings import Settings

# Modules whose log calls are Dagster's, not the project's.
_FRAMEWORK = ("dagster", "dagster_dbt", "dagster_shared", "dagster_pipes", "dagster_graphql")
# Modules a log call passes through on its way to the progress logger.
_PLUMBING = ("logging", "dagster._core.log_manager", __name__)
# Lines of an error's message shown, and characters per line.
_MAX_LINES, _MAX_CHARS = 20, 300
# Errors that are the configuration's (exit code 2, as `reentry ingest` gives them).
_CONFIGURATION_ERRORS = {"ConfigError", "PseudonymKeyError"}


class PipelineFailed(Exception):
    """The job failed; the message names the failing step or the failed expectations.
    `exit_code` is 2 when the cause is the configuration (registry, layout, key), else 1."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class PipelineResult:
    """What the run did, step by step."""

    succeeded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # "<asset> <check>" of every check run

    def extend(self, other: PipelineResult) -> None:
        for f in fields(self):
            getattr(self, f.name).extend(getattr(other, f.name))


@dataclass
class BuildPlan:
    """What the ledger says to build after the ingestion: `selection` None for nothing;
    `entities` the entities with new files of a partial build (None: a full build)."""

    selection: AssetSelection | None
    entities: list[str] | None = None
    message: str | None = None


def _from_project() -> bool:
    """Whether the log call being handled was made by the project's code (an asset's
    `context.log`, the ingestion's progress) rather than by Dagster or dagster-dbt: the first
    frame of the calling stack outside the logging machinery decides. The job runs in process
    and logging is synchronous, so that frame is the caller's."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not any(module == p or module.startswith(p + ".") for p in _PLUMBING):
            return module.split(".")[0] not in _FRAMEWORK
        frame = frame.f_back
    return False


def _progress_logger(say: Callable[[str], None], on_step: Callable[[str], None] | None = None):
    """A Dagster logger that hands the project's own messages (INFO and above) to `say`, the
    start of each step to `on_step`, and drops Dagster's own messages."""

    @logger(description="Hands run messages to the command line's progress printer.")
    def progress(_init_context):
        log = logging.getLogger("reentry.pipeline")
        log.handlers.clear()
        log.propagate = False

        class Say(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                meta = getattr(record, "dagster_meta", None) or {}
                event = meta.get("dagster_event")
                if event is not None:  # a framework event: only a step's start is of use
                    if on_step and event.event_type == DagsterEventType.STEP_START:
                        on_step(event.step_key)
                    return
                if record.levelno < logging.INFO or not _from_project():
                    return
                message = meta.get("orig_message") or record.getMessage()
                if message and not message.startswith("\n"):
                    say(message)

        log.addHandler(Say())
        log.setLevel(logging.DEBUG)  # a step's start is a DEBUG event
        return log

    return progress


def _summarise(result: ExecuteInProcessResult) -> PipelineResult:
    out = PipelineResult()
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_SUCCESS:
            out.succeeded.append(event.step_key)
        elif event.event_type == DagsterEventType.STEP_SKIPPED:
            out.skipped.append(event.step_key)
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            out.materialized.append(event.asset_key.to_user_string())
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            out.checked.append(f"{data.asset_key.to_user_string()} {data.check_name}")
            if not data.passed:
                meta = data.metadata.get("failed_expectations")
                detail = f": {meta.value}" if meta is not None else ""
                out.failed_checks.append(
                    f"{data.asset_key.to_user_string()} {data.check_name}{detail}"
                )
    return out


def _innermost(error):
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error


def _root_cause(error) -> str:
    """The innermost error of Dagster's wrapped error chain, with its whole message (a
    configuration error names the file, the source and the field on the lines after the
    first), bounded in lines and width. A failed dbt build gives dbt's own errors, not
    dagster-dbt's pointer to compute logs a command line run does not have."""
    error = _innermost(error)
    message = (error.message or "").strip()
    if not message:
        return error.cls_name or "unknown error"
    cls = error.cls_name or ""
    if cls and (cls in _CONFIGURATION_ERRORS or cls.startswith("Dagster")):
        head, sep, rest = message.partition(": ")  # the message says all: no class name
        if sep and head.endswith(cls):
            message = rest
    if "The dbt CLI process" in message:
        _, _, parsed = message.partition("Errors parsed from dbt logs:")
        message = "dbt build failed" + (
            ":\n" + parsed.strip()
            if parsed.strip()
            else " (see the dbt line above; -v shows dbt's output)"
        )
    lines = [line.rstrip() for line in message.splitlines() if line.strip()]
    lines = [line if len(line) <= _MAX_CHARS else line[: _MAX_CHARS - 1] + "…" for line in lines]
    if len(lines) > _MAX_LINES:
        lines = [*lines[:_MAX_LINES], f"… and {len(lines) - _MAX_LINES} more lines"]
    return "\n".join(lines)


def plan_build(settings: Settings, defs) -> BuildPlan:
    """The part of the job after the ingestion that the ledger finds stale."""
    from reentry.defs.dbt import PROJECT, project_checksum
    from reentry.defs.selections import (
        FULL_BUILD,
        MODELS,
        OUTPUTS,
        PUBLISH_AND_OUTPUTS,
        after_new_files,
        validation_checks,
    )
    from reentry.outputs.render import stale_outputs

    work_db = settings.warehouse
    state = ledger.build_state(work_db, settings.as_of, project_checksum(PROJECT.manifest_path))
    if state["is_current"]:
        if ledger.unpublished_build(work_db):
            # Built, but stopped before its publish ended: validated again (every test run
            # anew, nothing taken from the stopped run) and published.
            target = settings.paths.work_db.parent / "dbt" / "target"
            (target / "run_results.json").unlink(missing_ok=True)
            return BuildPlan(
                PUBLISH_AND_OUTPUTS | validation_checks(),
                message="the last build was not published (its run was stopped): "
                "validating and publishing it",
            )
        stale = stale_outputs(settings.paths)
        if stale:
            # Published, but not drawn (a run stopped in between): draw them again.
            return BuildPlan(
                OUTPUTS,
                message=f"{' and '.join(stale)} show an older version than the published "
                "database: drawn again",
            )
        return BuildPlan(
            None,
            message="dbt: nothing to rebuild (no new data, no model change and the same "
            "as-of date since the last build)",
        )
    entities = state["changed_entities"]
    if entities is None:
        return BuildPlan(FULL_BUILD)
    selection = after_new_files(entities)
    graph = defs.resolve_asset_graph()
    models = MODELS.resolve(graph)
    unchanged = len(models - selection.resolve(graph))
    return BuildPlan(
        selection,
        entities,
        f"dbt: new files of {', '.join(entities) or 'no entity'}: rebuilding what depends "
        f"on them, {unchanged} models unchanged",
    )


def run_pipeline(
    settings: Settings,
    say: Callable[[str], None],
    *,
    selection: AssetSelection | None = None,
    dbt_line: Callable[[str], None] | None = None,
    dbt_colors: bool = False,
    on_step: Callable[[str], None] | None = None,
    command: str = "run",
) -> PipelineResult:
    """Execute the job for `settings` as `reentry run` does (ingestion, then what the ledger
    finds stale), or only `selection` of it; raise PipelineFailed naming what failed.

    `say` receives the steps' own messages; `dbt_line` each line dbt prints (default:
    dropped; they are in WORKDIR/work/dbt/), coloured if `dbt_colors`; `on_step` the key of
    each step as it starts."""
    from reentry.defs.dbt import REBUILT_ENTITIES_TAG, dbt_output
    from reentry.defs.definitions import build_definitions
    from reentry.defs.selections import INGESTION

    # A check whose asset is left out of a run is not run; Dagster's planner warns once per
    # such check on its own Python logger, which says nothing a person needs.
    logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)
    defs = build_definitions(settings)
    summary = PipelineResult()
    with (
        DagsterInstance.ephemeral() as instance,
        dbt_output(dbt_line or (lambda _line: None), colors=dbt_colors),
    ):

        def execute(part: AssetSelection, tags: dict[str, str] | None = None) -> None:
            summary.extend(_execute(defs, part, instance, say, on_step, tags))

        if selection is not None:
            execute(selection)
            return summary
        started = recover(settings, say, command)
        try:
            execute(INGESTION)
            plan = plan_build(settings, defs)
            if plan.message:
                say(plan.message)
            if plan.selection is not None:
                tags = (
                    {} if plan.entities is None else {REBUILT_ENTITIES_TAG: ",".join(plan.entities)}
                )
                execute(plan.selection, tags)
            if ledger.erasures_unfinished(settings.warehouse):
                from reentry.erase import finish_erasures

                finish_erasures(settings, say)
        finally:
            ledger.finish_run(settings.warehouse, started)
    return summary


# What a killed step leaves beside the files it was writing (each is written whole or not
# at all): relative to the work folder.
_LEFTOVERS = (
    "work/.ingest-*",  # the ingestion's scratch folder
    "work/warehouse.duckdb.compact",  # an erasure's compacted copy of the work database
    "published/*.new",  # a staged researchers' database, or the link to the previous one
    "work/aggregates/*.tmp",  # a protected table being cached
    "dashboards/.data-version.tmp",
    "reports/.data-version.tmp",
)


def recover(settings: Settings, say: Callable[[str], None], command: str = "run"):
    """Before a run acts: remove what a killed run left half-written, settle a publish it left
    between intent and record, and say so. Return the run's start (its ledger record)."""
    import shutil

    from reentry.files import sha256_file
    from reentry.publish.database import previous_path

    paths, root = settings.paths, settings.paths.root
    paths.work_db.parent.mkdir(parents=True, exist_ok=True)
    for pattern in _LEFTOVERS:
        for leftover in root.glob(pattern):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    started, killed = ledger.start_run(settings.warehouse, command, settings.as_of)
    if killed:
        say(
            f"the {killed['command']} started at {killed['started_at']:%Y-%m-%d %H:%M:%S} was "
            "stopped before it ended: this run finishes its work"
        )
    pending = ledger.pending_publish(settings.warehouse)
    if pending:
        _, version = pending
        moved = paths.published_db.exists() and sha256_file(paths.published_db) == version
        previous = previous_path(paths.published_db)
        ledger.settle_publish(
            settings.warehouse, version, moved, previous if moved and previous.exists() else None
        )
        say(
            "the stopped run's publish had "
            + ("ended: recorded now" if moved else "not replaced the published version: redone")
        )
    # A publish recorded without its release (killed in between, or published before
    # releases were kept) is kept as one now.
    from reentry.publish.releases import record_release

    release = record_release(settings.warehouse, paths.published_db)
    if release:
        say(f"the published version is kept as {release.name}")
    return started


def _execute(defs, selection: AssetSelection, instance, say, on_step, tags) -> PipelineResult:
    """Materialise `selection` of the job (the assets and the checks it resolves to) in
    process; raise PipelineFailed if a step failed."""
    from reentry.defs.definitions import JOB_NAME

    graph = defs.resolve_asset_graph()
    assets, checks = selection.resolve(graph), selection.resolve_checks(graph)
    if not assets and not checks:
        return PipelineResult()
    job = defs.resolve_job_def(JOB_NAME).get_subset(
        asset_selection=assets, asset_check_selection=checks
    )
    job = job.with_logger_defs({"progress": _progress_logger(say, on_step)})
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"progress": {}}},
        tags=tags,
    )
    summary = _summarise(result)
    if not result.success:
        _raise_failure(result, summary)
    return summary


def _chain_text(error) -> str:
    """Every class name and message of a wrapped error chain (to recognise its kind only)."""
    parts = []
    while error is not None:
        parts.append(f"{error.cls_name}: {error.message}")
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return "\n".join(parts)


def _raise_failure(result: ExecuteInProcessResult, summary: PipelineResult) -> None:
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    steps = ", ".join(sorted({e.step_key for e in failures})) or "unknown step"
    errors = [
        (e.step_key, e.event_specific_data.error)
        for e in failures
        if e.event_specific_data and e.event_specific_data.error
    ]
    for key, error in errors:
        kind = failures_kind_of(_chain_text(error))
        if kind:  # the machine's failure, not the data's: one line, nothing quoted
            raise PipelineFailed(failure_message(kind, f"step {key}"))
    if summary.failed_checks:  # named below with their expectations
        errors = [
            (key, error)
            for key, error in errors
            if _innermost(error).cls_name != "DagsterAssetCheckFailedError"
        ]
    reasons = [f"step {key}: {_root_cause(error)}" for key, error in errors]
    checks = "; ".join(summary.failed_checks)
    configuration = any(_innermost(error).cls_name in _CONFIGURATION_ERRORS for _, error in errors)
    raise PipelineFailed(
        f"failed at {steps}"
        + (f" (failed checks: {checks})" if checks else "")
        + "".join("\n  " + reason.replace("\n", "\n    ") for reason in reasons),
        exit_code=2 if configuration else 1,
    )
