"""One ingestion run: find new landing files, read, check, pseudonymise and append them.

Each file is read and checked in an in-memory scratch connection (the only place names
exist, and only for the moment of hashing), then written to the work database in one
transaction: its clean rows to `raw.<entity>`, its bad rows to `ingest.quarantine`, and its
manifest row to `ingest.files`. A file either loads whole or not at all, and a bad file
never stops the others.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from reentry import failures
from reentry.contract import ENTITIES, ENTITIES_BY_KIND
from reentry.faults import moment
from reentry.files import sha256_file
from reentry.pseudonym import PseudonymKey
from reentry.store import Warehouse, as_warehouse, atomically

from .erasure import apply_erasures, has_erasures
from .reader import MALFORMED, FileRejected, read_file
from .registry import Registry, load_registry
from .validate import CHECKED, check_rows
from .warehouse import WH, bind_key, ensure_schema, next_id, raw_columns, store_registry

FILE_NAME = re.compile(
    r"^(?P<entity>[a-z_]+)\.(?P<date>\d{4}-\d{2}-\d{2})\.(?P<ext>csv|xlsx)$", re.IGNORECASE
)
Progress = Callable[[str], None]


@dataclass
class FileOutcome:
    """What happened to one landing file in this run."""

    file_name: str
    status: str  # loaded | skipped (loaded before) | duplicate | rejected | ignored
    source_id: str | None = None
    entity: str | None = None
    n_received: int = 0
    n_loaded: int = 0
    n_quarantined: int = 0
    n_removed: int = 0
    n_erased: int = 0  # rows dropped because their person was erased
    error: str | None = None
    seconds: float = 0.0
    file_hash: str | None = None


@dataclass
class IngestReport:
    """The outcome of one run, file by file."""

    run_id: int
    files: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)


@dataclass(frozen=True)
class LandingFile:
    """A file found in the landing folder, with what its path says."""

    path: Path
    rel: str
    source_id: str | None
    entity: str | None
    export_date: date | None
    problem: str | None  # why it cannot be loaded, if its name or folder already says so


def discover(landing: Path, registry: Registry, as_of: date | None = None) -> list[LandingFile]:
    """Every file under the landing folder's source folders, oldest export first. A symbolic
    link (to a file or a folder) is listed with its problem and never followed: the landing
    folder is a boundary. A file exported after `as_of` (or after today) is listed with its
    problem, not loaded."""
    found: list[LandingFile] = []
    skip_dirs = {registry.layouts_dir.resolve()}
    for folder in sorted(landing.iterdir()):
        if folder.name.startswith("."):
            continue
        if folder.is_symlink():
            found.append(_link(landing, folder))
            continue
        if not folder.is_dir() or folder.resolve() in skip_dirs:
            continue
        source = registry.sources.get(folder.name)
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            here = Path(dirpath)
            for name in sorted(dirnames):
                if (here / name).is_symlink():
                    found.append(_link(landing, here / name))
            for name in sorted(filenames):
                path = here / name
                if name.startswith("."):
                    continue
                if path.is_symlink():
                    found.append(_link(landing, path))
                elif path.is_file():
                    found.append(_landing_file(landing, folder, source, path, as_of))
    return sorted(found, key=lambda f: (f.export_date or date.min, f.rel))


LINK_PROBLEM = "a symbolic link: the landing folder takes files, never links (not followed)"


def _link(landing: Path, path: Path) -> LandingFile:
    return LandingFile(path, path.relative_to(landing).as_posix(), None, None, None, LINK_PROBLEM)


def _landing_file(
    landing: Path, folder: Path, source, path: Path, as_of: date | None = None
) -> LandingFile:
    """What a file's place and name say: its source, entity and export date, or its problem."""
    rel = path.relative_to(landing).as_posix()
    m = FILE_NAME.match(path.name)
    problem = None
    entity = export_date = None
    if source is None:
        problem = f"folder {folder.name!r} is not a source in the registry"
    elif path.parent != folder:
        problem = "files belong directly in the source folder, not in a subfolder"
    elif not m:
        problem = "name is not <entity>.<YYYY-MM-DD>.<csv|xlsx>"
    else:
        entity = m["entity"].lower()
        try:
            export_date = date.fromisoformat(m["date"])
        except ValueError:
            problem = f"export date {m['date']!r} in the name is not a date"
        else:
            if export_date > date.today():
                problem = f"export date {export_date} in the name lies in the future"
            elif as_of is not None and export_date > as_of:
                problem = (
                    f"export date {export_date} is after the as-of date {as_of} of this run: "
                    "held back, loaded by a run whose as-of date reaches it"
                )
        if entity not in ENTITIES_BY_KIND[source.kind]:
            problem = (
                f"a {source.kind} delivers {', '.join(ENTITIES_BY_KIND[source.kind])}, "
                f"not {entity!r}"
            )
    return LandingFile(path, rel, source.id if source else None, entity, export_date, problem)


