"""`reentry status`: what was loaded when, what is quarantined, the last checks and publish,
and the sources whose deliveries are overdue."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from reentry.store import Warehouse, as_warehouse

from .settings import Workdir


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()
    except (duckdb.CatalogException, duckdb.BinderException):
        return []  # a table or column a work database of an older version does not have


def _held(con: duckdb.DuckDBPyConnection, wd: Workdir, retention_days: int) -> list[str]:
    """Where landing files (the only files with names) are held, and since when."""
    out = ["", "Files with names held (landing folder and archive)"]
    runs = _rows(con, "select landing from ingest.runs order by run_id desc limit 1")
    if runs:
        landing = Path(runs[0][0])
        waiting = (
            sorted(
                (
                    p
                    for p in landing.glob("*/*")
                    if p.is_file() and not p.name.startswith(".") and p.suffix.lower() != ".yml"
                ),
                key=lambda p: p.stat().st_mtime,
            )
            if landing.is_dir()
            else []
        )
        if waiting:
            since = datetime.fromtimestamp(waiting[0].stat().st_mtime)
            out.append(
                f"  landing {landing}: {len(waiting)} files not archived (new, rejected "
                f"or ignored), the oldest since {since:%Y-%m-%d}"
            )
        else:
            out.append(f"  landing {landing}: empty")
    held = _rows(
        con,
        "select count(*), coalesce(sum(file_size), 0), min(archived_at), "
        "max(archived_at) from ingest.archive where deleted_at is null",
    )
    if held and held[0][0]:
        n, size, oldest, newest = held[0]
        due = oldest + timedelta(days=retention_days)
        out.append(
            f"  archive {wd.archive}: {n} files, {size / 1e6:,.1f} MB, archived "
            f"{oldest:%Y-%m-%d} to {newest:%Y-%m-%d}; the oldest is deleted after "
            f"{due:%Y-%m-%d} (retention {retention_days} days)"
        )
    else:
        out.append(f"  archive {wd.archive}: empty")
    deleted = _rows(
        con, "select count(*), max(deleted_at) from ingest.archive where deleted_at is not null"
    )
    if deleted and deleted[0][0]:
        out.append(
            f"  deleted by retention: {deleted[0][0]} files, the last on {deleted[0][1]:%Y-%m-%d}"
        )
    erased = _rows(con, "select count(*), max(requested_on), max(erased_at) from ingest.erasures")
    if erased and erased[0][0]:
        n, requested, applied = erased[0]
        out.append(
            f"  erasure log: {n} persons erased (pseudonyms only), the latest request "
            f"of {requested}, applied {applied:%Y-%m-%d %H:%M}"
        )
    else:
        out.append("  erasure log: no erasures")
    return out


def build_as_of(con: duckdb.DuckDBPyConnection, wd: Workdir) -> date | None:
    """The as-of date of the last build: marts.run_metadata of the work database, else of
    the published one; None when neither has been built."""
    rows = _rows(con, "select max(as_of_date) from marts.run_metadata")
    if rows and rows[0][0] is not None:
        return rows[0][0]
    if wd.published_db.exists():
        try:
            published = duckdb.connect(str(wd.published_db), read_only=True)
        except duckdb.Error:
            return None
        try:
            rows = _rows(published, "select max(as_of_date) from marts.run_metadata")
        finally:
            published.close()
        if rows and rows[0][0] is not None:
            return rows[0][0]
    return None


def status_text(wd: Workdir, retention_days: int = 730, warehouse: Warehouse | None = None) -> str:
    """The status of a work folder as text (its warehouse: the embedded file unless given).
    Deliveries are overdue as the last build's marts.data_quality_timeliness says: against
    that build's as-of date (the data's own today)."""
    warehouse = warehouse or as_warehouse(wd.work_db)
    if not warehouse.exists():
        return (
            f"No work database at {warehouse.describe()}: nothing has run in this work folder yet."
        )
    try:
        con = warehouse.open(read_only=True)
    except duckdb.IOException:
        return f"A run is in progress on {warehouse.describe()}; try again when it has finished."
    out: list[str] = [f"Work folder {wd.root}", ""]
    try:
        out.append("Ingestion runs (newest first)")
        for run_id, started, n_seen, n_loaded, n_skipped, n_rejected, n_ignored in _rows(
            con,
            "select run_id, started_at, n_files_seen, n_loaded, n_skipped, n_rejected, "
            "n_ignored from ingest.runs order by run_id desc limit 5",
        ):
            out.append(
                f"  run {run_id} at {started:%Y-%m-%d %H:%M}: {n_seen} files seen, "
                f"{n_loaded} loaded, {n_skipped} already loaded, {n_rejected} rejected, "
                f"{n_ignored} ignored"
            )
        out += ["", "Files by status"]
        for status, n, rows in _rows(
            con, "select status, count(*), sum(n_received) from ingest.files group by 1 order by 1"
        ):
            out.append(f"  {status:<10}{n:>6} files{'' if rows is None else f'{rows:>12,} rows'}")
        out += ["", "Quarantined rows by reason"]
        reasons = _rows(
            con, "select reason, count(*) from ingest.quarantine group by 1 order by 2 desc"
        )
        out += [f"  {r:<18}{n:>8,}" for r, n in reasons] or ["  none"]
        # Overdue is defined once, by the mart data_quality_timeliness (against the as-of
        # date of the build that made it).
        as_of = build_as_of(con, wd)
        stale = []
        if as_of is None:
            out += ["", "Overdue deliveries: known after the first build (reentry run)"]
        else:
            out += [
                "",
                f"Overdue deliveries as of {as_of}, the as-of date of the last build: newest "
                "export older than the source's cadence",
            ]
            stale = _rows(
                con,
                "select source_id, entity, last_export_date, cadence_days, "
                "days_since_last_export from marts.data_quality_timeliness where is_stale "
                "order by days_since_last_export desc, source_id, entity",
            )
        out += [
            f"  {s}/{e}: last export {d}, {days:,} days old (cadence {c} days)"
            for s, e, d, c, days in stale[:20]
        ] or ["  none"]
        if len(stale) > 20:
            out.append(f"  … and {len(stale) - 20} more")
        out += ["", "Last validation"]
        validation = _rows(
            con,
            "select validated_at, success, n_expectations, n_failed, "
            "report_path from ledger.validations order by validated_at desc "
            "limit 1",
        )
        for at, ok, n, failed, path in validation:
            out.append(
                f"  {at:%Y-%m-%d %H:%M}: {'passed' if ok else 'FAILED'}, "
                f"{n - failed} of {n} expectations met; report {path}"
            )
        if not validation:
            out.append("  none yet")
        out += ["", "Last publish"]
        publish = _rows(
            con,
            "select published_at, path, data_version, n_tables, previous_path "
            "from ledger.publishes where coalesce(state, 'published') = 'published' "
            "order by published_at desc limit 1",
        )
        for at, path, version, n, previous in publish:
            out.append(f"  {at:%Y-%m-%d %H:%M}: {n} tables to {path}")
            out.append(f"  data version {version}; previous version kept: {previous or 'none'}")
        if not publish:
            out.append("  nothing published yet")
        out += _held(con, wd, retention_days)
    finally:
        con.close()
    return "\n".join(out)
