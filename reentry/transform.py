"""Running the dbt project against a work database, in process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


class BuildFailed(Exception):
    """dbt build did not pass; the message names the failing nodes."""


@dataclass
class BuildResult:
    """What dbt did: node name -> status."""

    statuses: dict[str, str]

    def count(self, status: str) -> int:
        return sum(s == status for s in self.statuses.values())


def dbt_args(command: str, work_dir: Path, as_of: date | None, extra: list[str] | None = None
             ) -> list[str]:
    """Command-line arguments for dbt: project, profiles, per-work-folder target and logs."""
    dbt_vars = {"as_of": as_of.isoformat()} if as_of else {}
    return [
        *command.split(),
        "--project-dir", str(DBT_PROJECT),
        "--profiles-dir", str(DBT_PROJECT),
        "--target-path", str(work_dir / "dbt" / "target"),
        "--log-path", str(work_dir / "dbt" / "logs"),
        "--vars", json.dumps(dbt_vars),
        *(extra or []),
    ]


def dbt_executable() -> str:
    """The dbt of this environment (next to the running Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(command: str, work_db: Path, as_of: date | None = None,
            extra: list[str] | None = None, quiet: bool = False) -> BuildResult:
    """Run a dbt command (build, docs generate, …) on `work_db`; raise BuildFailed on failure.

    dbt runs as a child process, as dagster-dbt runs it, so no DuckDB connection of dbt's
    outlives the command in this process.
    """
    work_dir = Path(work_db).resolve().parent
    env = {**os.environ, "REENTRY_WORK_DB": str(Path(work_db).resolve()),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    args = [dbt_executable(), *dbt_args(command, work_dir, as_of, extra)]
    if quiet:
        args.insert(1, "--quiet")
    proc = subprocess.run(args, env=env, cwd=DBT_PROJECT, check=False)
    results_file = work_dir / "dbt" / "target" / "run_results.json"
    statuses: dict[str, str] = {}
    if results_file.exists():
        results = json.loads(results_file.read_text(encoding="utf-8"))
        statuses = {r["unique_id"]: r["status"] for r in results.get("results", [])}
    if proc.returncode != 0:
        failed = [n for n, st in statuses.items() if st in ("error", "fail")]
        reason = ", ".join(failed) if failed else f"exit code {proc.returncode}, see the dbt log"
        raise BuildFailed(f"dbt {command} failed: {reason}")
    return BuildResult(statuses)