def _insert_outcome(
    con: duckdb.DuckDBPyConnection,
    load_id: int,
    run_id: int,
    lf: LandingFile,
    digest: str,
    o: FileOutcome,
    layout: str | None,
    delivery: str | None,
    extra: list[str] | None,
) -> None:
    con.execute(
        f"""
        insert into {WH}.ingest.files
        values ($load, $run, $file, $hash, $size, $source, $entity,
                $export, $layout, $delivery, $status, $error, $received, $loaded,
                $quarantined, $removed, $extra, now()::timestamp, 0)
        """,
        {
            "load": load_id,
            "run": run_id,
            "file": lf.rel,
            "hash": digest,
            "size": lf.path.stat().st_size,
            "source": lf.source_id,
            "entity": lf.entity,
            "export": lf.export_date,
            "layout": layout,
            "delivery": delivery,
            "status": o.status,
            "error": o.error,
            "received": o.n_received,
            "loaded": o.n_loaded,
            "quarantined": o.n_quarantined,
            "removed": o.n_removed,
            "extra": extra,
        },
    )


def _record(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    lf: LandingFile,
    digest: str,
    o: FileOutcome,
    layout: str | None = None,
    delivery: str | None = None,
) -> None:
    """The manifest row of a file not loaded (duplicate, ignored, rejected), committed."""
    atomically(
        con,
        lambda: _insert_outcome(
            con, next_id(con, WH, "load"), run_id, lf, digest, o, layout, delivery, None
        ),
        f"recording {lf.rel}",
    )


def _previous(
    con: duckdb.DuckDBPyConnection, lf: LandingFile, digest: str
) -> tuple[str, str | None] | None:
    """The last recorded outcome of this very file (same name, same bytes), if any."""
    return con.execute(
        f"select status, error from {WH}.ingest.files where file_name = ? and file_hash = ? "
        "order by load_id desc limit 1",
        [lf.rel, digest],
    ).fetchone()


def _same_bytes_loaded(con: duckdb.DuckDBPyConnection, lf: LandingFile, digest: str) -> str | None:
    """The name under which this source already delivered these bytes for this entity."""
    row = con.execute(
        f"select file_name from {WH}.ingest.files where file_hash = ? and source_id = ? "
        "and entity = ? and status = 'loaded' order by load_id limit 1",
        [digest, lf.source_id, lf.entity],
    ).fetchone()
    return row[0] if row else None


