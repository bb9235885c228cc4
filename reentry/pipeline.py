"""Running the Dagster job `warehouse` in process: the one path of `reentry run` and
`reentry demo` (the same definitions `dagster dev` shows)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from dagster import DagsterEventType, DagsterInstance, ExecuteInProcessResult, logger


class PipelineFailed(Exception):
    """The job failed; the message names the failing step or the failed expectations."""


@dataclass
class PipelineResult:
    """What the run did, step by step."""

    succeeded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)


def _progress_logger(say: Callable[[str], None]):
    """A Dagster logger that hands our own messages (INFO and above) to `say`."""

    @logger(description="Hands run messages to the command line's progress printer.")
    def progress(_init_context):
        log = logging.getLogger("reentry.pipeline")
        log.handlers.clear()
        log.propagate = False

        class Say(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                message = getattr(record, "dagster_meta", {}).get("orig_message") or \
                    record.getMessage()
                if record.levelno >= logging.INFO and message and "\n" not in message[:1]:
                    say(message)

        log.addHandler(Say())
        log.setLevel(logging.INFO)
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
            if not data.passed:
                meta = data.metadata.get("failed_expectations")
                detail = f": {meta.value}" if meta is not None else ""
                out.failed_checks.append(
                    f"{data.asset_key.to_user_string()} {data.check_name}{detail}")
    return out


def _root_cause(error) -> str:
    """The innermost error of Dagster's wrapped error chain, as one line."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip().splitlines()[0] if error.message else error.cls_name


def run_pipeline(warehouse, say: Callable[[str], None]) -> PipelineResult:
    """Execute the job for `warehouse`; raise PipelineFailed naming what failed."""
    from orchestration.definitions import JOB_NAME, build_definitions

    # When nothing was rebuilt, no check of the skipped models has a result; Dagster warns once
    # per check, which says nothing a person needs (the summary says nothing was rebuilt).
    logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)
    job = build_definitions(warehouse).resolve_job_def(JOB_NAME)
    job = job.with_logger_defs({"progress": _progress_logger(say)})
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        run_config={"loggers": {"progress": {}}})
    summary = _summarise(result)
    if not result.success:
        failures = [e for e in result.all_events
                    if e.event_type == DagsterEventType.STEP_FAILURE]
        steps = ", ".join(sorted({e.step_key for e in failures})) or "unknown step"
        reasons = [f"step {e.step_key}: {_root_cause(e.event_specific_data.error)}"
                   for e in failures if e.event_specific_data and e.event_specific_data.error]
        checks = "; ".join(summary.failed_checks)
        raise PipelineFailed(
            f"failed at {steps}" + (f" (failed checks: {checks})" if checks else "")
            + ("\n  " + "\n  ".join(r.splitlines()[0] for r in reasons) if reasons else "")
        )
    return summary
