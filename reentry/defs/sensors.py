"""A sensor on the landing folder and the schedule of the periodic run."""

import hashlib
from pathlib import Path

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)


def landing_fingerprint(landing: Path) -> str:
    """A digest of every file's name, size and modification time under the landing folder."""
    h = hashlib.sha256()
    if landing.is_dir():
        for path in sorted(p for p in landing.rglob("*") if p.is_file()):
            stat = path.stat()
            h.update(f"{path.relative_to(landing)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def build_landing_sensor(job_name: str, landing: Path):
    """Start the job when the landing folder's files change."""

    @sensor(
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description=f"Starts a run when files arrive in or change under {landing}.",
    )
    def new_landing_files(context: SensorEvaluationContext):
        fingerprint = landing_fingerprint(landing)
        if fingerprint == context.cursor:
            return SkipReason("no new or changed files in the landing folder")
        context.update_cursor(fingerprint)
        return RunRequest(run_key=fingerprint)

    return new_landing_files


def build_schedule(job_name: str) -> ScheduleDefinition:
    """Quarterly: the periodic run that refreshes the marts and (with issue 5) the pack."""
    return ScheduleDefinition(
        name="quarterly_pack",
        job_name=job_name,
        cron_schedule="0 6 1 1,4,7,10 *",
        default_status=DefaultScheduleStatus.STOPPED,
        description="First day of each quarter, 06:00: refresh, validate, publish, pack.",
    )