def _write_loaded(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    lf: LandingFile,
    digest: str,
    registry: Registry,
    extra: list[str],
    n_received: int,
) -> FileOutcome:
    """In one transaction: raw rows, quarantine rows, removed count, manifest row."""
    entity = ENTITIES[lf.entity]
    source = registry.sources[lf.source_id]
    delivery = source.delivery_of(lf.entity)
    stored = [n for n, _ in raw_columns(entity) if not n.startswith("_")]
    values = ", ".join(f"v_{n}" if n in entity.column_names else n for n in stored)
    safe = ", ".join(f"'{c.name}', t_{c.name}" for c in entity.columns if not c.identifying)

    def work() -> FileOutcome:
        previous = _previous(con, lf, digest)
        if previous and previous[0] in ("loaded", "duplicate"):
            # Another writer of the lake loaded this very file since this one looked.
            return FileOutcome(lf.rel, "skipped", lf.source_id, lf.entity)
        original = _same_bytes_loaded(con, lf, digest)
        if original:  # … or the same bytes under another name
            copy = FileOutcome(
                lf.rel, "duplicate", lf.source_id, lf.entity,
                error=f"same bytes as {original}, already loaded",
            )  # fmt: skip
            _insert_outcome(
                con, next_id(con, WH, "load"), run_id, lf, digest, copy, None, None, None
            )
            return copy
        load_id = next_id(con, WH, "load")
        n_removed = 0
        if delivery == "full":
            n_removed = con.execute(
                f"""
                with prev as (
                    select load_id, export_date from {WH}.ingest.files
                    where source_id = $s and entity = $e and status = 'loaded'
                    order by export_date desc, load_id desc limit 1
                )
                select count(*) from {WH}.raw.{entity.name} r
                join prev on r._load_id = prev.load_id and prev.export_date <= $d
                anti join (select t_{entity.key} as k from {CHECKED}
                           where t_{entity.key} is not null) c on c.k = r.{entity.key}
                """,
                {"s": lf.source_id, "e": lf.entity, "d": lf.export_date},
            ).fetchone()[0]
        params = {
            "load": load_id,
            "source": lf.source_id,
            "entity": lf.entity,
            "file": lf.rel,
            "export": lf.export_date,
        }
        n_loaded = con.execute(
            f"""
            insert into {WH}.raw.{entity.name}
            select {values}, $source, $file, $export, $load, _line
            from {CHECKED} where len(problems) = 0
            """,
            {k: params[k] for k in ("source", "file", "export", "load")},
        ).fetchone()[0]
        n_quarantined = con.execute(
            f"""
            insert into {WH}.ingest.quarantine
            select $load, $source, $entity, $file, _line, problems[1].reason,
                   problems[1].column,
                   array_to_string(list_transform(problems, lambda p: p.column || ': ' || p.reason
                       || coalesce(' (' || p.value || ')', '')), '; '),
                   problems, person_key, json_object({safe})
            from {CHECKED} where len(problems) > 0
            union all
            select $load, $source, $entity, $file, _line, reason, null, message,
                   [{{'column': null::varchar, 'reason': reason, 'value': null::varchar}}],
                   null, null
            from {MALFORMED}
            """,
            {k: params[k] for k in ("load", "source", "entity", "file")},
        ).fetchone()[0]
        outcome = FileOutcome(
            lf.rel,
            "loaded",
            lf.source_id,
            lf.entity,
            n_received=n_received,
            n_loaded=n_loaded,
            n_quarantined=n_quarantined,
            n_removed=n_removed,
        )
        _insert_outcome(con, load_id, run_id, lf, digest, outcome, source.layout, delivery, extra)
        if has_erasures(con, WH):
            # The erasure log applies in the file's own transaction: a committed file holds
            # no erased person, wherever the run is stopped.
            apply_erasures(con, WH, since_load=load_id)
            outcome.n_loaded, outcome.n_quarantined, outcome.n_erased = con.execute(
                f"select n_loaded, n_quarantined, coalesce(n_erased, 0) from {WH}.ingest.files "
                "where load_id = ?",
                [load_id],
            ).fetchone()
        return outcome

    # One transaction: a conflicting commit of another writer (the lake) runs it again.
    return atomically(con, work, f"loading {lf.rel}")


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("_rows", MALFORMED, CHECKED):
        con.execute(f"drop table if exists {table}")


