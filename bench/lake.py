"""The lake against the file (`make bench-lake`): the whole Dagster job end to end, then once
more after one new partner file, on the embedded DuckDB file and on DuckLake with its catalog
in a PostgreSQL started for it (scripts/lake-postgres), for the same generated exports.
Writes lake.json and lake.md into the output folder (README, "The warehouse on DuckLake").

    python -m bench.lake [--sizes 100000 1000000] [--work DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from .run import REPO, add_partner_file, python, size_mb, timed

SCRIPT = REPO / "scripts" / "lake-postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lake(root: Path) -> dict[str, str]:
    """A PostgreSQL for the lake's catalog; its variables (scripts/lake-postgres)."""
    out = subprocess.run(
        [str(SCRIPT), "start", str(root), str(_free_port())],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = (line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    return {k: v.strip("'") for k, v in pairs}


def _catalog_rows(env: dict[str, str]) -> dict[str, int]:
    """How big the lake's catalog grew: snapshots and data files."""
    from reentry.store import Warehouse

    warehouse = Warehouse(
        "lake",
        catalog=env["REENTRY_LAKE_CATALOG"],
        data_path=env["REENTRY_LAKE_DATA"],
        extension_dir=Path(env["EXTENSIONS"]),
    )
    with warehouse.connect(read_only=True) as con:
        snapshots = con.execute("select count(*) from wh.snapshots()").fetchone()[0]
    files = sum(1 for _ in Path(env["REENTRY_LAKE_DATA"]).rglob("*.parquet"))
    return {"snapshots": snapshots, "data_files": files}


def run_size(persons: int, work: Path, log) -> dict:
    root = work / f"lake-n{persons}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    root.chmod(0o711)  # as root, the PostgreSQL server runs as the user postgres
    landing = root / "landing"
    log(f"{persons:,} persons: generate")
    timed(
        python(
            "-m", "reentry.cli", "generate", "--landing", str(landing),
            "--truth", str(root / "truth"), "--persons", str(persons), "--reference-layout",
        )
    )  # fmt: skip
    result: dict = {"persons": persons, "landing_mb": size_mb(landing)}
    pg = root / "pg-lake"
    pg.mkdir()
    pg.chmod(0o711)
    lake = _lake(pg)
    try:
        for backend, env in (("file", {"REENTRY_BACKEND": "file"}), ("lake", lake)):
            job_dir, job_landing = root / f"job-{backend}", root / f"landing-{backend}"
            shutil.copytree(landing, job_landing, copy_function=os.link)
            log(f"{persons:,} persons: the whole job on the {backend}")
            job = timed(python("-m", "bench.steps", "job", str(job_dir), str(job_landing)), env)
            add_partner_file(job_dir / "archive", job_landing)
            log(f"{persons:,} persons: the job after one new partner file, {backend}")
            again = timed(python("-m", "bench.steps", "job", str(job_dir), str(job_landing)), env)
            result[backend] = {"job": asdict(job), "incremental": asdict(again)}
            if backend == "file":
                result[backend]["work_mb"] = size_mb(job_dir / "work" / "warehouse.duckdb")
            else:
                result[backend]["work_mb"] = size_mb(Path(lake["REENTRY_LAKE_DATA"]))
                result[backend].update(
                    _catalog_rows({**lake, "EXTENSIONS": str(job_dir / "work" / "extensions")})
                )
    finally:
        subprocess.run([str(SCRIPT), "stop", str(pg)], check=False)
    for part in ("job", "incremental"):
        result[f"ratio_{part}"] = round(
            result["lake"][part]["seconds"] / result["file"][part]["seconds"], 2
        )
    return result


def markdown(results: list[dict]) -> str:
    lines = [
        "| persons | backend | whole job | after one new file | peak memory | stored |"
        " snapshots | data files |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for backend in ("file", "lake"):
            b = r[backend]
            lines.append(
                f"| {r['persons']:,} | {backend} | {b['job']['seconds']:,.0f} s | "
                f"{b['incremental']['seconds']:,.0f} s | {b['job']['peak_mb']:,.0f} MB | "
                f"{b['work_mb']:,.0f} MB | {b.get('snapshots', '')} | {b.get('data_files', '')} |"
            )
        lines.append(
            f"| {r['persons']:,} | lake / file | {r['ratio_job']:.2f}× | "
            f"{r['ratio_incremental']:.2f}× | | | | |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reentry-bench")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    def log(message: str) -> None:
        print(f"[{time.time() - started:7.0f} s] {message}", flush=True)

    results = []
    for persons in args.sizes:
        results.append(run_size(persons, args.work, log))
        (args.out / "lake.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        (args.out / "lake.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    main()
