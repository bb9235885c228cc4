"""Privacy operations: erasure in every layer, no resurrection, archive and retention, keys."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from reentry.cli import main
from reentry.files import sha256_file
from reentry.ingest.erasure import (
    ErasureRequestError,
    Request,
    apply_erasures,
    log_erasures,
    pseudonymise,
    read_requests,
)
from reentry.ingest.load import ingest, purge_archive
from reentry.ingest.warehouse import WH
from reentry.pipeline import run_pipeline
from reentry.pseudonym import KEY_ENV, RESEARCH_KEY_ENV, PseudonymKey, hmac_sql
from reentry.settings import Workdir
from reentry.status import status_text

from .conftest import TEST_KEY, Landing, erase_argv, query, settings_for
from .privacy_scan import found_in_text, landing_identifiers

INMATES = (
    "inmate_id,family_name,given_name,birth_date,sex\n"
    "A1,Müller,Hans,1980-02-01,m\n"
    "A2,Nowak,Piotr,1975-06-30,m\n"
    "A3,Brandt,,1979-01-01,m\n"
)
EPISODES = (
    "episode_id,inmate_id,admission_date,admission_type,release_date\n"
    "E1,A1,2004-01-05,sentence,2004-06-30\n"
    "E2,A2,2004-02-01,sentence,2004-08-31\n"
    "E3,A1,2004-09-01,sentence,\n"
)
PARTICIPANTS = (
    "client_id,family_name,given_name,birth_date,referring_prison,intake_date,"
    "consent\n"
    "C1,MUELLER,Hans,1980-02-01,jva-a,2004-05-01,yes\n"
    "C2,Schulz,Eva,1982-03-03,jva-a,2004-05-02,yes\n"
)
PLACEMENTS = (
    "placement_id,client_id,placement_type,arranged_date\n"
    "P1,C1,employment,2004-07-01\n"
    "P2,C2,employment,2004-07-02\n"
)
HANS = Request("Müller", "Hans", "1980-02-01", date(2005, 3, 1))


def _landing(landing: Landing) -> Landing:
    landing.source("jva-a", "prison")
    landing.source("chance", "partner")
    landing.file("jva-a", "inmates.2005-01-31.csv", INMATES)
    landing.file("jva-a", "custody_episodes.2005-01-31.csv", EPISODES)
    landing.file("chance", "participants.2005-01-31.csv", PARTICIPANTS)
    landing.file("chance", "placements.2005-01-31.csv", PLACEMENTS)
    return landing


def _erase(work_db: Path, requests: list[Request]) -> dict[str, int]:
    con = duckdb.connect()
    con.execute(f"attach '{work_db}' as {WH}")
    try:
        log_erasures(con, WH, pseudonymise(requests, TEST_KEY))
        return apply_erasures(con, WH)
    finally:
        con.close()


def test_request_is_pseudonymised_like_ingestion(landing: Landing, work_db) -> None:
    ingest(_landing(landing).root, work_db, TEST_KEY)
    [(key, requested)] = pseudonymise([HANS], TEST_KEY)
    assert requested == date(2005, 3, 1)
    # spelled as the partner spells it, the same pseudonym as the prison's row
    [(other, _)] = pseudonymise([Request("MUELLER", "hans", "1980-02-01", date.today())], TEST_KEY)
    assert other == key
    assert query(
        work_db,
        "select _source_id from raw.inmates where person_key = ? union all "
        "select _source_id from raw.participants where person_key = ?",
        [key, key],
    ) == [("jva-a",), ("chance",)]


def test_erasure_removes_the_person_and_their_unnamed_rows(landing: Landing, work_db) -> None:
    ingest(_landing(landing).root, work_db, TEST_KEY)
    removed = _erase(work_db, [HANS])
    assert removed == {
        "raw.inmates": 1,
        "raw.custody_episodes": 2,
        "raw.prison_measures": 0,
        "raw.participants": 1,
        "raw.placements": 1,
        "raw.aftercare_contacts": 0,
        "raw.register_entries": 0,
        "ingest.quarantine": 0,
    }
    assert query(work_db, "select inmate_id from raw.inmates order by 1") == [("A2",)]
    assert query(work_db, "select episode_id from raw.custody_episodes") == [("E2",)]
    assert query(work_db, "select client_id from raw.participants") == [("C2",)]
    assert query(work_db, "select placement_id from raw.placements") == [("P2",)]
    # each file's counts: what went for erasure is counted, and the rows still add up
    rows = query(
        work_db,
        "select file_name, n_received, n_loaded, n_quarantined, n_erased, "
        "n_current + n_superseded from ingest.load_report order by 1",
    )
    assert [(f, e) for f, _r, _l, _q, e, _c in rows] == [
        ("chance/participants.2005-01-31.csv", 1),
        ("chance/placements.2005-01-31.csv", 1),
        ("jva-a/custody_episodes.2005-01-31.csv", 2),
        ("jva-a/inmates.2005-01-31.csv", 1),
    ]
    for name, received, loaded, quarantined, erased, current in rows:
        assert received == loaded + quarantined + erased, name
        assert loaded == current, name
    # the log holds the pseudonym and the request date, nothing else
    assert query(
        work_db,
        "select column_name from duckdb_columns() where schema_name = "
        "'ingest' and table_name = 'erasures' order by column_index",
    ) == [("person_key",), ("requested_on",), ("erased_at",)]
    assert _erase(work_db, [HANS]) == dict.fromkeys(removed, 0)  # idempotent


def test_redelivered_and_new_files_never_bring_them_back(landing: Landing, work_db) -> None:
    _landing(landing)
    ingest(landing.root, work_db, TEST_KEY)
    _erase(work_db, [HANS])
    # The prison sends episodes before the inmate list in the same run (ingestion order is
    # by name), one new episode of Hans under a new number; the partner re-sends its file.
    landing.file(
        "jva-a", "custody_episodes.2005-02-28.csv", EPISODES + "E4,A9,2005-02-01,remand,\n"
    )
    landing.file("jva-a", "inmates.2005-02-28.csv", INMATES + "A9,Mueller,Hans,1980-02-01,m\n")
    landing.file(
        "chance",
        "participants.2005-02-28.csv",
        PARTICIPANTS + "C3,Klein,Otto,1970-04-04,jva-a,2005-02-01,yes\n",
    )
    report = ingest(landing.root, work_db, TEST_KEY)
    erased = {f.file_name: f.n_erased for f in report.files if f.status == "loaded"}
    assert erased == {
        "jva-a/custody_episodes.2005-02-28.csv": 3,
        "jva-a/inmates.2005-02-28.csv": 2,
        "chance/participants.2005-02-28.csv": 1,
    }
    [(key, _)] = pseudonymise([HANS], TEST_KEY)
    for table in ("inmates", "participants"):
        assert query(work_db, f"select count(*) from raw.{table} where person_key = ?", [key]) == [
            (0,)
        ]
    assert query(work_db, "select distinct inmate_id from raw.custody_episodes order by 1") == [
        ("A2",)
    ]
    assert query(
        work_db,
        "select n_erased from ingest.load_report where file_name = 'jva-a/inmates.2005-02-28.csv'",
    ) == [(2,)]


def test_quarantined_rows_of_an_erased_person_go_too(landing: Landing, work_db) -> None:
    landing.source("jva-a", "prison")
    landing.file(
        "jva-a", "inmates.2005-01-31.csv", INMATES + "A1,Müller,Hans,1980-02-01,q\n"
    )  # duplicate key, bad code
    landing.file(
        "jva-a", "custody_episodes.2005-01-31.csv", EPISODES + "E9,A1,not-a-date,sentence,\n"
    )
    ingest(landing.root, work_db, TEST_KEY)
    before = query(work_db, "select count(*) from ingest.quarantine")[0][0]
    removed = _erase(work_db, [HANS])
    # both A1 rows were quarantined as duplicates; the episode is found by its inmate number
    assert removed["ingest.quarantine"] == 3
    assert query(work_db, "select count(*) from ingest.quarantine") == [(before - 3,)]


def test_request_file_errors_name_lines_not_values(tmp_path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(
        "family_name,given_name,birth_date,requested_on\n"
        "Müller,Hans,1980-02-01,2005-03-01\nNowak,Piotr,1975-06-30,\n",
        encoding="utf-8",
    )
    requests = read_requests(path, date(2006, 1, 1))
    assert [r.requested_on for r in requests] == [date(2005, 3, 1), date(2006, 1, 1)]
    assert "Müller" not in repr(requests)
    path.write_text("family_name,given_name,birth_date\nMüller,Hans,01.02.1980\n", encoding="utf-8")
    with pytest.raises(ErasureRequestError) as bad:
        pseudonymise(read_requests(path, date(2006, 1, 1)), TEST_KEY)
    assert "request number 1" in str(bad.value)
    assert "Müller" not in str(bad.value) and "1980" not in str(bad.value)
    path.write_text("name,birth_date\nMüller Hans,1980-02-01\n", encoding="utf-8")
    with pytest.raises(ErasureRequestError, match="lacks the column.s. family_name, given_name"):
        read_requests(path, date(2006, 1, 1))


def test_ingested_files_move_to_the_archive_and_retention_deletes_them(
    landing: Landing, tmp_path
) -> None:
    wd = Workdir(tmp_path / "w")
    _landing(landing)
    landing.file("jva-a", "prison_measures.2005-01-31.csv", "no header we know\n")  # rejected
    ingest(landing.root, wd.work_db, TEST_KEY, archive=wd.archive, retention_days=30)
    # held files left the landing folder; the rejected one stays there for someone to look at
    left = sorted(p.relative_to(landing.root).as_posix() for p in landing.root.glob("*/*.csv"))
    assert left == ["jva-a/prison_measures.2005-01-31.csv"]
    assert (wd.archive / "jva-a" / "inmates.2005-01-31.csv").read_text(encoding="utf-8") == INMATES
    assert (wd.archive / "sources.yml").exists()
    # the archive is a landing folder again (e.g. to re-ingest after a key change)
    again = ingest(wd.archive, tmp_path / "again.duckdb", TEST_KEY)
    assert sorted(f.status for f in again.files) == ["loaded"] * 4
    # a corrected file under the same name: the older copy is kept under another name
    landing.file("jva-a", "inmates.2005-01-31.csv", INMATES.replace("Piotr", "Pjotr"))
    ingest(landing.root, wd.work_db, TEST_KEY, archive=wd.archive, retention_days=30)
    held = query(
        wd.work_db, "select archive_name from ingest.archive where deleted_at is null order by 1"
    )
    assert len(held) == 5 and any(n.startswith("jva-a/inmates.2005-01-31.csv.") for (n,) in held)
    # the listing holds file names, sizes and times, never a name or birth date
    ids = landing_identifiers(wd.archive)
    assert {"nowak", "brandt", "schulz"} <= ids.name_tokens
    listing = "\n".join(str(r) for r in query(wd.work_db, "select * from ingest.archive"))
    status = status_text(wd, retention_days=30)
    assert not found_in_text(listing + status, ids)
    assert "archive" in status and "5 files" in status and "retention 30 days" in status
    # retention: nothing is due yet; 31 days on, everything archived is deleted
    con = duckdb.connect()
    con.execute(f"attach '{wd.work_db}' as {WH}")
    try:
        assert purge_archive(con, wd.archive, 30) == 0
        assert purge_archive(con, wd.archive, 30, now=datetime.now() + timedelta(days=31)) == 5
    finally:
        con.close()
    assert not [p for p in wd.archive.rglob("*.csv")]
    assert "deleted by retention: 5 files" in status_text(wd, retention_days=30)


def test_short_key_outside_demo_mode_stops_with_a_message(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    landing = Landing(tmp_path / "landing")
    _landing(landing)
    monkeypatch.setenv(KEY_ENV, "short-secret-1")
    monkeypatch.setenv(RESEARCH_KEY_ENV, "r" * 40)
    for argv in (
        ["run", "--landing", str(landing.root), "--workdir", str(tmp_path / "w")],
        ["ingest", "--landing", str(landing.root), "--workdir", str(tmp_path / "w")],
        [
            "erase",
            "--workdir",
            str(tmp_path / "w"),
            "--family-name",
            "X",
            "--given-name",
            "Y",
            "--birth-date",
            "1980-01-01",
            "--landing",
            str(landing.root),
        ],
    ):
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 2, argv
        assert "is 14 bytes; at least 32 are required" in captured.err
        assert "short-secret-1" not in captured.err + captured.out
    assert not (tmp_path / "w" / "work").exists()
    assert sorted(p.name for p in (landing.root / "jva-a").iterdir()) == [  # nothing moved
        "custody_episodes.2005-01-31.csv",
        "inmates.2005-01-31.csv",
    ]


# --- the whole pipeline: erase one person of the demo ---------------------------------------


def _demo_person(root: Path) -> Request:
    """A person of the built demo who is in a prison, a partner's and the register's files:
    the first reference-layout participant whose pseudonym is in all three raw tables."""
    archive = root / "archive"
    registry = yaml.safe_load((archive / "sources.yml").read_text(encoding="utf-8"))
    reference = [
        s["id"]
        for s in registry["sources"]
        if s["kind"] == "partner" and s.get("layout", "reference") == "reference"
    ]
    frames = [
        pl.read_csv(p, infer_schema=False, truncate_ragged_lines=True, ignore_errors=True).select(
            "family_name", "given_name", "birth_date"
        )
        for s in reference
        for p in sorted((archive / s).glob("participants.*.csv"))
    ]
    people = (
        pl.concat(frames)
        .drop_nulls()
        .unique()
        .filter(
            pl.col("birth_date").str.to_date("%Y-%m-%d", strict=False).is_not_null(),
            pl.col("family_name").str.contains("^[A-Za-z]+$"),
            pl.col("given_name").str.contains("^[A-Za-z]+$"),
        )
        .sort("family_name", "given_name", "birth_date")
        .head(400)
    )
    assert people.height > 50
    requests = [Request(*row, requested_on=date(2010, 1, 15)) for row in people.iter_rows()]
    keys = [k for k, _ in pseudonymise(requests, TEST_KEY)]
    everywhere = {
        r[0]
        for r in query(
            root / "work" / "warehouse.duckdb",
            "select person_key from raw.participants intersect select person_key from raw.inmates "
            "intersect select person_key from raw.register_entries "
            "intersect select person_key from marts.releases",
        )
    }
    return next(r for r, k in zip(requests, keys, strict=True) if k in everywhere)


def _tables_holding(database: Path, values: list[str]) -> dict[str, int]:
    """Every text column of every table: rows equal to one of `values`."""
    con = duckdb.connect(str(database), read_only=True)
    found: dict[str, int] = {}
    try:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where data_type = 'VARCHAR' and database_name = current_database() "
            "and (schema_name, table_name) in (select schema_name, table_name from "
            "duckdb_tables() where database_name = current_database())"
        ).fetchall()
        assert len(columns) > 20
        for schema, table, column in columns:
            (n,) = con.execute(
                f'select count(*) from "{schema}"."{table}" where "{column}" in (select unnest(?))',
                [values],
            ).fetchone()
            if n:
                found[f"{schema}.{table}.{column}"] = n
    finally:
        con.close()
    return found


def _person_rows(published: Path, research_key: bytes, key: str) -> dict[str, tuple[int, int]]:
    """(rows, rows of the person) per published person-level table: those with a person key,
    and those keyed by a release or placement of theirs."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        (rekeyed,) = con.execute(
            f"select {hmac_sql('$k')}", {"k": key, **PseudonymKey(research_key).pads()}
        ).fetchone()
        columns = {}
        for table, column in con.execute(
            "select table_name, column_name from duckdb_columns() where schema_name = "
            "'marts' and column_name in ('person_key', 'release_id', 'placement_id')"
        ).fetchall():
            columns.setdefault(table, set()).add(column)
        mine = {
            "person_key": "person_key = $p",
            "release_id": "release_id in (select release_id from marts.releases "
            "where person_key = $p)",
            "placement_id": "placement_id in (select placement_id from marts.placements "
            "where person_key = $p)",
        }
        out = {}
        for table, cols in columns.items():
            column = next(c for c in mine if c in cols)
            out[table] = con.execute(
                f"select count(*), count(*) filter (where {mine[column]}) from marts.{table}",
                {"p": rekeyed},
            ).fetchone()
        return out
    finally:
        con.close()


