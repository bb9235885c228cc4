"""The benchmark (`make bench`): the whole pipeline at 10^4, 10^5 and 10^6 persons.

For each size: generate the demo exports (every source in the reference layout), then time
each step in its own process (ingest, dbt build, validation, publish, dashboards and packs)
with its peak memory; then the whole Dagster job end to end in a fresh work folder, and once
more after one new partner file arrives. Two baselines run on the same files in the same
session: the hand-written DuckDB script (`baseline.sql`, the physical limit) and the same
figures in pandas (`baseline_pandas.py`). Writes results.json, results.md and results.html
(time against size) into the output folder.

    python -m bench.run [--sizes 10000 100000 1000000] [--work DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The evaluation alone re-runs models after the build and so replaces its run_results.json, which
# the validation reads: it goes last.
STEPS = ("ingest", "dbt", "validate", "publish", "dashboards", "evaluation")


@dataclass
class Measure:
    """One timed process."""

    seconds: float
    peak_mb: float


@dataclass
class SizeResult:
    """Everything measured for one size."""

    persons: int
    steps: dict[str, Measure] = field(default_factory=dict)
    job: Measure | None = None
    incremental: Measure | None = None
    duckdb_read: Measure | None = None  # DuckDB reading the landing files (ingest's limit)
    duckdb_script: Measure | None = None
    pandas: Measure | None = None
    landing_mb: float = 0.0
    files: int = 0
    work_db_mb: float = 0.0
    published_mb: float = 0.0
    models_built: dict[str, int] = field(default_factory=dict)  # dbt models run: job, incremental
    # The dbt data tests of the build step: the sum of their execution times (dbt runs them on
    # its threads between the models, so the sum, not a wall time, is what they cost).
    dbt_tests_seconds: float = 0.0
    rates: dict[str, dict[str, float]] = field(default_factory=dict)


def timed(args: list[str], env: dict | None = None) -> Measure:
    """Run a process; its wall time and the peak resident memory of it and its children."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, env={**os.environ, **(env or {})}, cwd=REPO, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args[:4])}… failed (exit {status})")
    return Measure(round(seconds, 2), round(usage.ru_maxrss / 1024, 1))


def size_mb(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / 2**20, 1)
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def sources_csv(landing: Path, target: Path) -> Path:
    """id, kind, programme and its period of every prison and partner: what the baselines know
    of the registry."""
    registry = yaml.safe_load((landing / "sources.yml").read_text(encoding="utf-8"))
    periods = {p["id"]: (p["start"], p["end"]) for p in registry["programmes"]}
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "kind", "programme", "period_start", "period_end"])
        for s in registry["sources"]:
            if s["kind"] != "register":
                writer.writerow([s["id"], s["kind"], s["programme"], *periods[s["programme"]]])
    return target


def add_partner_file(archive: Path, landing: Path) -> Path:
    """One new delivery of one partner into `landing`: its newest placements snapshot (taken
    from the archive, where the job moved it) a day later, less its last record (a placement
    the partner deleted)."""
    files = sorted(archive.glob("*/placements.*.csv"))
    newest = max(files, key=lambda p: (p.parent.name == files[0].parent.name, p.name))
    day = newest.name.split(".")[1]
    next_day = str(int(day[-2:]) + 1).zfill(2) if day[-2:] < "28" else "01"
    target = landing / newest.parent.name / f"placements.{day[:-2]}{next_day}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = newest.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join(lines[:-1]))
    return target


def published_rates(published: Path) -> dict[str, dict[str, float]]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute("""
            select programme, "group", n_full_follow_up, n_events, rate
            from marts.recidivism_rates
            where cohort = 'all' and prison_id = 'all' and sex = 'all' and age_band = 'all'
              and window_months = 24 and measure = 'reconviction'""").fetchall()
    finally:
        con.close()
    return {f"{p}/{g}": {"n": n, "events": e, "rate": r} for p, g, n, e, r in rows}


