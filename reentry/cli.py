"""The `reentry` command line tool."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import shutil
import sys
import tempfile
import textwrap
import time
import warnings
from datetime import date
from pathlib import Path
from typing import TextIO

import duckdb

from reentry import failures
from reentry.ingest.config import ConfigError
from reentry.ingest.erasure import ErasureRequestError
from reentry.outputs.pack import PackError
from reentry.pseudonym import PseudonymKeyError
from reentry.store import WarehouseTooNew, WarehouseUnreachable, WriterConflict
from simulation.selection import parse_hidden_confounding

from .erase import ErasureIncomplete
from .lock import WorkFolderBusy, work_folder_lock
from .pipeline import PipelineFailed
from .research import NotPublished
from .settings import WORKDIR_ENV, Settings, Workdir, default_workdir

# A per-file line of the ingestion: "[ 12/377] source/entity.date.csv: …".
_FILE_LINE = re.compile(r"^\[\s*(\d+)/(\d+)\] ")
# A finished dbt node: "12 of 182 OK created …", "13 of 182 PASS …".
_DBT_NODE = re.compile(r"^(\d+) of (\d+) (?:OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b")
# Messages of the steps that only -v shows (the step's own total line follows them).
_DETAIL = re.compile(
    r"^(\d+ files in |\d+ files moved from the landing folder|"
    r"dbt tests not run by this build, run now: )"
)
_STEP_NAMES = {
    "landing_files": "ingest",
    "dbt_models": "dbt build",
    "marts_expectations": "validation",
    "published__warehouse": "publish",
    "dashboards__site": "dashboards",
    "reports__pack": "ministry packs",
}


class Console:
    """What a command prints while it runs: one line per step, with the seconds since the
    start. The ingestion's per-file lines and dbt's own lines only with -v. On a terminal a
    status line (the file or dbt node counter, the step running) is rewritten in place; piped,
    nothing is rewritten and no escape code is written."""

    def __init__(self, verbose: bool = False, out: TextIO | None = None):
        self.out = out or sys.stdout  # held: dbt's lines are read while stdout is redirected
        self.verbose = verbose
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self._status = False
        self._dbt_done: set[str] = set()  # dbt nodes finished in this build
        self._step: str | None = None  # the step running, shown again below each line
        self.last_step: str | None = None  # the key of the job's step started last

    def _clock(self) -> str:
        return f"[{time.perf_counter() - self.start:6.1f}s]"

    def _clear(self) -> None:
        if self._status:
            self.out.write("\r\x1b[2K")
            self._status = False

    def line(self, message: str, wrap: bool = False) -> None:
        """A line that stays; with `wrap`, on a terminal, wrapped to its width."""
        self._clear()
        text = f"{self._clock()} {message}"
        if wrap and self.tty:
            text = textwrap.fill(
                text,
                width=max(shutil.get_terminal_size().columns - 1, 40),
                subsequent_indent=" " * 11,
                break_on_hyphens=False,
            )
        self.out.write(text + "\n")
        self.out.flush()
        if self._step:
            self.status(self._step)

    def text(self, text: str) -> None:
        """A block of text (a summary), as it is."""
        self._clear()
        self.out.write(text + "\n")
        self.out.flush()

    def status(self, message: str) -> None:
        """A line rewritten in place, on a terminal only."""
        if not self.tty:
            return
        width = shutil.get_terminal_size().columns - 1
        self.out.write(f"\r\x1b[2K{self._clock()} {message}"[: width + 5])
        self.out.flush()
        self._status = True

    def close(self) -> None:
        self._step = None
        self._clear()
        self.out.flush()

    def say(self, message: str) -> None:
        """A message of a step (the job's, the ingestion's, the erasure's)."""
        counted = _FILE_LINE.match(message)
        if counted and not self.verbose:
            self.status(f"ingest: file {counted[1]} of {counted[2]}")
        elif not (_DETAIL.match(message) and not self.verbose):
            self.line(message)

    def dbt(self, line: str) -> None:
        """One line of dbt's own output."""
        if self.verbose:
            self.line(f"  {line}")
            return
        node = _DBT_NODE.match(line)
        if node:
            self._dbt_done.add(node[1])
            self.status(f"dbt build: {len(self._dbt_done)} of {node[2]} nodes done")

    def step(self, step_key: str) -> None:
        """A step of the job starts."""
        self._dbt_done.clear()
        self.last_step = step_key
        self._step = f"{_STEP_NAMES.get(step_key, step_key)} …"
        self.status(self._step)


@contextlib.contextmanager
def _library_output(verbose: bool):
    """Warnings and log records of the libraries (dbt's adapter, GX, numpy …): on stderr,
    errors always, warnings only with -v (deprecation notices never). Dagster only ever
    shows errors (a partial build, for one, warns once for every check of a model it left
    alone). The job's own messages go to the console."""
    root, dagster = logging.getLogger(), logging.getLogger("dagster")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING if verbose else logging.ERROR)
    saved = root.level, dagster.level
    root.addHandler(handler)
    root.setLevel(min(saved[0] or logging.WARNING, logging.WARNING))
    dagster.setLevel(logging.ERROR)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            if verbose:  # what a library tells its developers is not for this audience
                for category in (DeprecationWarning, PendingDeprecationWarning):
                    warnings.simplefilter("ignore", category)
                warnings.filterwarnings("ignore", module=r"dagster")
            else:
                warnings.simplefilter("ignore")
            yield
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(saved[0])
        dagster.setLevel(saved[1])


