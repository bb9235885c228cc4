"""Ingestion on hand-made landing folders: every defect kind, idempotence, delivery semantics."""

from __future__ import annotations

import datetime as dt

import pytest
import xlsxwriter

from reentry.ingest.config import ConfigError
from reentry.ingest.load import ingest
from reentry.ingest.registry import load_registry

from .conftest import TEST_KEY, Landing, query

INMATES_HEADER = "inmate_id,family_name,given_name,birth_date,sex,nationality"
EPISODES_HEADER = (
    "episode_id,inmate_id,admission_date,admission_type,expected_release_date,release_date,"
    "release_type,sentence_days,offence_group"
)


def quarantine(db) -> dict[int, set[str]]:
    """Line -> set of reasons of every quarantined row."""
    rows = query(
        db, "select line, list_transform(problems, lambda p: p.reason) from ingest.quarantine"
    )
    return {line: set(reasons) for line, reasons in rows}


def test_every_defect_kind_lands_in_quarantine_with_its_reason(landing: Landing, work_db) -> None:
    landing.source("jva-a", "prison")
    landing.file(
        "jva-a",
        "custody_episodes.2005-01-31.csv",
        "\n".join(
            [
                EPISODES_HEADER,
                "E1,A1,2003-01-10,sentence,2004-01-10,2004-01-09,parole,365,property",  # 2 clean
                "E2,A1,2003-01-10,sentence,,2003-02-31,parole,365,property",  # 3 invalid date
                "E3,A1,,sentence,,,,,property",  # 4 missing
                "E4,A1,2003-01-10,sentence,,2004-01-09,Endstraffe,365,property",  # 5 unknown code
                "E5,A1,2003-01-10,sentence,,2004-01-09,parole,zwölf,property",  # 6 number
                "E6,A1,2003-01-10,sentence,,2002-12-31,parole,365,property",  # 7 date order
                "E7,A1,2006-03-01,remand,,,,,property",  # 8 after export
                "E8,A1,2003-01-10,sentence,,2004-01-09,parole,365,property",  # 9 duplicate
                # 10 duplicate
                "E8,A1,2003-01-10,sentence,,2004-01-09,end_of_sentence,365,property",
                "E9,A1,2003-01-10,sentence,,2004-01-09,parole,365,property,surplus",  # 11 malformed
                'E10,A1,"2003-01-10,sentence,,2004-01-09,parole,365,property',  # 12 malformed
                # 13 trimmed
                "  E11 , A1 , 2003-01-10 , Sentence ,, 2004-01-09 ,  PAROLE , 365 , drugs ",
                "E12,A1,2003-01-10,sentence,2009-01-01,,,,property",  # 14 clean
                "",
            ]
        ),
    )
    landing.file(
        "jva-a",
        "inmates.2005-01-31.csv",
        "\n".join(
            [
                INMATES_HEADER,
                "A1,Müller,Hans,1980-02-01,m,DE",
                "A2,Иванов,Иван,1980-02-01,m,RU",  # 3 no Latin letter left: cannot be linked
                "A3,Nowak,Jan,1850-01-01,m,PL",  # 4 implausible birth date
            ]
        ),
    )
    landing.file(
        "jva-a",
        "prison_measures.2005-01-31.csv",
        "measure_id,inmate_id,measure_type,start_date\nM1,A1,school,2003-02-01\n"
        "M2,A1,school,2003-02-01\n",
    )
    # A cp1252 byte in a UTF-8 file.
    (landing.root / "jva-a" / "prison_measures.2005-01-31.csv").write_bytes(
        b"measure_id,inmate_id,measure_type,start_date\nM1,A1,school,2003-02-01\n"
        b"M2,A1,Schulung f\xfcr alle,2003-02-01\n"
    )
    report = ingest(landing.root, work_db, TEST_KEY)
    assert report.count("loaded") == 3

    by_file = {
        r[0]: r[1:]
        for r in query(
            work_db, "select entity, n_received, n_loaded, n_quarantined from ingest.files"
        )
    }
    for received, loaded, quarantined in by_file.values():
        assert received == loaded + quarantined
    assert by_file["custody_episodes"] == (13, 3, 10)

    lines = dict(
        query(
            work_db,
            "select line, list_transform(problems, lambda p: p.reason) "
            "from ingest.quarantine where entity = 'custody_episodes'",
        )
    )
    expected = {
        3: "invalid_date",
        4: "missing_required",
        5: "unknown_code",
        6: "invalid_number",
        7: "date_order",
        8: "implausible_date",
        9: "duplicate_key",
        10: "duplicate_key",
        11: "malformed_line",
        12: "malformed_line",
    }
    assert {line: reasons[0] for line, reasons in lines.items()} == expected
    columns = dict(
        query(
            work_db,
            "select line, column_name from ingest.quarantine where entity = 'custody_episodes'",
        )
    )
    assert columns[3] == "release_date" and columns[5] == "release_type"
    assert columns[6] == "sentence_days" and columns[9] == "episode_id"

    trimmed = query(
        work_db,
        "select episode_id, inmate_id, admission_type, release_type, "
        "sentence_days, offence_group from raw.custody_episodes "
        "where _line = 13",
    )
    assert trimmed == [("E11", "A1", "sentence", "parole", 365, "drugs")]

    inmates = dict(
        query(work_db, "select line, reason from ingest.quarantine where entity = 'inmates'")
    )
    assert inmates == {3: "invalid_name", 4: "implausible_date"}
    assert query(
        work_db, "select line, reason from ingest.quarantine where entity = 'prison_measures'"
    ) == [(3, "invalid_encoding")]