def models_built(workdir: Path) -> int:
    """How many dbt models the last job in `workdir` ran."""
    results = json.loads(
        (workdir / "work" / "dbt" / "target" / "run_results.json").read_text(encoding="utf-8")
    )
    return sum(r["unique_id"].startswith("model.") for r in results["results"])


def dbt_tests_seconds(workdir: Path) -> float:
    """The summed execution time of the data tests of the last dbt build in `workdir`."""
    results = json.loads(
        (workdir / "work" / "dbt" / "target" / "run_results.json").read_text(encoding="utf-8")
    )
    return round(
        sum(r["execution_time"] for r in results["results"] if r["unique_id"].startswith("test.")),
        1,
    )


def run_size(persons: int, work: Path, log) -> SizeResult:
    result = SizeResult(persons)
    root = work / f"n{persons}"
    shutil.rmtree(root, ignore_errors=True)
    landing, steps_dir, job_dir = root / "landing", root / "steps", root / "job"
    log(f"{persons:,} persons: generate")
    result.steps["generate"] = timed(
        python(
            "-m",
            "reentry.cli",
            "generate",
            "--landing",
            str(landing),
            "--truth",
            str(root / "truth"),
            "--persons",
            str(persons),
            "--reference-layout",
        )
    )
    result.landing_mb = size_mb(landing)
    result.files = sum(1 for p in landing.rglob("*.csv"))
    # The job's ingestion moves what it ingested into its archive: the steps and the whole job
    # get their own (hard-linked) copies of the landing folder, which the baselines still read.
    steps_landing = root / "steps_landing"
    shutil.copytree(landing, steps_landing, copy_function=os.link)
    for step in STEPS:
        log(f"{persons:,} persons: {step}")
        result.steps[step] = timed(
            python("-m", "bench.steps", step, str(steps_dir), str(steps_landing))
        )
        if step == "dbt":
            result.dbt_tests_seconds = dbt_tests_seconds(steps_dir)
    log(f"{persons:,} persons: DuckDB reading the same files")
    result.duckdb_read = timed(python("-m", "bench.steps", "read", str(steps_dir), str(landing)))
    result.work_db_mb = size_mb(steps_dir / "work" / "warehouse.duckdb")
    result.published_mb = size_mb(steps_dir / "published" / "warehouse.duckdb")
    result.rates["pipeline"] = published_rates(steps_dir / "published" / "warehouse.duckdb")

    log(f"{persons:,} persons: the whole job")
    job_landing = root / "job_landing"
    shutil.copytree(landing, job_landing, copy_function=os.link)
    result.job = timed(python("-m", "bench.steps", "job", str(job_dir), str(job_landing)))
    result.models_built["job"] = models_built(job_dir)
    add_partner_file(job_dir / "archive", job_landing)
    log(f"{persons:,} persons: the job after one new partner file")
    result.incremental = timed(python("-m", "bench.steps", "job", str(job_dir), str(job_landing)))
    result.models_built["incremental"] = models_built(job_dir)

    listing = sources_csv(landing, root / "sources.csv")
    log(f"{persons:,} persons: DuckDB script")
    out = root / "baseline_duckdb.json"
    result.duckdb_script = timed(
        python("-m", "bench.baselines", "duckdb", str(landing), str(listing), str(out))
    )
    result.rates["duckdb_script"] = json.loads(out.read_text())
    log(f"{persons:,} persons: pandas")
    out = root / "baseline_pandas.json"
    result.pandas = timed(
        python("-m", "bench.baselines", "pandas", str(landing), str(listing), str(out))
    )
    result.rates["pandas"] = json.loads(out.read_text())
    return result


def pipeline_seconds(r: SizeResult) -> float:
    """The pipeline's time from the landing folder to the published database and outputs."""
    # The evaluation step re-runs models the dbt build already ran: it is not added.
    return (
        r.job.seconds
        if r.job
        else sum(m.seconds for k, m in r.steps.items() if k not in ("generate", "evaluation"))
    )


