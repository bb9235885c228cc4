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


def dbt_args(
    command: str, work_dir: Path, as_of: date | None, extra: list[str] | None = None
) -> list[str]:
    """Command-line arguments for dbt: project, profiles, per-work-folder target and logs."""
    dbt_vars = {"as_of": as_of.isoformat()} if as_of else {}
    return [
        *command.split(),
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(work_dir / "dbt" / "target"),
        "--log-path",
        str(work_dir / "dbt" / "logs"),
        "--vars",
        json.dumps(dbt_vars),
        *(extra or []),
    ]


def dbt_executable() -> str:
    """The dbt of this environment (next to the running Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(
    command: str,
    work_db: Path,
    as_of: date | None = None,
    extra: list[str] | None = None,
    quiet: bool = False,
) -> BuildResult:
    """Run a dbt command (build, docs generate, …) on `work_db`; raise BuildFailed on failure.

    dbt runs as a child process, as dagster-dbt runs it, so no DuckDB connection of dbt's
    outlives the command in this process.
    """
    work_dir = Path(work_db).resolve().parent
    env = {
        **os.environ,
        "REENTRY_WORK_DB": str(Path(work_db).resolve()),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
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


def raw_lineage(manifest: dict) -> dict[str, frozenset[str]]:
    """Model name -> the raw entities it reads, directly or through other models (from the
    manifest's parent map; raw sources are named `<entity>__current`)."""
    parents = manifest["parent_map"]
    memo: dict[str, frozenset[str]] = {}

    def entities(node: str) -> frozenset[str]:
        if node not in memo:
            if node.startswith("source."):
                _, _, source, table = node.split(".", 3)
                memo[node] = frozenset({table.removesuffix("__current")} if source == "raw" else ())
            else:
                memo[node] = frozenset().union(*(entities(p) for p in parents.get(node, [])))
        return memo[node]

    return {
        node["name"]: entities(uid)
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }


def unaffected_models(manifest: dict, changed_entities: list[str]) -> list[str]:
    """The models a build after new files of `changed_entities` can leave as they are, in
    topological order (parents first): those reading some raw entity but none of the changed
    ones, and everything upstream of them. The rest is rebuilt: the models reading a changed
    entity, and the small ones reading no raw entity that feed nothing left alone (the
    ingestion's manifest and quarantine marts, run_metadata). Nothing rebuilt is then upstream
    of anything left alone, and what is left alone reads only what did not change, as long as
    the build's settings, the registry and the as-of date stayed the same (ops.build_state
    decides a full build otherwise)."""
    changed = set(changed_entities)
    lineage = raw_lineage(manifest)
    # Seeds (reference lists) count as nodes too: one feeding a model left alone is left
    # alone with it, and comes before it.
    uid_of = {
        n["name"]: uid
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] in ("model", "seed")
    }
    name_of = {uid: name for name, uid in uid_of.items()}
    parents = manifest["parent_map"]
    keep = {name for name, reads in lineage.items() if reads and not reads & changed}
    stack = list(keep)
    while stack:  # close upwards
        for parent in parents.get(uid_of[stack.pop()], []):
            name = name_of.get(parent)
            if name is not None and name not in keep:
                keep.add(name)
                stack.append(name)
    ordered: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for parent in parents.get(uid_of[name], []):
            if name_of.get(parent) in keep:
                place(name_of[parent])
        ordered.append(name)

    for name in sorted(keep):
        place(name)
    return ordered