def test_quarantine_never_holds_identifying_values(landing: Landing, work_db) -> None:
    landing.source("chance", "partner")
    landing.file(
        "chance",
        "participants.2005-01-31.csv",
        "\n".join(
            [
                "client_id,family_name,given_name,birth_date,intake_date,selection,consent",
                "C1,Wischnewski,Roswitha,1971-02-30,2004-03-01,accepted,yes",  # bad birth date
                "C2,,Roswitha,1971-02-03,2004-03-01,accepted,yes",  # name missing
                "C3,Wischnewski,Roswitha,1971-02-03,2004-03-01,angenommen,yes",  # unknown code
                "C4,Wischnewski,Roswitha,1971-02-03,2004-03-01,accepted,yes,x",  # malformed
            ]
        ),
    )
    ingest(landing.root, work_db, TEST_KEY)
    rows = query(work_db, "select * from ingest.quarantine")
    assert len(rows) == 4
    text = repr(rows)
    for secret in ("Wischnewski", "Roswitha", "1971-02-30", "1971-02-03"):
        assert secret not in text
    # Where name and birth date were valid, the row carries the pseudonym instead.
    keyed = query(work_db, "select line from ingest.quarantine where person_key is not null")
    assert keyed == [(4,)]


def test_reingest_is_idempotent(landing: Landing, work_db) -> None:
    landing.source("jva-a", "prison")
    landing.file(
        "jva-a",
        "inmates.2005-01-31.csv",
        f"{INMATES_HEADER}\nA1,Müller,Hans,1980-02-01,m,DE\nA2,Nowak,,1980-02-01,m,PL\n",
    )
    first = ingest(landing.root, work_db, TEST_KEY)
    snapshot = query(work_db, "select * from raw.inmates order by all")
    second = ingest(landing.root, work_db, TEST_KEY)
    assert first.count("loaded") == 1
    assert second.count("skipped") == 1 and second.count("loaded") == 0
    assert query(work_db, "select * from raw.inmates order by all") == snapshot
    assert query(work_db, "select count(*) from ingest.quarantine") == [(1,)]
    assert query(work_db, "select count(*) from ingest.files") == [(1,)]
    # The same bytes re-sent under another name are recorded as a duplicate delivery, once.
    (landing.root / "jva-a" / "inmates.2005-02-01.csv").write_bytes(
        (landing.root / "jva-a" / "inmates.2005-01-31.csv").read_bytes()
    )
    third = ingest(landing.root, work_db, TEST_KEY)
    assert [f.status for f in third.files] == ["skipped", "duplicate"]
    assert "same bytes as jva-a/inmates.2005-01-31.csv" in third.files[1].error
    assert [f.status for f in ingest(landing.root, work_db, TEST_KEY).files] == ["skipped"] * 2
    assert query(work_db, "select count(*) from raw.inmates") == [(1,)]
    # Identical bytes from another source are that source's own delivery.
    landing.source("jva-b", "prison")
    (landing.root / "jva-b").mkdir()
    (landing.root / "jva-b" / "inmates.2005-01-31.csv").write_bytes(
        (landing.root / "jva-a" / "inmates.2005-01-31.csv").read_bytes()
    )
    statuses = {f.file_name: f.status for f in ingest(landing.root, work_db, TEST_KEY).files}
    assert statuses["jva-b/inmates.2005-01-31.csv"] == "loaded"


