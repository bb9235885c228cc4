"""The `reentry` command line tool."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from ingestion.config import ConfigError
from ingestion.pseudonym import KeyError_, ensure_demo_key, load_key

from .transform import BuildFailed
from .workdir import Workdir


def _clock(start: float) -> str:
    return f"{time.perf_counter() - start:6.1f}s"


def _say(start: float):
    def say(message: str) -> None:
        print(f"[{_clock(start)}] {message}", flush=True)

    return say


def _ingest(landing: Path, sources: Path | None, wd: Workdir, key, start: float) -> None:
    from ingestion.load import ingest
    from ingestion.summary import format_summary, load_summary

    say = _say(start)
    report = ingest(landing, wd.work_db, key, registry_path=sources, progress=say)
    say(
        f"ingestion run {report.run_id}: {report.count('loaded')} files loaded, "
        f"{report.count('skipped')} already loaded, {report.count('duplicate')} duplicates, "
        f"{report.count('rejected')} rejected, {report.count('ignored')} ignored"
    )
    print(format_summary(load_summary(wd.work_db)))
    print(f"\nWork database: {wd.work_db}")


def _build_and_publish(wd: Workdir, as_of: date | None, start: float) -> None:
    from .publish import publish
    from .transform import run_dbt

    say = _say(start)
    say("building the models (dbt build: models and their tests)")
    result = run_dbt("build", wd.work_db, as_of)
    say(f"dbt build: {result.count('success')} models built, {result.count('pass')} data and "
        f"unit tests passed, {result.count('warn')} warnings")
    tables = publish(wd.work_db, wd.published_db)
    say(f"published {len(tables)} marts to {wd.published_db}")


def _as_of(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--as-of {value!r} is not a date YYYY-MM-DD") from None


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo landing folder, then ingest it."""
    from reentry.simulation import generate_demo

    start = time.perf_counter()
    wd = Workdir(Path(args.workdir))
    say = _say(start)
    say(f"generating {args.persons:,} persons (seed {args.seed}, defect rate "
        f"{args.defect_rate}) into {wd.landing}")
    result = generate_demo(wd.landing, wd.truth, persons=args.persons, seed=args.seed,
                           defect_rate=args.defect_rate)
    say(f"demo exports written: {result.get('files', '?')} files; planted truth in {wd.truth}")
    if args.key_file:
        key = load_key(Path(args.key_file))
    else:
        try:
            key = load_key(None)
        except KeyError_:
            key = load_key(ensure_demo_key(wd.demo_key), demo=True)
            say(f"using the demo's own pseudonym key {wd.demo_key}")
    _ingest(wd.landing, None, wd, key, start)
    _build_and_publish(wd, None, start)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Only write synthetic exports (for benchmarks and manual tests)."""
    from reentry.simulation import generate_demo

    result = generate_demo(Path(args.landing), Path(args.truth), persons=args.persons,
                           seed=args.seed, defect_rate=args.defect_rate)
    print(f"{result.get('files', '?')} files written to {args.landing}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest what is new in a landing folder."""
    start = time.perf_counter()
    key = load_key(Path(args.key_file) if args.key_file else None)
    sources = Path(args.sources) if args.sources else None
    _ingest(Path(args.landing), sources, Workdir(Path(args.workdir)), key, start)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Ingest what is new, build the models, publish the marts."""
    start = time.perf_counter()
    key = load_key(Path(args.key_file) if args.key_file else None)
    wd = Workdir(Path(args.workdir))
    sources = Path(args.sources) if args.sources else None
    _ingest(Path(args.landing), sources, wd, key, start)
    _build_and_publish(wd, args.as_of, start)
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

    p = sub.add_parser("demo", help="synthetic exports of both programmes, then the whole run")
    p.add_argument("--workdir", default="demo", help="work folder (default ./demo)")
    p.add_argument("--key-file", help="pseudonym key file (default: the demo makes its own)")
    sim_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("generate", help="only write synthetic exports")
    p.add_argument("--landing", required=True)
    p.add_argument("--truth", required=True, help="folder for the planted truth")
    sim_options(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("ingest", help="ingest what is new in a landing folder")
    p.add_argument("--landing", required=True, help="landing folder")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.add_argument("--key-file", help="pseudonym key file (else REENTRY_PSEUDONYM_KEY)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("run", help="ingest what is new, build the models, publish the marts")
    p.add_argument("--landing", required=True, help="landing folder")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.add_argument("--workdir", default=".", help="work folder (default: current folder)")
    p.add_argument("--key-file", help="pseudonym key file (else REENTRY_PSEUDONYM_KEY)")
    p.add_argument("--as-of", type=_as_of, help="data cut-off YYYY-MM-DD (default: the newest "
                   "register export date)")
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; exit 2 on configuration or key errors."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, KeyError_, FileNotFoundError, BuildFailed) as exc:
        print(f"reentry {args.command}: {exc}", file=sys.stderr)
        return 2
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        print(f"reentry {args.command}: the work database is in use by another run; "
              "wait for it to finish", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
