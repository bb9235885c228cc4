"""`reentry erase`: a person's erasure request, applied to every layer and published.

1. The request (name and birth date) is pseudonymised in memory with the pseudonym key and
   only the pseudonym and the request date enter the erasure log.
2. Their raw history and quarantined rows are deleted (with their unnamed rows, found through
   their source record numbers), and each file's counts move from loaded to erased.
3. The Dagster job runs: an erasure since the last build rebuilds every model, validation
   gates the publish, and the new researchers' database no longer holds them. The version it
   replaces is deleted too (it still holds them), and the work database is rewritten into a
   fresh file, so that no free block of the old file keeps a copy of their rows.
4. Every layer is counted again: an erased pseudonym still found anywhere stops with an error.

What it prints are counts per layer, never a name, a birth date or a pseudonym.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from reentry import ledger
from reentry.faults import moment
from reentry.ingest.erasure import Request, apply_erasures, log_erasures, pseudonymise
from reentry.ingest.warehouse import WH, check_key, ensure_schema
from reentry.pseudonym import PseudonymKey, hmac_sql
from reentry.publish.releases import releases_dir, withdraw_releases
from reentry.store import Warehouse, as_warehouse, atomically

from .publish.database import previous_path
from .settings import Settings

ERASURE_LOG = ("ingest", "erasures")


class ErasureIncomplete(Exception):
    """After the erasure, a layer still holds an erased person (names the table only)."""


@dataclass
class ErasureResult:
    requests: int
    newly_logged: int
    removed: dict[str, int] = field(default_factory=dict)  # layer/table -> rows removed
    remaining: dict[str, int] = field(default_factory=dict)  # should be all zero


def _person_tables(con: duckdb.DuckDBPyConnection, db: str) -> list[tuple[str, str, str]]:
    """(schema, table, condition on a row of it) for every table of database `db` that holds
    rows of a person in temp table `k`: by person key, or by a release or placement of theirs
    (marts keyed by `release_id` or `placement_id` only)."""
    columns: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in con.execute(
        "select c.schema_name, c.table_name, c.column_name from duckdb_columns() c "
        "join duckdb_tables() t using (database_name, schema_name, table_name) "
        "where c.database_name = ? and c.column_name in "
        "('person_key', 'release_id', 'placement_id')",
        [db],
    ).fetchall():
        columns.setdefault((schema, table), set()).add(column)
    via = {"release_id": ("releases", "release_id"), "placement_id": ("placements", "placement_id")}
    out = []
    for (schema, table), cols in sorted(columns.items()):
        if "person_key" in cols:
            out.append((schema, table, "person_key in (select person_key from k)"))
            continue
        for column, (parent, key) in via.items():
            if column in cols and ("marts", parent) in columns:
                out.append(
                    (
                        schema,
                        table,
                        f"{column} in (select {key} from {db}.marts.{parent} "
                        "where person_key in (select person_key from k))",
                    )
                )
                break
    return out


def _count_work(work_db: Warehouse | Path, keys: list[str]) -> dict[str, int]:
    """Rows of the persons with `keys`, per table of the work database that holds persons."""
    with as_warehouse(work_db).connect(read_only=True) as con:
        con.execute(
            "create temp table k as select unnest($k::varchar[]) as person_key", {"k": keys}
        )
        # The erasure log itself holds the pseudonyms, by design (nothing else of them).
        return {
            f"{s}.{t}": con.execute(
                f'select count(*) from {WH}."{s}"."{t}" where {cond}'
            ).fetchone()[0]
            for s, t, cond in _person_tables(con, WH)
            if (s, t) != ERASURE_LOG
        }


def _count_published(
    published_db: Path, keys: list[str], research_key: PseudonymKey
) -> dict[str, int]:
    """Rows of the erased persons in the researchers' database (keys re-keyed as published)."""
    if not published_db.exists():
        return {}
    con = duckdb.connect()
    try:
        con.execute(f"attach '{published_db}' as pub (read_only)")
        con.execute(
            f"create temp table k as select {hmac_sql('person_key')} as person_key "
            "from (select unnest($k::varchar[]) as person_key)",
            {"k": keys, **research_key.pads()},
        )
        return {
            f"published {s}.{t}": con.execute(
                f'select count(*) from pub."{s}"."{t}" where {cond}'
            ).fetchone()[0]
            for s, t, cond in _person_tables(con, "pub")
        }
    finally:
        con.close()


def _apply(work_db: Warehouse | Path, keys: list[tuple[str, object]]) -> tuple[int, dict[str, int]]:
    warehouse = as_warehouse(work_db)
    with warehouse.connect() as con:
        con.execute("set enable_progress_bar = false")
        atomically(con, lambda: ensure_schema(con, WH), "preparing the erasure")
        # The log entry and the deletion are one transaction (retried whole if another
        # writer of the lake committed a conflicting change meanwhile).
        new, removed = atomically(
            con,
            lambda: (log_erasures(con, WH, keys), apply_erasures(con, WH)),
            "logging the erasure",
        )
        warehouse.checkpoint(con)
        return new, removed


def last_landing(work_db: Warehouse | Path) -> Path | None:
    """The landing folder of the last ingestion run."""
    with as_warehouse(work_db).connect(read_only=True) as con:
        row = con.execute("select landing from ingest.runs order by run_id desc limit 1").fetchone()
    return Path(row[0]) if row else None


