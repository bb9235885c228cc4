"""Erasure: a person who asked to be forgotten leaves every layer and never comes back.

The erasure log `ingest.erasures` holds the person's pseudonym and the request date, nothing
else. Rows without a name (custody episodes, measures, placements, contacts) belong to a
person only through their source's record number (`inmate_id`, `client_id`), so the source
record numbers the person had are kept beside the log in `ingest.erased_records`: keys of
their own source's rows, as privacy.md allows, and the only way to recognise an unnamed row
of an erased person that arrives later.

`apply_erasures` is idempotent and runs on every erasure request and at the end of every
ingestion run, so a re-delivered file, or a new one that still holds the person, is dropped
again; each file's manifest row says how many of its rows went for erasure (`n_erased`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from reentry.contract import ENTITIES
from reentry.pseudonym import PseudonymKey, pseudonym_sql

# Entities whose rows name a person, and the source record number that other entities use.
PERSON_RECORDS = {"inmates": "inmate_id", "participants": "client_id"}
# Unnamed entities -> (the named entity of the same source, the linking column).
LINKED = {
    "custody_episodes": ("inmates", "inmate_id"),
    "prison_measures": ("inmates", "inmate_id"),
    "placements": ("participants", "client_id"),
    "aftercare_contacts": ("participants", "client_id"),
}
REQUEST_COLUMNS = ("family_name", "given_name", "birth_date")


class ErasureRequestError(Exception):
    """A request that cannot be pseudonymised; the message names lines, never values."""


@dataclass(frozen=True)
class Request:
    family_name: str
    given_name: str
    birth_date: str  # YYYY-MM-DD
    requested_on: date

    def __repr__(self) -> str:  # never print a name
        return f"Request(<hidden>, requested_on={self.requested_on})"


def erasure_schema(db: str) -> list[str]:
    """The erasure log's tables (part of reentry.ingest.warehouse.ensure_schema)."""
    return [
        f"""
        create table if not exists {db}.ingest.erasures (
            person_key varchar primary key,      -- pseudonym of the erased person
            requested_on date not null,          -- date of the request
            erased_at timestamp not null         -- when the warehouse applied it
        )""",
        f"""
        create table if not exists {db}.ingest.erased_records (
            source_id varchar not null,
            entity varchar not null,             -- inmates | participants
            record_id varchar not null,          -- inmate_id | client_id in that source
            primary key (source_id, entity, record_id)
        )""",
        # The loads the erasure log has been applied to, up to which (reentry.ingest.load).
        f"create table if not exists {db}.ingest.erasure_checks "
        "(checked_through bigint not null, checked_at timestamp not null)",
    ]


def pseudonymise(requests: list[Request], key: PseudonymKey) -> list[tuple[str, date]]:
    """(pseudonym, request date) per request, computed exactly as ingestion computes it."""
    con = duckdb.connect()
    try:
        con.execute(
            "create table req (family_name varchar, given_name varchar, "
            "birth_date varchar, requested_on date, n integer)"
        )
        con.executemany(
            "insert into req values (?, ?, ?, ?, ?)",
            [
                [r.family_name, r.given_name, r.birth_date, r.requested_on, i]
                for i, r in enumerate(requests)
            ],
        )
        rows = con.execute(
            f"""
            select n, try_strptime(birth_date, '%Y-%m-%d') is null
                      or regexp_replace(upper(strip_accents(family_name)), '[^A-Z0-9]', '', 'g')
                         = ''
                      or regexp_replace(upper(strip_accents(given_name)), '[^A-Z0-9]', '', 'g')
                         = '' as bad,
                   {
                pseudonym_sql(
                    "family_name",
                    "given_name",
                    "cast(try_strptime(birth_date, '%Y-%m-%d') as date)",
                )
            },
                   requested_on
            from req order by n
            """,
            key.pads(),
        ).fetchall()
    finally:
        con.close()
    bad = [n for n, is_bad, _k, _d in rows if is_bad]
    if bad:
        raise ErasureRequestError(
            f"{len(bad)} request(s) without a usable family name, given name and birth date "
            f"YYYY-MM-DD (request number {', '.join(str(n + 1) for n in bad[:10])})"
        )
    return [(k, d) for _n, _bad, k, d in rows]


def read_requests(path: Path, today: date) -> list[Request]:
    """A CSV of requests: family_name, given_name, birth_date[, requested_on]."""
    con = duckdb.connect()
    try:
        try:
            con.execute(
                f"create table r as select * from read_csv('{path}', all_varchar = true, "
                "header = true, auto_detect = true)"
            )
        except duckdb.Error as exc:
            raise ErasureRequestError(
                f"cannot read the request file {path} ({type(exc).__name__})"
            ) from None
        columns = [c.lower() for c, *_ in con.execute("describe r").fetchall()]
        missing = [c for c in REQUEST_COLUMNS if c not in columns]
        if missing:
            raise ErasureRequestError(
                f"the request file {path} lacks the column(s) {', '.join(missing)} "
                f"(needs {', '.join(REQUEST_COLUMNS)}, optionally requested_on)"
            )
        requested = "requested_on" if "requested_on" in columns else "null"
        rows = con.execute(
            f"select family_name, given_name, birth_date, {requested}::varchar from r"
        ).fetchall()
    finally:
        con.close()
    out = []
    for i, (family, given, birth, on) in enumerate(rows, 2):
        try:
            when = date.fromisoformat(on.strip()) if on and on.strip() else today
        except ValueError:
            raise ErasureRequestError(
                f"line {i} of {path}: requested_on is not a date YYYY-MM-DD"
            ) from None
        out.append(Request(family or "", given or "", (birth or "").strip(), when))
    if not out:
        raise ErasureRequestError(f"the request file {path} holds no requests")
    return out


