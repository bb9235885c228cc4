"""Versioned releases: every publish is kept, named and described, so that last quarter's
figures can be read again exactly as they were published.

- The file: `published/releases/release-NNNN.duckdb`, a hard link to the researchers' file of
  that publish (no copy: a later publish replaces the published file by rename, so the link
  keeps the old one). It opens in the DuckDB CLI like the published file.
- The lake, besides: the number of the snapshot the marts were read from, and a commit
  message naming the release on the snapshot that records it, so that
  `ATTACH 'ducklake:…' (READ_ONLY, SNAPSHOT_VERSION n)` shows the marts as published.
- `ledger.releases`: name, time, data version (the file's sha256), method version (the
  package's version and the dbt project's checksum), as-of date, build, file, snapshot.

An erasure withdraws every release published before it: their files are deleted (they may
hold the person), the lake's older snapshots are expired (reentry.store.purge_history), and
`reentry releases` says which were withdrawn, when and why.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from reentry import ledger
from reentry.store import ALIAS, Warehouse, atomically

RELEASES = "releases"


@dataclass(frozen=True)
class Release:
    release_no: int
    name: str
    published_at: datetime
    data_version: str
    method_version: str
    as_of: str | None
    path: str | None  # relative to the published folder
    lake_snapshot: int | None
    withdrawn_at: datetime | None
    withdrawn_reason: str | None


def releases_dir(published_db: Path) -> Path:
    return Path(published_db).parent / RELEASES


def _method_and_cut_off(con, built_at: datetime | None) -> tuple[str, str | None]:
    """The method version (the package's version + the dbt project's checksum) and the
    as-of date of the build a publish published (the newest, if it is not known)."""
    row = con.execute(
        "select project_checksum, as_of from ledger.builds "
        "order by (built_at = ?) desc nulls last, built_at desc limit 1",
        [built_at],
    ).fetchone()
    try:
        package = version("reentry-warehouse")
    except PackageNotFoundError:  # run from a source folder that is not installed
        package = "unknown"
    checksum = (row[0] or "")[:12] if row else "unbuilt"
    return f"{package}+{checksum}", row[1] if row else None


_NUMBERED = re.compile(r"release-(\d+)\.duckdb")


def record_release(warehouse: Warehouse, published_db: Path) -> Release | None:
    """Keep the published file as a release and record it, once per data version (a run
    that finds a publish recorded without its release, after a kill, records it then)."""
    published_db = Path(published_db)
    if not published_db.exists():
        return None
    with ledger.ledger_connection(warehouse) as con:
        row = con.execute(
            "select data_version, published_at, built_at, lake_snapshot from ledger.publishes "
            "where state = 'published' order by published_at desc limit 1"
        ).fetchone()
        if row is None:
            return None
        data_version, published_at, built_at, snapshot = row
        known = con.execute(
            "select name from ledger.releases where data_version = ? and withdrawn_at is null",
            [data_version],
        ).fetchone()
        if known:
            return None
        (release_no,) = con.execute(
            "select coalesce(max(release_no), 0) + 1 from ledger.releases"
        ).fetchone()
        folder = releases_dir(published_db)
        folder.mkdir(parents=True, exist_ok=True)
        # Never over a release file already there (a work folder whose ledger is another
        # backend's, or a link a killed run made before its ledger row).
        held = [int(m.group(1)) for p in folder.iterdir() if (m := _NUMBERED.fullmatch(p.name))]
        release_no = max([release_no, *(n + 1 for n in held)])
        name = f"release-{release_no:04d}"
        target = folder / f"{name}.duckdb"
        os.link(published_db, target)
        method, as_of = _method_and_cut_off(con, built_at)

        def write() -> None:
            con.execute(
                "insert into ledger.releases values (?, ?, ?, ?, ?, ?, ?, ?, ?, null, null)",
                [release_no, name, published_at, data_version, method, as_of, built_at,
                 f"{RELEASES}/{target.name}", snapshot],
            )  # fmt: skip
            if warehouse.is_lake:
                # The snapshot that records the release names it (the marts are as of
                # `snapshot`, the one the publish read).
                message = f"{name}: data {data_version[:12]}, method {method}, marts {snapshot}"
                con.execute(f"call {ALIAS}.set_commit_message('reentry', ?)", [message])

        atomically(con, write, f"recording {name}")
    return Release(
        release_no, name, published_at, data_version, method, as_of,
        f"{RELEASES}/{target.name}", snapshot, None, None,
    )  # fmt: skip


def withdraw_releases(warehouse: Warehouse, published_db: Path, reason: str) -> list[str]:
    """Withdraw every release published before the last logged erasure: delete its file and
    record when and why. Return their names."""
    with ledger.ledger_connection(warehouse) as con:
        # Due: every release of a build made before the last erasure was logged (a build
        # after it had the person's rows deleted already), whenever it was published.
        due = con.execute(
            "select release_no, name, path from ledger.releases where withdrawn_at is null "
            "and (built_at is null or built_at < (select max(erased_at) from ingest.erasures)) "
            "order by 1"
        ).fetchall()
        for _, _, path in due:
            (Path(published_db).parent / path).unlink(missing_ok=True)

        def write() -> None:
            if due:
                con.executemany(
                    "update ledger.releases set withdrawn_at = ?, withdrawn_reason = ? "
                    "where release_no = ?",
                    [[datetime.now(), reason, release_no] for release_no, _, _ in due],
                )
            if warehouse.is_lake:
                # The releases kept, whose snapshot the erasure expired, point at the one
                # that is left: it holds the same marts (nothing was built since).
                con.execute(
                    f"""update ledger.releases
                        set lake_snapshot = (select id from {ALIAS}.current_snapshot())
                        where withdrawn_at is null and lake_snapshot not in
                              (select snapshot_id from {ALIAS}.snapshots())"""
                )

        atomically(con, write, "withdrawing releases")
    return [name for _, name, _ in due]


def list_releases(warehouse: Warehouse) -> list[Release]:
    """Every release, the newest last (withdrawn ones too)."""
    if not warehouse.exists():
        return []
    with warehouse.connect(read_only=True) as con:
        (has,) = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'ledger' "
            "and table_name = 'releases'"
        ).fetchone()
        if not has:
            return []
        rows = con.execute(
            "select release_no, name, published_at, data_version, method_version, as_of, path, "
            "lake_snapshot, withdrawn_at, withdrawn_reason from ledger.releases order by 1"
        ).fetchall()
    return [Release(*row) for row in rows]


def format_releases(releases: list[Release], published_db: Path) -> str:
    """The releases for a person: one entry each, its file or why it was withdrawn."""
    if not releases:
        return "no release yet: a run publishes the first"
    lines = []
    for r in releases:
        state = (
            f"withdrawn {r.withdrawn_at:%Y-%m-%d}: {r.withdrawn_reason}"
            if r.withdrawn_at
            else str(Path(published_db).parent / r.path)
        )
        snapshot = f", lake snapshot {r.lake_snapshot}" if r.lake_snapshot is not None else ""
        lines.append(
            f"{r.name}  published {r.published_at:%Y-%m-%d %H:%M}  data {r.data_version[:12]}  "
            f"method {r.method_version}  as of {r.as_of or 'default'}{snapshot}\n    {state}"
        )
    return "\n".join(lines)