def test_newer_full_snapshot_supersedes_and_counts_removed(landing: Landing, work_db) -> None:
    landing.source("jva-a", "prison")
    landing.file(
        "jva-a",
        "inmates.2004-12-31.csv",
        "\n".join(
            [
                INMATES_HEADER,
                "A1,Müller,Hans,1980-02-01,m,DE",
                "A2,Nowak,Jan,1975-03-03,m,PL",
                "A3,Kaya,Ali,1985-04-04,m,TR",
            ]
        ),
    )
    ingest(landing.root, work_db, TEST_KEY)
    landing.file(
        "jva-a",
        "inmates.2005-12-31.csv",
        "\n".join(
            [INMATES_HEADER, "A1,Müller,Hans,1980-02-01,m,DE", "A3,Kaya,Ali,1985-04-04,x,TR"]
        ),
    )
    report = ingest(landing.root, work_db, TEST_KEY)
    assert [(f.status, f.n_removed) for f in report.files if f.status != "skipped"] == [
        ("loaded", 1)
    ]
    assert query(work_db, "select inmate_id, sex from raw.inmates__current order by 1") == [
        ("A1", "m"),
        ("A3", "x"),
    ]
    assert query(work_db, "select count(*) from raw.inmates") == [(5,)]  # history kept
    report_rows = {
        r[0]: r[1:]
        for r in query(
            work_db,
            "select export_date::varchar, n_received, n_loaded, n_current, n_superseded, "
            "n_removed from ingest.load_report",
        )
    }
    assert report_rows["2004-12-31"] == (3, 3, 0, 3, 0)
    assert report_rows["2005-12-31"] == (2, 2, 2, 0, 1)
    # A snapshot that arrives late (older export date) changes nothing that is current.
    landing.file(
        "jva-a", "inmates.2005-06-30.csv", f"{INMATES_HEADER}\nA9,Late,Anna,1990-01-01,f,DE\n"
    )
    late = ingest(landing.root, work_db, TEST_KEY)
    assert [f.n_removed for f in late.files if f.status == "loaded"] == [0]
    assert query(work_db, "select inmate_id from raw.inmates__current order by 1") == [
        ("A1",),
        ("A3",),
    ]


