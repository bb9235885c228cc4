"""One pipeline step in its own process, so the benchmark can time it and read its peak
memory (`python -m bench.steps STEP WORKDIR LANDING`). Each step is the code the Dagster job
runs for it; `job` is the whole job (`reentry run`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from reentry.pseudonym import PseudonymKey

KEY = PseudonymKey(b"bench-pseudonym-key-of-32-bytes-or-more!")
RESEARCH_KEY = PseudonymKey(b"bench-research-key-of-32-bytes-or-more!!")


def write_keys(workdir: Path) -> tuple[Path, Path]:
    """The benchmark's own keys, as files (mode 0600)."""
    workdir.mkdir(parents=True, exist_ok=True)
    paths = (workdir / "pseudonym.key", workdir / "research.key")
    for path, key in zip(paths, (KEY, RESEARCH_KEY), strict=True):
        path.write_bytes(key.secret)
        path.chmod(0o600)
    return paths


def read_landing(landing: Path, database: Path) -> None:
    """What ingestion is measured against: DuckDB reading every landing CSV into a table of
    its own (text columns, its own CSV reader and sniffer) in a database file."""
    import duckdb

    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    try:
        con.execute("set enable_progress_bar = false")
        for i, path in enumerate(sorted(landing.glob("*/*.csv"))):
            con.execute(
                f"create table file_{i} as select * from "
                f"read_csv('{path}', all_varchar = true, ignore_errors = true)"
            )
        con.execute("checkpoint")
    finally:
        con.close()


def main(step: str, workdir: Path, landing: Path) -> None:
    from reentry.settings import Workdir

    wd = Workdir(workdir.resolve())
    if step == "ingest":
        from reentry.ingest.load import ingest

        ingest(landing, wd.work_db, KEY)
    elif step == "dbt":
        from reentry.transform import run_dbt

        run_dbt("build", wd.work_db, quiet=True)
    elif step == "evaluation":
        # The programme evaluation alone, after the build: population, scores, matching,
        # weighting, bootstrap intervals, balance, hazard ratios and their marts.
        from reentry.transform import run_dbt

        run_dbt("run", wd.work_db, quiet=True, extra=["--select", "int_effect_population+"])
    elif step == "validate":
        # What the job's checks do after the dbt step: its tests' results and the row counts.
        from reentry.validation.rules import load_manifest
        from reentry.validation.suites import validate_marts

        target = wd.work_db.parent / "dbt" / "target"
        report = validate_marts(
            wd.work_db,
            run_results=target / "run_results.json",
            manifest=load_manifest(target / "manifest.json"),
        )
        if not report.success:
            sys.exit("validation failed")
    elif step == "publish":
        from reentry.publish.database import publish

        publish(wd.work_db, wd.published_db, RESEARCH_KEY)
    elif step == "dashboards":
        from reentry.outputs.render import render_dashboards, render_packs

        render_dashboards(wd, landing / "sources.yml")
        render_packs(wd, landing / "sources.yml")
    elif step == "read":
        read_landing(landing, wd.root / "read.duckdb")
    elif step == "job":
        from reentry.defs.resources import WarehouseResource
        from reentry.pipeline import run_pipeline

        key_file, research_key_file = write_keys(wd.root)
        warehouse = WarehouseResource(
            workdir=str(wd.root),
            landing=str(landing),
            key_file=str(key_file),
            research_key_file=str(research_key_file),
        )
        run_pipeline(warehouse, lambda message: None)
    else:
        sys.exit(f"unknown step {step!r}")


if __name__ == "__main__":
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