def log_erasures(con: duckdb.DuckDBPyConnection, db: str, keys: list[tuple[str, date]]) -> int:
    """Add pseudonyms to the erasure log; return how many were new."""
    # Without relying on a key conflict (a lake has no keys): the first request of a person
    # not yet in the log is added.
    before = con.execute(f"select count(*) from {db}.ingest.erasures").fetchone()[0]
    con.execute(
        f"""
        insert into {db}.ingest.erasures
        select person_key, min(requested_on), now()::timestamp
        from (select unnest($k::varchar[]) as person_key, unnest($d::date[]) as requested_on)
        where person_key not in (select person_key from {db}.ingest.erasures)
        group by person_key
        """,
        {"k": [k for k, _ in keys], "d": [d for _, d in keys]},
    )
    return con.execute(f"select count(*) from {db}.ingest.erasures").fetchone()[0] - before


def _person_match(db: str, entity: str, alias: str = "r") -> str:
    """SQL condition: row `alias` of raw `entity` belongs to an erased person."""
    if entity in LINKED:
        named, column = LINKED[entity]
        return (
            f"exists (select 1 from {db}.ingest.erased_records e where e.entity = '{named}' "
            f"and e.source_id = {alias}._source_id and e.record_id = {alias}.{column})"
        )
    cond = f"{alias}.person_key in (select person_key from {db}.ingest.erasures)"
    if entity in PERSON_RECORDS:
        column = PERSON_RECORDS[entity]
        cond += (
            f" or exists (select 1 from {db}.ingest.erased_records e "
            f"where e.entity = '{entity}' and e.source_id = {alias}._source_id "
            f"and e.record_id = {alias}.{column})"
        )
    return cond


def _quarantine_match(db: str, alias: str = "q") -> str:
    """SQL condition: quarantined row `alias` belongs to an erased person (by pseudonym, or by
    the source record number kept in its non-identifying fields)."""
    parts = [f"{alias}.person_key in (select person_key from {db}.ingest.erasures)"]
    for entity, (named, column) in {
        **LINKED,
        **{e: (e, c) for e, c in PERSON_RECORDS.items()},
    }.items():
        parts.append(
            f"({alias}.entity = '{entity}' and exists (select 1 from {db}.ingest.erased_records e "
            f"where e.entity = '{named}' and e.source_id = {alias}.source_id "
            f"and e.record_id = ({alias}.record ->> '{column}')))"
        )
    return " or ".join(parts)


def record_erased_ids(con: duckdb.DuckDBPyConnection, db: str, since_load: int = 0) -> None:
    """Remember the source record numbers of erased persons, from raw rows and quarantine
    (of loads from `since_load` on)."""
    for entity, column in PERSON_RECORDS.items():
        con.execute(
            f"""
            insert into {db}.ingest.erased_records
            select _source_id, '{entity}', {column} from {db}.raw.{entity}
            where _load_id >= {since_load} and {column} is not null
              and person_key in (select person_key from {db}.ingest.erasures)
            union
            select source_id, '{entity}', record ->> '{column}'
            from {db}.ingest.quarantine
            where load_id >= {since_load} and entity = '{entity}'
              and (record ->> '{column}') is not null
              and person_key in (select person_key from {db}.ingest.erasures)
            except
            select source_id, entity, record_id from {db}.ingest.erased_records
            """
        )


def has_erasures(con: duckdb.DuckDBPyConnection, db: str) -> bool:
    return con.execute(f"select count(*) > 0 from {db}.ingest.erasures").fetchone()[0]


def apply_erasures(con: duckdb.DuckDBPyConnection, db: str, since_load: int = 0) -> dict[str, int]:
    """Delete every raw and quarantined row of every erased person (in loads from
    `since_load` on: an ingestion run checks only its own loads), move the counts of their
    files from loaded/quarantined to erased, and return rows deleted per table."""
    record_erased_ids(con, db, since_load)
    counts: dict[str, int] = {}
    con.execute(
        "create or replace temp table _erased_by_load (load_id bigint, "
        "n_loaded bigint, n_quarantined bigint)"
    )
    for entity in ENTITIES:
        match = f"r._load_id >= {since_load} and ({_person_match(db, entity)})"
        con.execute(
            f"insert into _erased_by_load select _load_id, count(*), 0 "
            f"from {db}.raw.{entity} r where {match} group by 1"
        )
        counts[f"raw.{entity}"] = con.execute(
            f"delete from {db}.raw.{entity} r where {match}"
        ).fetchone()[0]
    match = f"q.load_id >= {since_load} and ({_quarantine_match(db)})"
    con.execute(
        f"insert into _erased_by_load select load_id, 0, count(*) "
        f"from {db}.ingest.quarantine q where {match} group by 1"
    )
    counts["ingest.quarantine"] = con.execute(
        f"delete from {db}.ingest.quarantine q where {match}"
    ).fetchone()[0]
    con.execute(
        f"""
        update {db}.ingest.files f
        set n_loaded = f.n_loaded - e.n_loaded,
            n_quarantined = f.n_quarantined - e.n_quarantined,
            n_erased = coalesce(f.n_erased, 0) + e.n_loaded + e.n_quarantined
        from (select load_id, sum(n_loaded) as n_loaded, sum(n_quarantined) as n_quarantined
              from _erased_by_load group by 1) e
        where f.load_id = e.load_id
        """
    )
    con.execute("drop table _erased_by_load")
    return counts