def test_incremental_delivery_keeps_newest_version_per_key(landing: Landing, work_db) -> None:
    landing.source("chance", "partner", delivery={"placements": "incremental"})
    header = "placement_id,client_id,placement_type,arranged_date,start_date,end_date,end_reason"
    landing.file(
        "chance",
        "placements.2004-06-30.csv",
        f"{header}\nP1,C1,employment,2004-01-05,2004-02-01,,\n"
        "P2,C2,temp_work,2004-03-01,2004-03-15,,\n",
    )
    landing.file(
        "chance",
        "placements.2004-12-31.csv",
        f"{header}\nP1,C1,employment,2004-01-05,2004-02-01,2004-11-30,dropout\n",
    )
    report = ingest(landing.root, work_db, TEST_KEY)
    assert [f.n_removed for f in report.files] == [0, 0]
    assert query(
        work_db,
        "select placement_id, end_reason, _export_date::varchar "
        "from raw.placements__current order by 1",
    ) == [("P1", "dropout", "2004-12-31"), ("P2", None, "2004-06-30")]
    assert query(
        work_db, "select n_current, n_superseded from ingest.load_report order by export_date"
    ) == [(1, 1), (1, 0)]


def test_bad_files_never_stop_the_others(landing: Landing, work_db) -> None:
    landing.source("jva-a", "prison")
    landing.file("jva-a", "inmates.2005-01-31.csv", "inmate_id,given_name,birth_date\nA1,X,1\n")
    landing.file("jva-a", "custody_episodes.2005-01-31.csv", "")
    landing.file("jva-a", "inmates.31-01-2005.csv", INMATES_HEADER + "\n")
    landing.file("jva-a", "participants.2005-01-31.csv", "client_id\n")
    landing.file("jva-unknown", "inmates.2005-01-31.csv", INMATES_HEADER + "\n")
    landing.file(
        "jva-a",
        "prison_measures.2005-01-31.csv",
        "measure_id,inmate_id,start_date\nM1,A1,2004-01-01\n",
    )
    report = ingest(landing.root, work_db, TEST_KEY)
    outcome = {f.file_name: (f.status, f.error) for f in report.files}
    assert outcome["jva-a/prison_measures.2005-01-31.csv"] == ("loaded", None)
    status, error = outcome["jva-a/inmates.2005-01-31.csv"]
    assert status == "rejected" and "family_name" in error
    assert outcome["jva-a/custody_episodes.2005-01-31.csv"][0] == "rejected"
    assert "a header is required" in outcome["jva-a/custody_episodes.2005-01-31.csv"][1]
    assert "<entity>.<YYYY-MM-DD>" in outcome["jva-a/inmates.31-01-2005.csv"][1]
    assert "delivers inmates" in outcome["jva-a/participants.2005-01-31.csv"][1]
    assert "not a source" in outcome["jva-unknown/inmates.2005-01-31.csv"][1]
    # Unchanged bad files are reported again but not recorded twice.
    again = ingest(landing.root, work_db, TEST_KEY)
    assert again.count("rejected") == 2 and again.count("ignored") == 3
    assert query(work_db, "select count(*) from ingest.files where status <> 'loaded'") == [(5,)]