def ingest(
    landing: Path,
    database: Warehouse | Path,
    key: PseudonymKey,
    registry_path: Path | None = None,
    progress: Progress | None = None,
    archive: Path | None = None,
    retention_days: int | None = None,
    as_of: date | None = None,
) -> IngestReport:
    """Load every new file of `landing` into the work database `database` (a warehouse, or
    the path of an embedded one).

    With `archive`, every file the warehouse holds (loaded, or a duplicate of a loaded one)
    then moves out of the landing folder into `archive`, and archived files older than
    `retention_days` are deleted. Rejected and ignored files stay in the landing folder for
    someone to look at. Files exported after `as_of` are held back (ignored, with the reason)
    until a run's as-of date reaches them."""
    landing = Path(landing)
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    registry = load_registry(Path(registry_path) if registry_path else landing / "sources.yml")
    say = progress or (lambda _msg: None)
    warehouse = as_warehouse(database)
    warehouse.scratch_dir.mkdir(parents=True, exist_ok=True)
    scratch_dir = Path(tempfile.mkdtemp(prefix=".ingest-", dir=warehouse.scratch_dir))
    con = warehouse.open(config={"temp_directory": str(scratch_dir)})
    try:
        con.execute("set enable_progress_bar = false")
        con.execute("set enable_progress_bar_print = false")
        # Each file commits on its own; checkpointing after every commit cost a third of the
        # ingestion time at 10^5 persons. The run checkpoints once at the end instead.
        con.execute("set checkpoint_threshold = '1GB'")

        def start() -> tuple[int, int]:
            ensure_schema(con, WH)
            bind_key(con, WH, key, record=True)
            store_registry(con, WH, registry)
            run_id = next_id(con, WH, "run")
            con.execute(
                f"insert into {WH}.ingest.runs (run_id, started_at, landing) values (?, ?, ?)",
                [run_id, datetime.now(), str(landing.resolve())],
            )
            (loads,) = con.execute(
                f"select value from {WH}.ingest.counters where name = 'load'"
            ).fetchone()
            return run_id, loads + 1

        run_id, first_load = atomically(con, start, "starting the ingestion")
        report = IngestReport(run_id)
        moment("ingest:started")
        files = discover(landing, registry, as_of)
        say(f"{len(files)} files in {landing}")
        for i, lf in enumerate(files, 1):
            outcome = _ingest_one(con, run_id, lf, registry, key)
            report.files.append(outcome)
            if outcome.status != "skipped":
                say(_progress_line(i, len(files), outcome))
            if outcome.status == "loaded":
                moment("ingest:file")
        _drop_erased(con, report, first_load, say)
        atomically(
            con,
            lambda: con.execute(
                f"""update {WH}.ingest.runs set finished_at = ?, n_files_seen = ?,
                    n_loaded = ?, n_skipped = ?, n_rejected = ?, n_ignored = ? where run_id = ?""",
                [
                    datetime.now(),
                    len(files),
                    report.count("loaded"),
                    report.count("skipped"),
                    report.count("rejected"),
                    report.count("ignored"),
                    run_id,
                ],
            ),
            "recording the ingestion run",
        )
        warehouse.checkpoint(con)
        moment("ingest:loaded")
        if archive is not None:
            archive_files(con, landing, Path(archive), registry, report, files, say)
            if retention_days is not None:
                purge_archive(con, Path(archive), retention_days, say=say)
            warehouse.checkpoint(con)
        return report
    finally:
        con.close()
        shutil.rmtree(scratch_dir, ignore_errors=True)


def _drop_erased(
    con: duckdb.DuckDBPyConnection, report: IngestReport, first_load: int, say: Progress
) -> None:
    """The erasure log applied to every load since the last time it was (ingest.erasure_checks):
    this run's, and those of a run stopped before it got here. Each file already dropped the
    persons known when it was loaded; this also drops rows that a later file of the run tied
    to an erased person (an episode under a number the next inmate list gives them). The
    mark moves in the same transaction, so no load is ever left unchecked."""

    def check() -> int:
        (since,) = con.execute(
            f"select coalesce(max(checked_through), 0) + 1 from {WH}.ingest.erasure_checks"
        ).fetchone()
        if has_erasures(con, WH):
            apply_erasures(con, WH, since_load=since)
        con.execute(
            f"insert into {WH}.ingest.erasure_checks "
            f"select coalesce(max(load_id), 0), now()::timestamp from {WH}.ingest.files"
        )
        return since

    since = atomically(con, check, "applying the erasure log")
    rows = con.execute(
        f"select file_name, n_loaded, n_quarantined, coalesce(n_erased, 0) "
        f"from {WH}.ingest.files where load_id >= ? and status = 'loaded'",
        [min(since, first_load)],
    ).fetchall()
    by_file = {name: (loaded, quarantined, erased) for name, loaded, quarantined, erased in rows}
    for outcome in report.files:
        if outcome.status == "loaded" and outcome.file_name in by_file:
            outcome.n_loaded, outcome.n_quarantined, outcome.n_erased = by_file[outcome.file_name]
    erased = sum(o.n_erased for o in report.files if o.status == "loaded")
    if erased:
        say(f"{erased:,} rows of erased persons dropped (erasure log)")