def _settings(args: argparse.Namespace, landing: Path | None = None) -> Settings:
    """The run settings from a command's options (those it has)."""
    return Settings(
        workdir=Path(args.workdir),
        landing=landing or Path(args.landing),
        sources=args.sources,
        key_file=args.key_file,
        research_key_file=getattr(args, "research_key_file", None),
        retention_days=args.retention_days,
        as_of=getattr(args, "as_of", None),
        **Settings.backend_from_env(),
    )


def _check_settings(settings: Settings, research: bool = True) -> None:
    """Refuse missing or short keys, a missing landing folder and a registry or layout with a
    mistake (the message names the file, the source and the field) before anything starts."""
    from reentry.ingest.registry import load_registry
    from reentry.ingest.warehouse import check_key

    check_key(settings.warehouse, settings.pseudonym_key())
    if research:
        settings.research_key()
    if not settings.landing.is_dir():
        raise FileNotFoundError(f"landing folder {settings.landing} does not exist")
    load_registry(settings.registry)


def _pipeline(settings: Settings, console: Console) -> None:
    """Run the Dagster job in process, then print what happened and the ingestion summary."""
    from reentry.ingest.summary import format_summary, load_summary

    from .outputs.headline import evaluation_lines
    from .pipeline import run_pipeline

    result = run_pipeline(
        settings,
        console.say,
        dbt_line=console.dbt,
        dbt_colors=console.tty and console.verbose,
        on_step=console.step,
    )
    console.close()
    wd = settings.paths
    if settings.warehouse.exists():
        console.text(
            format_summary(
                load_summary(settings.warehouse),
                sources_table=console.verbose,
                max_files=None if console.verbose else 10,
            )
        )
    built = any(k.startswith("marts/") for k in result.materialized)
    published = "published/warehouse" in result.materialized
    console.line("models rebuilt" if built else "no new data: models unchanged, nothing rebuilt")
    if published:
        console.line(f"researchers' database published: {wd.published_db}")
        for line in evaluation_lines(wd.published_db):
            console.line(line, wrap=True)
    elif wd.published_db.exists():
        console.line(f"researchers' database unchanged: {wd.published_db}")
    console.line(f"validation reports: {wd.validation}")
    if (wd.dashboards / "index.html").exists():
        console.line(f"dashboards: {(wd.dashboards / 'index.html').resolve()}")
    if wd.reports.exists():
        console.line(f"ministry packs: {wd.reports.resolve()}")