def test_german_cp1252_layout_is_read_through_its_mapping(landing: Landing, work_db) -> None:
    landing.layout(
        "de-test",
        {
            "encoding": "cp1252",
            "delimiter": ";",
            "date_formats": ["%d.%m.%Y"],
            "decimal": ",",
            "codes": {
                "release_type": {"Endstrafe": "end_of_sentence", "Bewährung": "parole"},
                "sex": {"männlich": "m", "weiblich": "f"},
            },
            "entities": {
                "inmates": {
                    "columns": {
                        "Buchungsnummer": "inmate_id",
                        "Familienname": "family_name",
                        "Vorname": "given_name",
                        "Geburtsdatum": "birth_date",
                        "Geschlecht": "sex",
                    }
                },
                "custody_episodes": {
                    "columns": {
                        "Aufnahme-Nr": "episode_id",
                        "Buchungsnummer": "inmate_id",
                        "Aufnahmedatum": "admission_date",
                        "Entlassungsdatum": "release_date",
                        "Entlassungsart": "release_type",
                        "Strafdauer": "sentence_days",
                    }
                },
            },
        },
    )
    landing.source("jva-de", "prison", layout="de-test")
    landing.source("bzr", "register")
    landing.file(
        "jva-de",
        "inmates.2005-01-31.csv",
        "Buchungsnummer;Familienname;Vorname;Geburtsdatum;Geschlecht;Bemerkung\n"
        "B1;Müller-Lüdenscheidt;Jürgen;04.03.1970;männlich;\n"
        'B2;"Groß; genannt Klein";Käthe;31.02.1970;weiblich;x\n',
        encoding="cp1252",
    )
    landing.file(
        "jva-de",
        "custody_episodes.2005-01-31.csv",
        "Aufnahme-Nr;Buchungsnummer;Aufnahmedatum;Entlassungsdatum;Entlassungsart;"
        "Strafdauer\nE1;B1;01.02.2003;01.02.2004;Bewährung;365\n"
        "E2;B1;01.02.2003;01.02.2004;Endstrafe;12,5\n",
        encoding="cp1252",
    )
    landing.file(
        "bzr",
        "register_entries.2005-06-30.csv",
        "entry_id,family_name,given_name,birth_date,offence_date,decision_date,"
        "decision_type,max_penalty_years\n"
        "R1,MUELLER LUEDENSCHEIDT,JUERGEN,1970-03-04,2004-05-01,2004-11-01,"
        "conviction,5.5\n",
    )
    ingest(landing.root, work_db, TEST_KEY)
    assert query(work_db, "select inmate_id, sex, birth_year from raw.inmates") == [
        ("B1", "m", 1970)
    ]
    assert query(work_db, "select line, reason from ingest.quarantine order by all") == [
        (3, "invalid_date"),
        (3, "invalid_number"),
    ]
    assert query(
        work_db, "select episode_id, release_type, release_date::varchar from raw.custody_episodes"
    ) == [("E1", "parole", "2004-02-01")]
    assert query(work_db, "select extra_columns from ingest.files where entity = 'inmates'") == [
        (["Bemerkung"],)
    ]
    # The umlaut spelling in the prison and the upper-case one in the register link.
    linked = query(
        work_db, "select count(*) from raw.inmates i join raw.register_entries r using (person_key)"
    )
    assert linked == [(1,)]
    assert query(work_db, "select max_penalty_years from raw.register_entries") == [(5.5,)]


def test_excel_workbook_is_read_through_its_mapping(landing: Landing, work_db) -> None:
    landing.layout(
        "xlsx-test",
        {
            "format": "xlsx",
            "date_formats": ["%d.%m.%Y"],
            "codes": {"placement_type": {"Zeitarbeit": "temp_work"}},
            "entities": {
                "placements": {
                    "sheet": "Einsätze",
                    "columns": {
                        "Einsatz": "placement_id",
                        "Kunde": "client_id",
                        "Art": "placement_type",
                        "Vereinbart": "arranged_date",
                        "Beginn": "start_date",
                        "Stunden": "hours_per_week",
                    },
                }
            },
        },
    )
    landing.source("zeit", "partner", layout="xlsx-test", partner_type="temp_agency")
    path = landing.root / "zeit" / "placements.2005-01-31.xlsx"
    path.parent.mkdir(parents=True)
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Einsätze")
    fmt = wb.add_format({"num_format": "dd.mm.yyyy"})
    ws.write_row(0, 0, ["Einsatz", "Kunde", "Art", "Vereinbart", "Beginn", "Stunden"])
    ws.write_row(1, 0, ["Z1", "K1", "Zeitarbeit"])
    ws.write_datetime(1, 3, dt.datetime(2004, 5, 3), fmt)
    ws.write_string(1, 4, "10.05.2004")  # a hand-typed text date
    ws.write_number(1, 5, 37.5)
    ws.write_row(3, 0, ["Z2", "K1", "Zeitarbeit", "31.02.2004"])  # row 3 left empty
    wb.close()
    ingest(landing.root, work_db, TEST_KEY)
    assert query(
        work_db,
        "select placement_id, placement_type, arranged_date::varchar, "
        "start_date::varchar, hours_per_week, _line from raw.placements",
    ) == [("Z1", "temp_work", "2004-05-03", "2004-05-10", 37.5, 2)]
    assert query(work_db, "select line, reason, column_name from ingest.quarantine") == [
        (4, "invalid_date", "arranged_date")
    ]