def test_erase_one_demo_person_from_every_layer(copied_demo, demo_keys, capsys) -> None:
    root = copied_demo
    work, published = root / "work" / "warehouse.duckdb", root / "published" / "warehouse.duckdb"
    person = _demo_person(root)
    [(key, _)] = pseudonymise([person], TEST_KEY)
    research = demo_keys["research_key_file"].read_bytes()
    before = _person_rows(published, research, key)
    assert before["releases"][1] >= 1 and before["recidivism"][1] >= 1
    code = main(erase_argv(root, root / "landing", demo_keys, person))
    out = capsys.readouterr().out
    assert code == 0
    # per layer counts, nothing identifying
    assert "raw.inmates" in out and "raw.register_entries" in out and "published" in out
    for secret in (person.family_name, person.given_name, person.birth_date, key):
        assert secret not in out
    # the published counts drop by exactly their rows
    after = _person_rows(published, research, key)
    assert {t: n for t, (n, _mine) in after.items()} == {
        t: n - mine for t, (n, mine) in before.items()
    }
    assert not published.with_name("warehouse.previous.duckdb").exists()
    # The releases published before are withdrawn, their files deleted, and it is said; the
    # release without them is the published file.
    from reentry.publish.releases import list_releases
    from reentry.store import Warehouse

    *earlier, current = list_releases(Warehouse("file", path=work))
    assert earlier and all(r.withdrawn_at and "erased" in r.withdrawn_reason for r in earlier)
    assert not any((published.parent / r.path).exists() for r in earlier)
    assert not current.withdrawn_at and current.data_version == sha256_file(published)
    assert "withdrawn" in out
    # no table of any database holds their pseudonym (internal or as published), except
    # the erasure log, which holds it with the request date only
    [(rekeyed,)] = (
        duckdb.connect()
        .execute(f"select {hmac_sql('$k')}", {"k": key, **PseudonymKey(research).pads()})
        .fetchall()
    )
    databases = [p for p in root.rglob("*") if p.is_file() and p.read_bytes()[8:12] == b"DUCK"]
    assert work in databases and published in databases
    for database in databases:
        found = _tables_holding(database, [key, rekeyed])
        expected = {"ingest.erasures.person_key": 1} if database == work else {}
        assert found == expected, database
    assert query(work, "select requested_on::varchar from ingest.erasures") == [("2010-01-15",)]

    # A source re-sends its newest list with them (inmates if their prison's file is a
    # reference-layout CSV, else the partner's participants), one row shorter (new bytes).
    def holds_person(line: bytes) -> bool:
        text = line.decode("utf-8", errors="ignore")
        return all(v in text for v in (person.family_name, person.given_name, person.birth_date))

    def candidates(entity: str) -> list[Path]:
        return [
            p
            for p in sorted((root / "archive").glob(f"*/{entity}.*.csv"))
            if any(holds_person(ln) for ln in p.read_bytes().splitlines())
        ]

    source_file = (candidates("inmates") or candidates("participants"))[-1]
    entity, day, ext = source_file.name.split(".")
    resent = root / "landing" / source_file.parent.name / f"{entity}.{day[:-2]}29.{ext}"
    resent.parent.mkdir(parents=True, exist_ok=True)
    lines = source_file.read_bytes().splitlines(keepends=True)
    drop = next(i for i in range(len(lines) - 1, 0, -1) if not holds_person(lines[i]))
    resent.write_bytes(b"".join(lines[:drop] + lines[drop + 1 :]))
    run_pipeline(settings_for(root, demo_keys), lambda _m: None)
    rel = resent.relative_to(root / "landing").as_posix()
    [(status, received, loaded, quarantined, erased)] = query(
        work,
        "select status, n_received, n_loaded, n_quarantined, n_erased "
        "from ingest.files where file_name = ?",
        [rel],
    )
    assert status == "loaded" and erased >= 1
    assert received == loaded + quarantined + erased
    for database in (work, published):
        expected = {"ingest.erasures.person_key": 1} if database == work else {}
        assert _tables_holding(database, [key, rekeyed]) == expected
    # the erasure log and the archive listing hold no names
    ids = landing_identifiers(root / "archive")
    log = query(work, "select * from ingest.erasures") + query(work, "select * from ingest.archive")
    assert not found_in_text("\n".join(map(str, log)), ids)
    assert person.family_name.lower() not in status_text(Workdir(root)).lower()
    shutil.rmtree(root / "archive")  # keep the temp folder small