ARCHIVED = ("loaded", "duplicate", "skipped")


def _unique_target(archive: Path, rel: str, digest: str) -> Path:
    return archive / f"{rel}.{digest[:12]}"


def archive_files(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    archive: Path,
    registry: Registry,
    report: IngestReport,
    files: list[LandingFile],
    say: Progress,
) -> None:
    """Move the files the warehouse now holds from the landing folder into the archive, which
    keeps the landing folder's layout (and a copy of the registry and layouts), so that the
    archive can be ingested again as a landing folder after a key change."""
    archive.mkdir(parents=True, exist_ok=True)
    shutil.copy2(registry.path, archive / "sources.yml")
    if registry.layouts_dir.is_dir():
        try:
            layouts_target = archive / registry.layouts_dir.relative_to(registry.path.parent)
        except ValueError:
            layouts_target = archive / registry.layouts_dir.name
        shutil.copytree(registry.layouts_dir, layouts_target, dirs_exist_ok=True)
    by_rel = {lf.rel: lf for lf in files}
    moved = 0
    for outcome in report.files:
        lf = by_rel.get(outcome.file_name)
        if outcome.status not in ARCHIVED or lf is None or not lf.path.exists():
            continue
        try:
            digest = outcome.file_hash or sha256_file(lf.path)
            size = lf.path.stat().st_size
        except FileNotFoundError:  # moved meanwhile by another ingestion of this landing folder
            continue
        target = archive / lf.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        older_name = None
        if target.exists():
            old = sha256_file(target)
            if old != digest:
                # A corrected file under the same name: the older one stays, renamed (a name
                # ingestion does not pick up again), until retention removes it.
                older = _unique_target(archive, lf.rel, old)
                os.replace(target, older)
                older_name = older.relative_to(archive).as_posix()
        atomically(
            con,
            functools.partial(_archive_row, con, lf, digest, size, older_name),
            f"archiving {lf.rel}",
        )
        with contextlib.suppress(FileNotFoundError):  # another ingestion moved it first
            shutil.move(lf.path, target)
        moved += 1
        moment("ingest:archived")
    if moved:
        say(f"{moved} files moved from the landing folder to the archive {archive}")


def _archive_row(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    digest: str,
    size: int,
    older_name: str | None,
) -> None:
    """The archive's record of a file moved there (and of the older file it renamed)."""
    if older_name:
        con.execute(
            f"update {WH}.ingest.archive set archive_name = ? "
            "where archive_name = ? and deleted_at is null",
            [older_name, lf.rel],
        )
    con.execute(
        f"delete from {WH}.ingest.archive where archive_name = ? and deleted_at is null",
        [lf.rel],
    )
    con.execute(
        f"insert into {WH}.ingest.archive values (?, ?, ?, ?, ?, null)",
        [lf.rel, digest, lf.rel, size, datetime.now()],
    )


def purge_archive(
    con: duckdb.DuckDBPyConnection,
    archive: Path,
    retention_days: int,
    now: datetime | None = None,
    say: Progress | None = None,
) -> int:
    """Delete archived files older than the retention; return how many."""
    now = now or datetime.now()
    due = con.execute(
        f"select archive_name from {WH}.ingest.archive where deleted_at is null "
        "and archived_at < ?::timestamp - to_days(?) order by 1",
        [now, retention_days],
    ).fetchall()
    for (name,) in due:
        (archive / name).unlink(missing_ok=True)
    if due:
        atomically(
            con,
            lambda: con.executemany(
                f"update {WH}.ingest.archive set deleted_at = ? where archive_name = ? "
                "and deleted_at is null",
                [[now, name] for (name,) in due],
            ),
            "recording the archive's retention",
        )
        if say:
            say(
                f"{len(due)} archived files deleted: older than the retention of "
                f"{retention_days} days"
            )
    return len(due)


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    lf: LandingFile,
    registry: Registry,
    key: PseudonymKey,
) -> FileOutcome:
    if lf.problem == LINK_PROBLEM:
        # Never read through a link: its record is keyed by its place, not by bytes elsewhere.
        digest = hashlib.sha256(f"link:{lf.rel}".encode()).hexdigest()
    else:
        try:
            digest = sha256_file(lf.path)
        except OSError as exc:
            # Unreadable or gone since it was listed: reported, and tried again next run.
            return FileOutcome(lf.rel, "rejected", lf.source_id, lf.entity, error=_unreadable(exc))
    outcome = _process(con, run_id, lf, registry, key, digest)
    outcome.file_hash = digest
    return outcome