PROGRAMME = (
    "programmes:\n  - {id: mabis, name: M, country: DE, start: 2002-08-16, end: 2005-06-30}\n"
)


@pytest.mark.parametrize(
    ("registry", "fragment"),
    [
        (
            PROGRAMME + "sources:\n  - {id: jva-a, kind: prisn, programme: mabis, name: A}\n",
            "sources[0] (id jva-a).kind",
        ),
        (
            PROGRAMME + "sources:\n  - {id: jva-a, kind: prison, programme: mabis, name: A, "
            "layuot: x}\n",
            "sources[0] (id jva-a).layuot: unknown field",
        ),
        (
            PROGRAMME + "sources:\n  - {id: chance, kind: partner, programme: mabis, name: C}\n",
            "partner_type is required",
        ),
        (
            PROGRAMME + "sources:\n  - {id: jva-a, kind: prison, programme: mabis, name: A, "
            "layout: de}\n",
            "no layout mapping 'de'",
        ),
        (
            PROGRAMME + "sources:\n  - {id: JVA A, kind: prison, programme: mabis, name: A}\n",
            "is not a slug",
        ),
        (
            PROGRAMME + "sources:\n  - {id: a, kind: prison, programme: mabis, name: A,\n"
            "     delivery: {placements: full}}\n",
            "a prison delivers inmates",
        ),
        ("sources: [\n", "not valid YAML at line"),
        (
            "programmes:\n  - {id: p, name: P, country: Germany, start: 2002-01-01, "
            "end: 2003-01-01}\nsources:\n  - {id: a, kind: prison, programme: p, name: A}\n",
            "programmes[0] (id p).country: 'Germany' is not an ISO 3166-1",
        ),
        (
            "programmes:\n  - {id: p, name: P, country: DE, start: 2004-01-01, "
            "end: 2003-01-01}\nsources:\n  - {id: a, kind: prison, programme: p, name: A}\n",
            "end 2003-01-01 lies before start 2004-01-01",
        ),
    ],
)
def test_a_wrong_registry_names_file_and_field(tmp_path, registry: str, fragment: str) -> None:
    path = tmp_path / "sources.yml"
    path.write_text(registry, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_registry(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("registry", "fragment"),
    [
        (
            "sources:\n  - {id: jva-a, kind: prison, programme: mabis, name: A}\n",
            "no programme is declared",
        ),
        (
            PROGRAMME + "sources:\n  - {id: jva-a, kind: prison, programme: mabis, name: A}\n"
            "  - {id: bzr, kind: register, programme: [mabis, pilot], name: R}\n",
            "source bzr names programme 'pilot', which is not declared",
        ),
    ],
)
def test_programmes_missing_or_undeclared_stop_with_one_line(
    tmp_path, registry: str, fragment: str
) -> None:
    """exports.md: a registry without programmes, or a source naming an undeclared one, stops
    with one line naming the registry file (and the source)."""
    path = tmp_path / "sources.yml"
    path.write_text(registry, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_registry(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert fragment in message


def test_a_wrong_layout_names_file_and_field(landing: Landing) -> None:
    landing.layout(
        "de",
        {
            "entities": {"inmates": {"columns": {"Name": "nachname"}}},
            "codes": {"release_type": {"Endstrafe": "end_of_term"}},
        },
    )
    landing.source("jva-a", "prison", layout="de")
    with pytest.raises(ConfigError) as err:
        load_registry(landing.root / "sources.yml")
    message = str(err.value)
    assert "layouts/de.yml" in message
    assert "entities.inmates.columns.Name: 'nachname' is not a column of inmates" in message
    assert "codes.release_type.Endstrafe: 'end_of_term' is not a code" in message