def markdown(results: list[SizeResult]) -> str:
    head = (
        "| persons | files | landing MB | generate | ingest | dbt build | "
        "of which evaluation (alone) | dbt tests (sum) | validation | "
        "publish | dashboards + packs | whole job | peak GB (job) | one new file | "
        "DuckDB script | pandas | job / DuckDB | pandas / job | ingest / DuckDB read |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        s = r.steps

        def cell(m: Measure) -> str:
            return f"{m.seconds:,.1f} s ({m.peak_mb / 1024:.1f} GB)"

        lines.append(
            f"| {r.persons:,} | {r.files} | {r.landing_mb:,.0f} | {cell(s['generate'])} | "
            f"{cell(s['ingest'])} | {cell(s['dbt'])} | {cell(s['evaluation'])} | "
            f"{r.dbt_tests_seconds:,.1f} s | {cell(s['validate'])} | "
            f"{cell(s['publish'])} | {cell(s['dashboards'])} | {r.job.seconds:,.1f} s | "
            f"{r.job.peak_mb / 1024:.1f} | {r.incremental.seconds:,.1f} s "
            f"({r.incremental.seconds / r.job.seconds:.0%}) | "
            f"{r.duckdb_script.seconds:,.1f} s | {r.pandas.seconds:,.1f} s | "
            f"{r.job.seconds / r.duckdb_script.seconds:.1f}× | "
            f"{r.pandas.seconds / r.job.seconds:.2f}× | "
            f"{s['ingest'].seconds / r.duckdb_read.seconds:.1f}× |"
        )
    lines.append("")
    lines.append("Figures (24-month reconviction, all cohorts): pipeline vs baselines")
    lines.append("")
    lines.append("| persons | programme / group | pipeline | DuckDB script | pandas |")
    lines.append("|---|---|---|---|---|")
    for r in results:
        for key, value in sorted(r.rates.get("pipeline", {}).items()):
            d = r.rates["duckdb_script"].get(key, {})
            p = r.rates["pandas"].get(key, {})
            lines.append(
                f"| {r.persons:,} | {key} | {value['rate']:.3f} (n {value['n']:,}) | "
                f"{d.get('rate', float('nan')):.3f} (n {d.get('n', 0):,}) | "
                f"{p.get('rate', float('nan')):.3f} (n {p.get('n', 0):,}) |"
            )
    return "\n".join(lines) + "\n"


def chart(results: list[SizeResult], path: Path) -> None:
    import plotly.graph_objects as go

    sizes = [r.persons for r in results]
    fig = go.Figure()
    series = {f"step: {k}": [r.steps[k].seconds for r in results] for k in ("generate", *STEPS)}
    series["whole job"] = [r.job.seconds for r in results]
    series["one new partner file"] = [r.incremental.seconds for r in results]
    series["DuckDB script"] = [r.duckdb_script.seconds for r in results]
    series["DuckDB reading the files"] = [r.duckdb_read.seconds for r in results]
    series["pandas"] = [r.pandas.seconds for r in results]
    for name, values in series.items():
        fig.add_trace(go.Scatter(x=sizes, y=values, mode="lines+markers", name=name))
    fig.update_layout(
        title="reentry-warehouse: time against size (2 cores)",
        xaxis={"type": "log", "title": "persons"},
        yaxis={"type": "log", "title": "seconds"},
        template="plotly_white",
    )
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--work",
        default=str(REPO / "bench" / "work"),
        help="where the generated data and work folders go",
    )
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = parser.parse_args(argv)
    work, out = Path(args.work), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)

    results: list[SizeResult] = []
    for n in args.sizes:
        results.append(run_size(n, work, log))
        # written after every size, so a long run that stops keeps what it measured
        (out / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
        (out / "results.md").write_text(markdown(results), encoding="utf-8")
        chart(results, out / "results.html")
    print(markdown(results))
    log(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