def _unreadable(exc: OSError) -> str:
    """Why a file could not be read, without its content: the error's class and number."""
    code = f" {errno.errorcode.get(exc.errno, exc.errno)}" if exc.errno else ""
    return f"could not be read ({type(exc).__name__}{code}); it is tried again next run"


def _process(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    lf: LandingFile,
    registry: Registry,
    key: PseudonymKey,
    digest: str,
) -> FileOutcome:
    started = time.perf_counter()
    previous = _previous(con, lf, digest)
    if previous and previous[0] in ("loaded", "duplicate"):
        return FileOutcome(lf.rel, "skipped", lf.source_id, lf.entity)
    if lf.problem:
        outcome = FileOutcome(lf.rel, "ignored", lf.source_id, lf.entity, error=lf.problem)
        if previous != ("ignored", lf.problem):
            _record(con, run_id, lf, digest, outcome)
        return outcome
    original = _same_bytes_loaded(con, lf, digest)
    if original:
        # A re-sent copy: recorded as a delivery (it counts for timeliness), not loaded again.
        outcome = FileOutcome(
            lf.rel,
            "duplicate",
            lf.source_id,
            lf.entity,
            error=f"same bytes as {original}, already loaded",
        )
        _record(con, run_id, lf, digest, outcome)
        return outcome
    layout = registry.layout_of(lf.source_id)
    try:
        result = read_file(con, lf.path, lf.entity, layout)
        check_rows(con, lf.entity, layout, result.columns, lf.export_date, key)
        outcome = _write_loaded(
            con, run_id, lf, digest, registry, result.extra_columns, result.n_received
        )
    except FileRejected as exc:
        outcome = FileOutcome(lf.rel, "rejected", lf.source_id, lf.entity, error=str(exc))
    except OSError as exc:
        if failures.kind_of(exc) in ("disk", "memory"):
            raise  # the machine's failure, not the file's: the run stops, the file waits
        outcome = FileOutcome(lf.rel, "rejected", lf.source_id, lf.entity, error=_unreadable(exc))
    except duckdb.Error as exc:
        if failures.kind_of(exc) or os.environ.get("REENTRY_DEBUG"):
            raise  # developers on synthetic data only: the message may quote field values
        # DuckDB messages can quote field values: keep only the error class.
        outcome = FileOutcome(
            lf.rel,
            "rejected",
            lf.source_id,
            lf.entity,
            error=f"could not be processed ({type(exc).__name__})",
        )
    finally:
        _drop_scratch(con)
    if outcome.status == "rejected" and previous != ("rejected", outcome.error):
        _record(
            con,
            run_id,
            lf,
            digest,
            outcome,
            layout.name,
            registry.sources[lf.source_id].delivery_of(lf.entity),
        )
    outcome.seconds = time.perf_counter() - started
    return outcome


def _progress_line(i: int, n: int, o: FileOutcome) -> str:
    head = f"[{i:>{len(str(n))}}/{n}] {o.file_name}"
    if o.status == "loaded":
        tail = f"{o.n_loaded:,} loaded, {o.n_quarantined:,} quarantined"
        if o.n_removed:
            tail += f", {o.n_removed:,} removed since the previous snapshot"
        return f"{head}: {tail} ({o.seconds:.2f} s)"
    return f"{head}: {o.status.upper()} – {o.error}"