def _as_of(value: str) -> date:
    """--as-of: a date YYYY-MM-DD; an empty or malformed value is refused, never taken as "no
    date" (leave the option out for the default)."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date YYYY-MM-DD (leave --as-of out for the default)"
        ) from None


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo landing folder, then run the whole job on it."""
    from simulation import DEFAULT_HIDDEN_CONFOUNDING, generate_demo

    console = args.console
    wd = Workdir(Path(args.workdir))
    say = console.line
    hidden = (
        DEFAULT_HIDDEN_CONFOUNDING if args.hidden_confounding is None else args.hidden_confounding
    )
    selection = (
        "random participation" if args.random_participation else f"hidden confounding {hidden}"
    )
    say(
        f"generating {args.persons:,} persons (seed {args.seed}, defect rate "
        f"{args.defect_rate}, {selection}) into {wd.landing}"
    )
    result = generate_demo(
        wd.landing,
        wd.truth,
        persons=args.persons,
        seed=args.seed,
        defect_rate=args.defect_rate,
        hidden_confounding=hidden,
        random_participation=args.random_participation,
    )
    say(f"demo exports written: {result.get('files', '?')} files; planted truth in {wd.truth}")
    settings = Settings(
        workdir=wd.root,
        landing=wd.landing,
        key_file=args.key_file,
        retention_days=args.retention_days,
        demo=True,
        **Settings.backend_from_env(),
    )
    _pipeline(settings, console)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Only write synthetic exports (for benchmarks and manual tests)."""
    from simulation import generate_demo

    result = generate_demo(
        Path(args.landing),
        Path(args.truth),
        persons=args.persons,
        seed=args.seed,
        defect_rate=args.defect_rate,
        reference_only=args.reference_layout,
    )
    print(f"{result.get('files', '?')} files written to {args.landing}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest what is new in a landing folder: the job's ingestion only."""
    from reentry.defs.selections import INGESTION
    from reentry.ingest.summary import format_summary, load_summary

    from .pipeline import run_pipeline

    settings = _settings(args)
    _check_settings(settings, research=False)
    console = args.console
    run_pipeline(settings, console.say, selection=INGESTION, on_step=console.step)
    console.close()
    console.text(format_summary(load_summary(settings.warehouse)))
    console.text(f"\nWork database: {settings.warehouse.describe()}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Ingest what is new, build the models, validate, publish: the Dagster job in process."""
    settings = _settings(args)
    _check_settings(settings)
    _pipeline(settings, args.console)
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    """Erasure requests: pseudonymised, removed from every layer, published without them."""
    from reentry.ingest.erasure import Request, read_requests
    from reentry.ingest.warehouse import check_key

    from .erase import erase, format_result, last_landing

    today = date.today()
    wd = Workdir(Path(args.workdir))
    keys = Settings(
        workdir=wd.root,
        key_file=args.key_file,
        research_key_file=args.research_key_file,
        **Settings.backend_from_env(),
    )
    # Refuse a missing or short key, or another key than the work folder's, before anything.
    check_key(keys.warehouse, keys.pseudonym_key())
    keys.research_key()
    person = (args.family_name, args.given_name, args.birth_date)
    if args.requests and any(person):
        raise ErasureRequestError(
            "give either --requests FILE or one person's --family-name, "
            "--given-name and --birth-date, not both"
        )
    if args.requests:
        requests = read_requests(Path(args.requests), today)
    elif all(person):
        requests = [Request(*person, requested_on=args.requested_on or today)]
    else:
        raise ErasureRequestError(
            "a request needs --family-name, --given-name and "
            "--birth-date YYYY-MM-DD (or --requests FILE)"
        )
    if not keys.warehouse.exists():
        raise FileNotFoundError(
            f"no work database at {keys.warehouse.describe()}: nothing to erase from"
        )
    landing = Path(args.landing) if args.landing else last_landing(keys.warehouse)
    if landing is None or not landing.is_dir():
        raise FileNotFoundError("the landing folder of the last run is not there; pass --landing")
    settings = _settings(args, landing=landing)
    result = erase(settings, requests, args.console.say)
    args.console.text(format_result(result))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """One query on the published database, read-only and sealed."""
    from .research import open_research, write_result

    con = open_research(Workdir(Path(args.workdir)).published_db)
    try:
        write_result(con, args.query, args.format, sys.stdout, max_rows=args.max_rows)
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
    from reentry.outputs.render import render_dashboards

    wd = Workdir(Path(args.workdir))
    site = render_dashboards(wd, _registry(args, wd))
    print(f"dashboards: {site.index.resolve()} (data version {site.data_version[:12]})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The ministry pack for a quarter or a year."""
    from reentry.outputs.pack import check_period
    from reentry.outputs.render import render_packs

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

    wd = Workdir(Path(args.workdir))
    warehouse = Settings(workdir=wd.root, **Settings.backend_from_env()).warehouse
    print(status_text(wd, retention_days=args.retention_days, warehouse=warehouse))
    return 0


def cmd_releases(args: argparse.Namespace) -> int:
    """Every publish kept as a release: name, data and method version, file, lake snapshot."""
    from reentry.publish.releases import format_releases, list_releases

    wd = Workdir(Path(args.workdir))
    warehouse = Settings(workdir=wd.root, **Settings.backend_from_env()).warehouse
    print(format_releases(list_releases(warehouse), wd.published_db))
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """The data dictionary as a dbt docs site in WORKDIR/docs/ (one file that opens from
    disk), with the column types and descriptions of the published database."""
    from reentry.defs.dbt import dbt_resource
    from reentry.ingest.warehouse import store_code_lists

    from .research import schema_copy

    console: Console = args.console
    wd = Workdir(Path(args.workdir).resolve())
    folder = wd.root / "docs"
    target = folder / "dbt"
    published = wd.published_db.exists()
    with tempfile.TemporaryDirectory(prefix="reentry-docs-") as scratch:
        # dbt reads the catalog from an empty copy of the published database (schemas,
        # types, descriptions; no row) in a scratch work folder: neither the researchers' file
        # nor the work database is opened for writing, and nothing is written into the
        # repository's dbt_project.
        docs = Settings(workdir=Path(scratch))
        database = docs.paths.work_db
        database.parent.mkdir(parents=True)
        if published:
            n_tables = schema_copy(wd.published_db, database)
        # The models are compiled with the contract's code lists (dbt's code_list macro).
        con = duckdb.connect(str(database))
        try:
            store_code_lists(con, database.stem)
        finally:
            con.close()
        docs.export_for_dbt()
        console.status("dbt docs generate …")
        invocation = dbt_resource().cli(
            ["docs", "generate", "--static", *([] if published else ["--empty-catalog"])],
            target_path=target,
            raise_on_error=False,
        )
        lines = [
            event.raw_event["info"]["msg"]
            for event in invocation.stream_raw_events()
            if event.raw_event.get("info", {}).get("msg")
        ]
        succeeded = invocation.is_successful()
    console.close()
    output = "\n".join(lines).strip()
    if args.verbose and output:
        console.text(output)
    if not succeeded or not (target / "static_index.html").exists():
        if output and not args.verbose:
            print(output, file=sys.stderr)
        print(f"reentry docs: dbt docs generate failed; its log is in {target}", file=sys.stderr)
        return 1
    index = folder / "index.html"
    shutil.copyfile(target / "static_index.html", index)
    source = (
        f"{n_tables} published tables of {wd.published_db}"
        if published
        else "the dbt project only: nothing is published yet, so no column types"
    )
    print(f"dbt docs of {source}:\n  {index}  (one file: open it in a browser from disk)")
    return 0


def _subcommand(
    sub, name: str, summary: str, description: str, workdir: bool = True, verbose: bool = False
) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary (the list) and its description (its --help)."""
    p = sub.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if workdir:
        p.add_argument(
            "--workdir",
            default=default_workdir(),
            help=f"work folder (default: ${WORKDIR_ENV}, else ./demo; now {default_workdir()})",
        )
    if verbose:
        # SUPPRESS: a -v given before the subcommand is not reset by the subcommand's default.
        p.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="more detail: each file ingested, dbt's own output",
        )
    return p


def _writer(p: argparse.ArgumentParser) -> None:
    """A command that changes the work folder: it holds the folder's lock (reentry.lock)."""
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another command holding the work folder (default 0)",
    )
    p.set_defaults(writes=True)


def _registry_options(p: argparse.ArgumentParser) -> None:
    """The registry an output command takes its names from."""
    p.add_argument(
        "--landing", help="landing folder, for the registry's names (default WORKDIR/landing)"
    )
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reentry",
        description="Evaluation warehouse for prison-to-work reentry programmes.",
        epilog=f"Every command but generate works on a work folder: --workdir DIR, else "
        f"${WORKDIR_ENV}, else ./demo. `reentry COMMAND --help` explains a command.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also each file ingested and dbt's own output (run, demo), each "
        "file (ingest), dbt's output (docs), and library warnings",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sim_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--persons", type=int, default=10_000, help="persons to simulate")
        p.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bytes)")
        p.add_argument(
            "--defect-rate",
            type=float,
            default=0.01,
            help="share of rows with an injected defect (default 0.01)",
        )

    def retention(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--retention-days",
            type=int,
            default=730,
            help="archived landing files older than this are deleted (default 730)",
        )

    p = _subcommand(
        sub,
        "demo",
        "synthetic exports of both programmes, then the whole run",
        """\
Simulate both programmes' exports (prisons, partners, registers, with defects and a planted
programme effect) into WORKDIR/landing and the planted truth into WORKDIR/truth, then run the
whole job as `reentry run` does. The demo makes its own keys in the work folder
(pseudonym.key, research.key).

Prints one line per step and a summary; -v adds each file and dbt's output.""",
        verbose=True,
    )
    p.add_argument("--key-file", help="pseudonym key file (default: the demo makes its own)")
    sim_options(p)
    p.add_argument(
        "--hidden-confounding",
        type=parse_hidden_confounding,
        metavar="FLOAT",
        help="how much participation depends on the latent risk no export shows, "
        "in [0, 1]: 0 = on observed characteristics only (default: the "
        "simulation's DEFAULT_HIDDEN_CONFOUNDING, 0.3)",
    )
    p.add_argument(
        "--random-participation",
        action="store_true",
        help="participation by coin flip, independent of everything (a randomised "
        "trial: the naive difference is then the effect)",
    )
    retention(p)
    _writer(p)
    p.set_defaults(func=cmd_demo)

    p = _subcommand(
        sub,
        "generate",
        "only write synthetic exports",
        """\
Write the demo's synthetic exports into a landing folder and its planted truth into another,
and nothing else (for benchmarks and manual tests).""",
        workdir=False,
    )
    p.add_argument("--landing", required=True)
    p.add_argument("--truth", required=True, help="folder for the planted truth")
    p.add_argument(
        "--reference-layout",
        action="store_true",
        help="every source in the reference layout (CSV, UTF-8; for benchmarks)",
    )
    sim_options(p)
    p.set_defaults(func=cmd_generate)

    p = _subcommand(
        sub,
        "ingest",
        "ingest what is new in a landing folder",
        """\
Ingestion only: check, quarantine and pseudonymise every new file of the landing folder into
the work database (WORKDIR/work/warehouse.duckdb), move the files it now holds to
WORKDIR/archive, and print the sources, quarantine and linkage. No model is built.""",
        verbose=True,
    )
    p.add_argument("--landing", required=True, help="landing folder")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.add_argument("--key-file", help="pseudonym key file (else REENTRY_PSEUDONYM_KEY)")
    retention(p)
    _writer(p)
    p.set_defaults(func=cmd_ingest)

    p = _subcommand(
        sub,
        "run",
        "ingest what is new, build, validate, publish, dashboards, pack",
        """\
The whole job (the Dagster job `warehouse`, in process): ingest what is new in the landing
folder, build the dbt models and run their tests, validate the marts (Great Expectations),
publish the researchers' database, render the dashboards and the newest ministry packs.
Nothing new since the last run: nothing is rebuilt or published.

The registry and layouts are checked first: a mistake stops the run with the file, the
source and the field. Prints one line per step and a summary; -v adds each file and dbt's
output. Exit code 1 names the failing step or expectations, 2 a configuration or key error.""",
        verbose=True,
    )
    p.add_argument("--landing", required=True, help="landing folder")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.add_argument("--key-file", help="pseudonym key file (else REENTRY_PSEUDONYM_KEY)")
    p.add_argument(
        "--research-key-file", help="key of this research release (else REENTRY_RESEARCH_KEY)"
    )
    p.add_argument(
        "--as-of",
        type=_as_of,
        help="data cut-off YYYY-MM-DD (default: the newest register export date)",
    )
    retention(p)
    _writer(p)
    p.set_defaults(func=cmd_run)

    p = _subcommand(
        sub,
        "erase",
        "erasure requests: remove persons from every layer and publish without them",
        """\
An erasure request (one person, or a CSV of them): the person is pseudonymised with the
ingestion key, logged (pseudonym and dates only), removed from the raw history, quarantine
and archive, the models are rebuilt and a researchers' database without them is published;
the version before is deleted. Prints the rows removed per layer.""",
    )
    p.add_argument("--family-name", help="family name as the sources spell it")
    p.add_argument("--given-name", help="given name")
    p.add_argument("--birth-date", help="birth date YYYY-MM-DD")
    p.add_argument("--requested-on", type=_as_of, help="date of the request (default today)")
    p.add_argument(
        "--requests", help="CSV of requests: family_name, given_name, birth_date [, requested_on]"
    )
    p.add_argument("--landing", help="landing folder (default: the last run's)")
    p.add_argument("--sources", help="source registry (default LANDING/sources.yml)")
    p.add_argument("--key-file", help="pseudonym key file (else REENTRY_PSEUDONYM_KEY)")
    p.add_argument(
        "--research-key-file", help="key of this research release (else REENTRY_RESEARCH_KEY)"
    )
    retention(p)
    _writer(p)
    p.set_defaults(func=cmd_erase)

    p = _subcommand(
        sub,
        "sql",
        "one query on the published database (read-only)",
        """\
One statement on the researchers' database (WORKDIR/published/warehouse.duckdb), read-only
and sealed: no file access, no ATTACH, no COPY, no extensions. Unqualified table names are
the marts. `table` shows every column and up to --max-rows rows; csv and json give all.""",
    )
    p.add_argument("query", help='SQL, e.g. "select * from recidivism_effects"')
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument(
        "--max-rows", type=int, default=1000, help="rows the table format shows (default 1000)"
    )
    p.set_defaults(func=cmd_sql)

    p = _subcommand(
        sub,
        "shell",
        "interactive SQL on the published database (read-only)",
        """\
An interactive SQL session on the researchers' database, read-only and sealed like
`reentry sql`. Statements end with ';' and may span lines; unqualified names are the marts.
.tables, .schema TABLE, .describe TABLE, .maxrows N, .help, .quit. On a terminal: line
editing, tab completion, a history ($REENTRY_HISTORY, else ~/.reentry_history: the lines
typed, nothing else) and a pager for results taller or wider than the screen ($PAGER, else
less -S).""",
    )
    p.set_defaults(func=cmd_shell)

    p = _subcommand(
        sub,
        "docs",
        "the data dictionary as a dbt docs site (WORKDIR/docs/)",
        """\
Build the dbt docs site of the project with the column types and descriptions of the
published database (dbt docs generate --static; no data is read). Writes WORKDIR/docs/
index.html, one file that opens from disk, and dbt's artefacts in WORKDIR/docs/dbt/.
Needs no REENTRY_WORK_DB.""",
        verbose=True,
    )
    p.set_defaults(func=cmd_docs)

    p = _subcommand(
        sub,
        "dashboards",
        "render the evaluators' site from the published database",
        """\
Render the evaluators' static site (WORKDIR/dashboards/index.html) again from the published
database, through disclosure control.""",
    )
    _registry_options(p)
    _writer(p)
    p.set_defaults(func=cmd_dashboards)

    p = _subcommand(
        sub,
        "report",
        "the ministry pack for a period (workbook, CSV, HTML)",
        """\
The ministry pack of a quarter (2004Q2) or a year (2004) from the published database: an
Excel workbook, one CSV per sheet and a printable HTML report in WORKDIR/reports/<period>/.""",
    )
    p.add_argument("--period", required=True, help="a quarter (2004Q2) or a year (2004)")
    p.add_argument(
        "--lang", default="en", help="language of the pack: a message file's (default en)"
    )
    _registry_options(p)
    _writer(p)
    p.set_defaults(func=cmd_report)

    p = _subcommand(
        sub,
        "status",
        "loads, quarantine, overdue sources, checks, publish, files held and erasures",
        """\
The state of a work folder: the last ingestion runs, files by status, quarantine by reason,
the deliveries overdue against the as-of date of the last build (marts.data_quality_timeliness),
the last validation and publish, the landing and archive files that hold names and since
when, and the erasure log's size.""",
    )
    retention(p)
    p.set_defaults(func=cmd_status)

    p = _subcommand(
        sub,
        "releases",
        "every publish kept: data and method version, file, lake snapshot",
        """\
Every publish is kept as a release: its file published/releases/release-NNNN.duckdb (open it
as the published file, to read a past quarter's figures exactly as published), its data
version (the file's sha256), method version (the package's version and the dbt project's
checksum), as-of date and, on the lake, the snapshot its marts were read from. A release
published before an erasure is withdrawn: its file is deleted, and this list says when and
why.""",
    )
    p.set_defaults(func=cmd_releases)
    return parser


