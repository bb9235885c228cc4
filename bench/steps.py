"""One pipeline step in its own process, so the benchmark can time it and read its peak
memory (`python -m bench.steps STEP WORKDIR LANDING`). Each step materialises its part of the
Dagster job (the code the job runs for it); `job` is the whole job as `reentry run` runs it."""

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


def step_selection(step: str):
    """The part of the Dagster job a step materialises (None: not a step of the job)."""
    from dagster import AssetKey, AssetSelection

    from reentry.defs.outputs import PUBLISHED
    from reentry.defs.selections import INGESTION, MODELS, OUTPUTS, validation_checks

    population = AssetSelection.assets(AssetKey(["intermediate", "int_effect_population"]))
    return {
        "ingest": INGESTION,
        "dbt": MODELS - validation_checks(),  # every model with its dbt tests
        # The programme evaluation alone, after the build: population, scores, matching,
        # weighting, bootstrap intervals, balance, hazard ratios and their marts.
        "evaluation": (population.downstream() & MODELS).without_checks(),
        "validate": validation_checks(),
        "publish": AssetSelection.assets(PUBLISHED),
        "dashboards": OUTPUTS,
    }.get(step)


def main(step: str, workdir: Path, landing: Path) -> None:
    from reentry.pipeline import run_pipeline
    from reentry.settings import Settings, Workdir

    wd = Workdir(workdir.resolve())
    if step == "read":
        read_landing(landing, wd.root / "read.duckdb")
        return
    if step != "job" and step_selection(step) is None:
        sys.exit(f"unknown step {step!r}")
    key_file, research_key_file = write_keys(wd.root)
    settings = Settings(
        workdir=wd.root,
        landing=landing,
        key_file=key_file,
        research_key_file=research_key_file,
        **Settings.backend_from_env(),  # the embedded file, or the lake (bench.lake)
    )
    run_pipeline(settings, lambda message: None, selection=step_selection(step))


if __name__ == "__main__":
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
