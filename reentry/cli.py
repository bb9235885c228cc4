"""The `reentry` command line tool."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from dashboards.pack import PackError
from ingestion.config import ConfigError
from ingestion.erasure import ErasureRequestError
from ingestion.pseudonym import KeyError_, load_key
from reentry.simulation.selection import parse_hidden_confounding

from .erase import ErasureIncomplete
from .pipeline import PipelineFailed
from .research import NotPublished
from .transform import BuildFailed
from .workdir import Workdir


def _clock(start: float) -> str:
    return f"{time.perf_counter() - start:6.1f}s"


def _say(start: float):
    def say(message: str) -> None:
        print(f"[{_clock(start)}] {message}", flush=True)

    return say


def _ingest(landing: Path, sources: Path | None, wd: Workdir, key, start: float,
            retention_days: int) -> None:
    from ingestion.load import ingest
    from ingestion.summary import format_summary, load_summary

    say = _say(start)
    report = ingest(landing, wd.work_db, key, registry_path=sources, progress=say,
                    archive=wd.archive, retention_days=retention_days)
    say(
        f"ingestion run {report.run_id}: {report.count('loaded')} files loaded, "
        f"{report.count('skipped')} already loaded, {report.count('duplicate')} duplicates, "
        f"{report.count('rejected')} rejected, {report.count('ignored')} ignored"
    )
    print(format_summary(load_summary(wd.work_db)))
    print(f"\nWork database: {wd.work_db}")


def _pipeline(warehouse, start: float) -> None:
    """Run the Dagster job in process, then print what happened and the ingestion summary."""
    from ingestion.summary import format_summary, load_summary

    from .headline import evaluation_lines
    from .pipeline import run_pipeline

    say = _say(start)
    result = run_pipeline(warehouse, say)
    wd = warehouse.paths
    if wd.work_db.exists():
        print(format_summary(load_summary(wd.work_db)))
    built = any(k.startswith("marts/") for k in result.materialized)
    published = "published/warehouse" in result.materialized
    say("models rebuilt" if built else "no new data: models unchanged, nothing rebuilt")
    if published:
        say(f"researchers' database published: {wd.published_db}")
        for line in evaluation_lines(wd.published_db):
            say(line)
    elif wd.published_db.exists():
        say(f"researchers' database unchanged: {wd.published_db}")
    say(f"validation reports: {wd.validation}")
    if (wd.dashboards / "index.html").exists():
        say(f"dashboards: {(wd.dashboards / 'index.html').resolve()}")
    if wd.reports.exists():
        say(f"ministry packs: {wd.reports.resolve()}")


def _as_of(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--as-of {value!r} is not a date YYYY-MM-DD") from None


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo landing folder, then run the whole job on it."""
    from orchestration.resources import WarehouseResource
    from reentry.simulation import DEFAULT_HIDDEN_CONFOUNDING, generate_demo

    start = time.perf_counter()
    wd = Workdir(Path(args.workdir))
    say = _say(start)
    hidden = (DEFAULT_HIDDEN_CONFOUNDING if args.hidden_confounding is None
              else args.hidden_confounding)
    selection = ("random participation" if args.random_participation
                 else f"hidden confounding {hidden}")
    say(f"generating {args.persons:,} persons (seed {args.seed}, defect rate "
        f"{args.defect_rate}, {selection}) into {wd.landing}")
    result = generate_demo(wd.landing, wd.truth, persons=args.persons, seed=args.seed,
                           defect_rate=args.defect_rate,
                           hidden_confounding=hidden,
                           random_participation=args.random_participation)
    say(f"demo exports written: {result.get('files', '?')} files; planted truth in {wd.truth}")
    warehouse = WarehouseResource(workdir=str(wd.root), landing=str(wd.landing),
                                  key_file=args.key_file, retention_days=args.retention_days,
                                  demo=True)
    _pipeline(warehouse, start)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Only write synthetic exports (for benchmarks and manual tests)."""
    from reentry.simulation import generate_demo

    result = generate_demo(Path(args.landing), Path(args.truth), persons=args.persons,
                           seed=args.seed, defect_rate=args.defect_rate,
                           reference_only=args.reference_layout)
    print(f"{result.get('files', '?')} files written to {args.landing}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest what is new in a landing folder."""
    start = time.perf_counter()
    key = load_key(Path(args.key_file) if args.key_file else None)
    sources = Path(args.sources) if args.sources else None
    _ingest(Path(args.landing), sources, Workdir(Path(args.workdir)), key, start,
            args.retention_days)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Ingest what is new, build the models, validate, publish: the Dagster job in process."""
    from orchestration.resources import WarehouseResource

    start = time.perf_counter()
    warehouse = WarehouseResource(
        workdir=str(Path(args.workdir)), landing=str(Path(args.landing)),
        sources=args.sources, key_file=args.key_file,
        research_key_file=args.research_key_file, retention_days=args.retention_days,
        as_of=args.as_of.isoformat() if args.as_of else None)
    # Refuse missing or short keys before anything starts.
    warehouse.pseudonym_key()
    warehouse.research_key()
    _pipeline(warehouse, start)
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    """Erasure requests: pseudonymised, removed from every layer, published without them."""
    from ingestion.erasure import Request, read_requests
    from orchestration.resources import WarehouseResource

    from .erase import erase, format_result, last_landing

    start = time.perf_counter()
    today = date.today()
    wd = Workdir(Path(args.workdir))
    keys = WarehouseResource(workdir=str(wd.root), landing=args.landing or ".",
                             key_file=args.key_file, research_key_file=args.research_key_file)
    keys.pseudonym_key()  # refuse a missing or short key before anything else
    keys.research_key()
    person = (args.family_name, args.given_name, args.birth_date)
    if args.requests and any(person):
        raise ErasureRequestError("give either --requests FILE or one person's --family-name, "
                                  "--given-name and --birth-date, not both")
    if args.requests:
        requests = read_requests(Path(args.requests), today)
    elif all(person):
        requests = [Request(*person, requested_on=args.requested_on or today)]
    else:
        raise ErasureRequestError("a request needs --family-name, --given-name and "
                                  "--birth-date YYYY-MM-DD (or --requests FILE)")
    if not wd.work_db.exists():
        raise FileNotFoundError(f"no work database at {wd.work_db}: nothing to erase from")
    landing = Path(args.landing) if args.landing else last_landing(wd.work_db)
    if landing is None or not landing.is_dir():
        raise FileNotFoundError("the landing folder of the last run is not there; pass "
                                "--landing")
    warehouse = WarehouseResource(
        workdir=str(wd.root), landing=str(landing), sources=args.sources,
        key_file=args.key_file, research_key_file=args.research_key_file,
        retention_days=args.retention_days)
    result = erase(warehouse, requests, _say(start))
    print(format_result(result))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """One query on the published database, read-only and sealed."""
    from .research import open_research, write_result

    con = open_research(Workdir(Path(args.workdir)).published_db)
    try:
        write_result(con, args.query, args.format, sys.stdout)
    except duckdb.Error as exc:
        print(f"reentry sql: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    """An interactive session on the published database, read-only and sealed."""
    from .research import open_research, shell

    con = open_research(Workdir(Path(args.workdir)).published_db)
    try:
        shell(con)
    finally:
        con.close()
    return 0


def _registry(args: argparse.Namespace, wd: Workdir) -> Path | None:
    if getattr(args, "sources", None):
        return Path(args.sources)
    landing = Path(args.landing) if getattr(args, "landing", None) else wd.landing
    return landing / "sources.yml"


def cmd_dashboards(args: argparse.Namespace) -> int:
    """Render the evaluators' site from the published database."""
    from dashboards.outputs import render_dashboards

    wd = Workdir(Path(args.workdir))
    site = render_dashboards(wd, _registry(args, wd))
    print(f"dashboards: {site.index.resolve()} (data version {site.data_version[:12]})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The ministry pack for a quarter or a year."""
    from dashboards.outputs import render_packs
    from dashboards.pack import check_period

    wd = Workdir(Path(args.workdir))
    check_period(args.period)
    for pack in render_packs(wd, _registry(args, wd), [args.period], args.lang):
        print(f"ministry pack {pack.period} (data version {pack.data_version[:12]}):")
        for path in [pack.workbook, *pack.csvs, pack.report]:
            print(f"  {path.resolve()}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Loads, quarantine, overdue sources, the last checks and publish."""
    from .status import status_text

    print(status_text(Workdir(Path(args.workdir)), retention_days=args.retention_days))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reentry",
        description="Evaluation warehouse for prison-to-work reentry programmes.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def sim_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--persons", type=int, default=10_000, help="persons to simulate")
        p.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bytes)")
        p.add_argument("--defect-rate", type=float, default=0.01,
                       help="share of rows with an injected defect (default 0.01)")

    def retention(p: argparse.ArgumentParser) -> None:
        p.add_argument("--retention-days", type=int, default=730,
                       help="archived landing files older than this are deleted (default 730)")

    p = sub.add_parser("demo", help="synthetic exports of both programmes, then the whole run")
    p.add_argument("--workdir", default="demo", help="work folder (default ./demo)")
    p.add_argument("--key-file", help="pseudonym key file (default: the demo makes its own)")
    sim_options(p)
    p.add_argument("--hidden-confounding", type=parse_hidden_confounding, metavar="FLOAT",
                   help="how much participation depends on the latent risk no export shows, "
                   "in [0, 1]: 0 = on observed characteristics only (default: the "
                   "simulation's DEFAULT_HIDDEN_CONFOUNDING, 0.3)")
    p.add_argument("--random-participation", action="store_true",
                   help="participation by coin flip, independent of everything (a randomised "
                   "trial: the naive difference is then the effect)")
    retention(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("generate", help="only write synthetic exports")
    p.add_argument("--landing", required=True)
    p.add_argument("--truth", required=True, help="folder for the planted truth")
    p.add_argument("--reference-layout", action="store_true",
                   help="every source in the reference layout (CSV, UTF-8; for benchmarks)")
    sim_options(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("ingest", help="ingest what is new in a landing folder")
    p.add_argument("--landing", required=True, help="landing folder")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.add_argument("--key-file", help="pseudonym key file (else REENTRY_PSEUDONYM_KEY)")
    retention(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("run", help="ingest what is new, build, validate, publish, dashboards, pack")
    p.add_argument("--landing", required=True, help="landing folder")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.add_argument("--key-file", help="pseudonym key file (else REENTRY_PSEUDONYM_KEY)")
    p.add_argument("--research-key-file",
                   help="key of this research release (else REENTRY_RESEARCH_KEY)")
    p.add_argument("--as-of", type=_as_of, help="data cut-off YYYY-MM-DD (default: the newest "
                   "register export date)")
    retention(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("erase", help="erasure requests: remove persons from every layer and "
                       "publish without them")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.add_argument("--family-name", help="family name as the sources spell it")
    p.add_argument("--given-name", help="given name")
    p.add_argument("--birth-date", help="birth date YYYY-MM-DD")
    p.add_argument("--requested-on", type=_as_of, help="date of the request (default today)")
    p.add_argument("--requests", help="CSV of requests: family_name, given_name, birth_date "
                   "[, requested_on]")
    p.add_argument("--landing", help="landing folder (default: the last run's)")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.add_argument("--key-file", help="pseudonym key file (else REENTRY_PSEUDONYM_KEY)")
    p.add_argument("--research-key-file",
                   help="key of this research release (else REENTRY_RESEARCH_KEY)")
    retention(p)
    p.set_defaults(func=cmd_erase)

    p = sub.add_parser("sql", help="one query on the published database (read-only)")
    p.add_argument("query", help="SQL, e.g. \"select * from marts.recidivism_effects\"")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("shell", help="interactive SQL on the published database (read-only)")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.set_defaults(func=cmd_shell)

    p = sub.add_parser("dashboards", help="render the evaluators' site from the published "
                       "database")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.add_argument("--landing", help="landing folder, for the registry's names (default "
                   "WORKDIR/landing)")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.set_defaults(func=cmd_dashboards)

    p = sub.add_parser("report", help="the ministry pack for a period (workbook, CSV, HTML)")
    p.add_argument("--period", required=True, help="a quarter (2004Q2) or a year (2004)")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.add_argument("--lang", choices=("de", "nl", "en"), default="en",
                   help="language of the pack (default en)")
    p.add_argument("--landing", help="landing folder, for the registry's names (default "
                   "WORKDIR/landing)")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("status", help="loads, quarantine, overdue sources, checks, publish, "
                       "files held and erasures")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    retention(p)
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; exit 2 on configuration or key errors."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, KeyError_, FileNotFoundError, BuildFailed, NotPublished,
            PackError, ErasureRequestError) as exc:
        print(f"reentry {args.command}: {exc}", file=sys.stderr)
        return 2
    except (PipelineFailed, ErasureIncomplete) as exc:
        print(f"reentry {args.command}: {exc}", file=sys.stderr)
        return 1
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        print(f"reentry {args.command}: the work database is in use by another run; "
              "wait for it to finish", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