def _held(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """The work folder's lock for a command that changes it; nothing for the others."""
    if not getattr(args, "writes", False):
        return contextlib.nullcontext()
    # On the lake, ingestions share the folder: each commits only its own appends (README,
    # "The warehouse on DuckLake"); a run (build, publish) or an erasure still holds it alone.
    shared = args.command == "ingest" and Settings.backend_from_env()["backend"] == "lake"
    return work_folder_lock(Path(args.workdir), args.command, args.wait, shared=shared)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; exit 2 on configuration or key errors."""
    args = build_parser().parse_args(argv)
    args.console = Console(verbose=args.verbose)
    try:
        with _library_output(args.verbose), _held(args):
            return args.func(args)
    except WorkFolderBusy as exc:
        args.console.close()
        print(f"reentry {args.command}: {exc}", file=sys.stderr)
        return 1
    except (
        ConfigError,
        PseudonymKeyError,
        FileNotFoundError,
        NotPublished,
        PackError,
        ErasureRequestError,
        WarehouseTooNew,
        WarehouseUnreachable,
    ) as exc:
        args.console.close()
        print(f"reentry {args.command}: {exc}", file=sys.stderr)
        return 2
    except (PipelineFailed, ErasureIncomplete, WriterConflict) as exc:
        args.console.close()
        print(f"reentry {args.command}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except (OSError, MemoryError, duckdb.Error) as exc:
        kind = failures.kind_of(exc)
        if kind:  # the machine's failure, not the data's: one line, nothing quoted
            args.console.close()
            step = args.console.last_step
            where = f"step {step}" if step else f"the start of {args.command}"
            print(f"reentry {args.command}: {failures.message(kind, where)}", file=sys.stderr)
            return 1
        if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc).lower():
            raise
        args.console.close()
        print(
            f"reentry {args.command}: the work database is in use by another run; "
            "wait for it to finish",
            file=sys.stderr,
        )
        return 3
    finally:
        args.console.close()


if __name__ == "__main__":
    sys.exit(main())