def erased_keys(work_db: Warehouse | Path) -> list[str]:
    """The pseudonyms of every logged erasure."""
    with as_warehouse(work_db).connect(read_only=True) as con:
        rows = con.execute("select person_key from ingest.erasures order by 1").fetchall()
    return [r[0] for r in rows]


def finish_erasures(settings: Settings, say: Callable[[str], None]) -> None:
    """After a run that published without the persons of the erasure log: delete the
    previous published version (it may still hold them), rewrite the work database into a
    fresh file, count every layer, and record that the log is applied. A killed erasure is
    finished by the next run (or by repeating it); an erased person still found anywhere
    stops with an error."""
    wd = settings.paths
    moment("erase:published")
    previous = previous_path(wd.published_db)
    if previous.exists():
        previous.unlink()
        say("the previous published version (which may hold an erased person) is deleted")
    say(settings.warehouse.purge_history())
    withdrawn = withdraw_releases(
        settings.warehouse, wd.published_db, "it may hold a person erased since"
    )
    if withdrawn:
        say(
            f"{len(withdrawn)} earlier release(s) withdrawn, their files deleted (they may hold "
            f"an erased person): {', '.join(withdrawn)}"
        )
    keys = erased_keys(settings.warehouse)
    remaining = {
        **_count_work(settings.warehouse, keys),
        **_count_published(wd.published_db, keys, settings.research_key()),
    }
    for release in sorted(releases_dir(wd.published_db).glob("*.duckdb")):
        found = _count_published(release, keys, settings.research_key())
        remaining.update({f"{release.name}: {t}": n for t, n in found.items()})
    left = sorted(t for t, n in remaining.items() if n)
    if left:
        raise ErasureIncomplete(f"erased persons are still found in: {', '.join(left)}")
    ledger.record_erasures_finished(settings.warehouse)
    say(f"erasure log applied to every layer: {len(keys)} erased person(s) found nowhere")


def erase(settings: Settings, requests: list[Request], say: Callable[[str], None]) -> ErasureResult:
    """Apply erasure requests to the work folder of `settings` and publish without them.

    The request is logged and applied to the raw layer in one transaction; every later run
    honours the log (reentry.pipeline: a rebuild, a publish keeping no previous version, then
    finish_erasures), so an erasure killed at any moment is finished by the next run or by
    repeating it."""
    from .pipeline import run_pipeline

    wd = settings.paths
    if not settings.warehouse.exists():
        raise FileNotFoundError(
            f"no work database at {settings.warehouse.describe()}: nothing to erase from"
        )
    key, research_key = settings.pseudonym_key(), settings.research_key()
    check_key(settings.warehouse, key)  # another key would find no one and report success
    pairs = pseudonymise(requests, key)
    keys = sorted({k for k, _ in pairs})
    result = ErasureResult(requests=len(requests), newly_logged=0)
    before_work = _count_work(settings.warehouse, keys)
    before_published = _count_published(wd.published_db, keys, research_key)
    say(f"{len(keys)} person(s) to erase; pseudonymised, logged with the request date")
    result.newly_logged, removed = _apply(settings.warehouse, pairs)
    moment("erase:logged")
    result.removed = {table: n for table, n in removed.items()}
    say(f"raw history and quarantine: {sum(removed.values()):,} rows removed; rebuilding")
    # The release without them keeps the data cut-off of the release it replaces.
    if settings.as_of is None:
        settings = replace(settings, as_of=ledger.last_as_of(settings.warehouse))
    run_pipeline(settings, say, command="erase")  # ends with finish_erasures
    for table, n in before_work.items():
        if not table.startswith(("raw.", "ingest.")):
            result.removed[table] = n
    for table, n in before_published.items():
        result.removed[table] = n
    result.remaining = {
        **_count_work(settings.warehouse, keys),
        **_count_published(wd.published_db, keys, research_key),
    }
    left = sorted(t for t, n in result.remaining.items() if n)
    if left:
        raise ErasureIncomplete(f"erased persons are still found in: {', '.join(left)}")
    return result


LAYERS = (
    "raw history",
    "quarantine",
    "work database (staging, intermediate, marts)",
    "published database",
)


def _layer(table: str) -> str:
    if table.startswith("raw."):
        return LAYERS[0]
    if table.startswith("ingest."):
        return LAYERS[1]
    return LAYERS[3] if table.startswith("published ") else LAYERS[2]


def format_result(result: ErasureResult) -> str:
    """Rows removed per layer and table, for the terminal."""
    out = [f"Erasure: {result.requests} request(s), {result.newly_logged} newly logged"]
    width = max([len(t) for t in result.removed] + [10]) + 2
    for layer in LAYERS:
        tables = sorted(t for t in result.removed if _layer(t) == layer)
        total = sum(result.removed[t] for t in tables)
        out += ["", f"{layer}: {total:,} rows removed"]
        out += [f"  {t:<{width}}{result.removed[t]:>10,}" for t in tables]
    out += [
        "",
        f"Checked afterwards: {len(result.remaining)} tables of the work and published "
        "databases that hold persons hold none of them",
    ]
    return "\n".join(out)
