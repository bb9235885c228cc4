"""Reliability (README, Reliability): one writer per work folder, told clearly; the pseudonym
key bound to the work database; malformed options refused. With real processes where the
promise is about processes: a lock holder that is killed, two runs started together."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reentry.cli import main
from reentry.ingest.config import ConfigError
from reentry.ingest.load import LINK_PROBLEM, ingest
from reentry.lock import LOCK_NAME, WorkFolderBusy, work_folder_lock

from .conftest import TEST_KEY, Landing, query, run_argv

REENTRY = [sys.executable, "-m", "reentry.cli"]
HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from reentry.lock import work_folder_lock\n"
    "with work_folder_lock(Path(sys.argv[1]), 'run'):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def holder(workdir: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the work folder's lock for `seconds`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(workdir), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def reentry(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*REENTRY, *argv], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ingest_argv(root: Path, keys: dict, *extra: str) -> list[str]:
    # reentry ingest takes no research key: the run's arguments up to the pseudonym key
    return ["ingest", *run_argv(root, root / "landing", keys)[1:7], *extra]


def test_a_second_writer_is_told_who_holds_the_work_folder(copied_demo, demo_keys) -> None:
    proc = holder(copied_demo, 60)
    try:
        before = sha256(copied_demo / "work" / "warehouse.duckdb")
        result = reentry(*ingest_argv(copied_demo, demo_keys))
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr  # one line, no traceback
        assert f"in use by process {proc.pid} (reentry run, started " in lines[0]
        assert "--wait SECONDS" in lines[0]
        assert sha256(copied_demo / "work" / "warehouse.duckdb") == before
    finally:
        proc.kill()
        proc.wait()
    # The holder was killed (SIGKILL): its lock died with it and is taken over.
    result = reentry(*ingest_argv(copied_demo, demo_keys))
    assert result.returncode == 0, result.stderr


def test_a_writer_waits_for_the_holder_when_asked(copied_demo, demo_keys) -> None:
    proc = holder(copied_demo, 3)
    start = time.monotonic()
    result = reentry(*ingest_argv(copied_demo, demo_keys, "--wait", "120"))
    assert result.returncode == 0, result.stderr
    assert proc.wait(timeout=10) == 0  # the holder finished undisturbed
    assert time.monotonic() - start >= 2


def test_two_runs_started_together_one_runs_one_is_refused(copied_demo, demo_keys) -> None:
    argv = [*REENTRY, *run_argv(copied_demo, copied_demo / "landing", demo_keys)]
    runs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = sorted(
        (p.wait(timeout=600), p.stderr.read(), p.stdout.read()) for p in runs
    )  # fmt: skip
    (ok_code, ok_err, _), (refused_code, refused_err, _) = outcomes
    assert (ok_code, refused_code) == (0, 1), outcomes
    assert "Traceback" not in ok_err + refused_err
    assert len(refused_err.strip().splitlines()) == 1 and "is in use by process" in refused_err


def test_the_lock_is_released_and_refuses_a_planted_link(tmp_path) -> None:
    with (
        work_folder_lock(tmp_path, "run"),
        pytest.raises(WorkFolderBusy),
        work_folder_lock(tmp_path, "erase", wait=0.3),
    ):
        pass
    with work_folder_lock(tmp_path, "erase"):  # released after the block
        pass
    other = tmp_path / "other"
    other.mkdir()
    target = tmp_path / "elsewhere"
    target.write_text("")
    os.symlink(target, other / LOCK_NAME)
    with pytest.raises(OSError), work_folder_lock(other, "run"):
        pass


def test_another_pseudonym_key_is_refused(copied_demo, demo_keys, tmp_path, capsys) -> None:
    other = tmp_path / "other.key"
    other.write_bytes(b"another-pseudonym-key-of-32-bytes-or-more")
    keys = {**demo_keys, "key_file": other}
    work_db = copied_demo / "work" / "warehouse.duckdb"
    before = sha256(work_db)
    assert main(ingest_argv(copied_demo, keys)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "built with another pseudonym key" in err[0]
    # An erasure with the wrong key would find no one and report success: it is refused.
    person = ["--family-name", "Muster", "--given-name", "Max", "--birth-date", "1970-01-01"]
    erase = [
        "erase",
        "--workdir",
        str(copied_demo),
        *person,
        "--key-file",
        str(other),
        "--research-key-file",
        str(demo_keys["research_key_file"]),
    ]
    assert main(erase) == 2
    assert "built with another pseudonym key" in capsys.readouterr().err
    assert sha256(work_db) == before
    # The work database keeps a check value of its key, never the key.
    (value,) = query(work_db, "select check_value from ingest.key_check")[0]
    assert len(value) == 64 and demo_keys["key_file"].read_bytes().hex() not in value


@pytest.mark.parametrize("value", ["", " ", "2005-13-01", "yesterday"])
def test_a_malformed_as_of_is_refused(value, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--workdir", str(tmp_path), "--as-of", value])
    assert stopped.value.code == 2
    assert "is not a date YYYY-MM-DD" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


# ---------------------------------------------------------------- the landing folder's boundary

INMATES = "inmate_id,family_name,given_name,birth_date,sex,nationality\n"


def _good_landing(landing: Landing) -> None:
    landing.source("jva-a", "prison")
    landing.file(
        "jva-a",
        "inmates.2005-01-31.csv",
        INMATES + "A1,Muster,Max,1970-01-01,m,DE\nA2,Beispiel,Eva,1981-02-03,f,DE\n",
    )


def _published_rows(work_db: Path) -> list[tuple]:
    return query(work_db, "select inmate_id, person_key from raw.inmates__current order by 1")


def test_links_in_the_landing_folder_are_listed_never_followed(
    landing: Landing, work_db, tmp_path
) -> None:
    _good_landing(landing)
    clean = tmp_path / "clean" / "warehouse.duckdb"
    ingest(landing.root, clean, TEST_KEY)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "inmates.2005-01-31.csv").write_text(INMATES + "X1,Geheim,Gustav,1960-06-06,m,DE\n")
    os.symlink(outside, landing.root / "jva-b")  # a folder link beside the sources
    os.symlink(outside, landing.root / "jva-a" / "more")  # and one inside a source
    os.symlink(
        outside / "inmates.2005-01-31.csv", landing.root / "jva-a" / "inmates.2005-02-28.csv"
    )
    report = ingest(landing.root, work_db, TEST_KEY)
    links = sorted(f.file_name for f in report.files if f.error == LINK_PROBLEM)
    assert links == ["jva-a/inmates.2005-02-28.csv", "jva-a/more", "jva-b"]
    recorded = [r[0] for r in query(work_db, "select file_name from ingest.files")]
    assert not any("outside" in name or name.startswith("jva-b/") for name in recorded)
    # The good source publishes exactly what it publishes without the links.
    assert _published_rows(work_db) == _published_rows(clean)


def test_yaml_aliases_in_configuration_are_refused(landing: Landing, work_db) -> None:
    _good_landing(landing)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    (landing.root / "sources.yml").write_text(bomb + "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n")
    with pytest.raises(ConfigError, match="aliases .* are not allowed"):
        ingest(landing.root, work_db, TEST_KEY)


def test_nul_bytes_and_control_characters_are_quarantined(landing: Landing, work_db) -> None:
    _good_landing(landing)
    landing.file(
        "jva-a",
        "inmates.2005-02-28.csv",
        INMATES + "A3,Mus\x00ter,Max,1970-01-01,m,DE\nA4,Beispiel,E\x07va,1981-02-03,f,DE\n"
        "A5,Fein,Frieda,1975-05-05,f,DE\n",
    )
    ingest(landing.root, work_db, TEST_KEY)
    assert query(
        work_db,
        "select line, reason from ingest.quarantine where file_name like '%02-28%' order by 1",
    ) == [(2, "invalid_encoding"), (3, "invalid_encoding")]
    # inmates are full snapshots: the newest file is the truth, less its quarantined lines
    assert [r[0] for r in _published_rows(work_db)] == ["A5"]


def test_an_overlong_line_is_quarantined_unread(landing: Landing, work_db) -> None:
    from reentry.contract import MAX_LINE_BYTES

    _good_landing(landing)
    long_name = "Lang" * (MAX_LINE_BYTES // 4)
    landing.file(
        "jva-a",
        "inmates.2005-02-28.csv",
        INMATES + f"A3,{long_name},Max,1970-01-01,m,DE\nA5,Fein,Frieda,1975-05-05,f,DE\n",
    )
    ingest(landing.root, work_db, TEST_KEY)
    assert query(
        work_db,
        "select line, reason, problem from ingest.quarantine where file_name like '%02-28%'",
    ) == [(2, "line_too_long", f"longer than {MAX_LINE_BYTES:,} bytes: not read")]
    assert [r[0] for r in _published_rows(work_db)] == ["A5"]
    # A header line over the limit: the file is rejected, its reason given.
    landing.file("jva-a", "inmates.2005-03-31.csv", "inmate_id," + "x" * MAX_LINE_BYTES + "\n")
    report = ingest(landing.root, work_db, TEST_KEY)
    (rejected,) = [f for f in report.files if "03-31" in f.file_name]
    assert rejected.status == "rejected" and "header line has" in rejected.error


def test_a_file_dated_in_the_future_is_not_loaded(landing: Landing, work_db) -> None:
    _good_landing(landing)
    landing.file("jva-a", "inmates.2099-01-01.csv", INMATES + "A9,Zukunft,Zora,1990-01-01,f,DE\n")
    report = ingest(landing.root, work_db, TEST_KEY)
    (future,) = [f for f in report.files if "2099" in f.file_name]
    assert future.status == "ignored" and "lies in the future" in future.error
    assert [r[0] for r in _published_rows(work_db)] == ["A1", "A2"]


def test_a_file_exported_after_the_as_of_date_waits_for_a_run_that_reaches_it(
    landing: Landing, work_db
) -> None:
    from datetime import date

    _good_landing(landing)
    landing.file("jva-a", "inmates.2005-06-30.csv", INMATES + "A7,Später,Sven,1977-07-07,m,DE\n")
    report = ingest(landing.root, work_db, TEST_KEY, as_of=date(2005, 3, 31))
    (later,) = [f for f in report.files if "06-30" in f.file_name]
    assert later.status == "ignored" and "after the as-of date 2005-03-31" in later.error
    assert [r[0] for r in _published_rows(work_db)] == ["A1", "A2"]
    report = ingest(landing.root, work_db, TEST_KEY, as_of=date(2005, 6, 30))
    assert [f.status for f in report.files if "06-30" in f.file_name] == ["loaded"]
    assert [r[0] for r in _published_rows(work_db)] == ["A7"]


def test_an_erasure_rebuilds_with_the_as_of_date_of_the_last_build(tmp_path) -> None:
    """The erasure's rebuild takes the as-of date the last build was asked for (reentry.erase):
    the release without the person keeps the data cut-off of the release it replaces."""
    from datetime import date

    from reentry import ledger

    work_db = tmp_path / "warehouse.duckdb"
    assert ledger.last_as_of(work_db) is None  # no build yet: the default
    state = {"last_load_id": 1, "project_checksum": "p", "registry_checksum": "r"}
    ledger.record_build(work_db, {**state, "as_of": "2004-12-31"})
    assert ledger.last_as_of(work_db) == date(2004, 12, 31)
    ledger.record_build(work_db, {**state, "as_of": ""})
    assert ledger.last_as_of(work_db) is None  # the last build took the default


def test_outputs_that_show_an_older_version_are_drawn_again(copied_demo, demo_keys) -> None:
    """A run stopped after the publish and before the dashboards: the next run, with nothing
    new to build, draws them again for the published version."""
    from reentry.outputs.render import VERSION_FILE, shown_version
    from reentry.outputs.tables import data_version

    current = data_version(copied_demo / "published" / "warehouse.duckdb")
    assert shown_version(copied_demo / "dashboards") == current
    (copied_demo / "dashboards" / VERSION_FILE).write_text("an-older-version\n")
    result = reentry(*run_argv(copied_demo, copied_demo / "landing", demo_keys))
    assert result.returncode == 0, result.stderr
    assert "dashboards show an older version than the published database" in result.stdout
    assert shown_version(copied_demo / "dashboards") == current
    again = reentry(*run_argv(copied_demo, copied_demo / "landing", demo_keys))
    assert "nothing to rebuild" in again.stdout and "drawn again" not in again.stdout


def test_failures_of_the_machine_are_recognised_and_told_in_one_line() -> None:
    import errno

    import duckdb

    from reentry.failures import kind_of, message

    assert kind_of(OSError(errno.ENOSPC, "No space left on device")) == "disk"
    assert (
        kind_of(duckdb.IOException('Could not write file "x": No space left on device')) == "disk"
    )
    assert (
        kind_of(duckdb.OutOfMemoryException("Out of Memory Error: could not allocate")) == "memory"
    )
    assert kind_of(MemoryError()) == "memory"
    assert kind_of(OSError(errno.EIO, "Input/output error")) == "io"
    try:  # a failure wrapped in another error is still recognised by its cause
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("writing the staged file failed") from inner
    except RuntimeError as outer:
        assert kind_of(outer) == "disk"
    assert kind_of(ValueError("invalid literal for int() with base 10: 'Muster'")) is None
    # a value a library quotes does not pass for a failure of the machine
    assert kind_of(duckdb.ConversionException('Could not convert string "GEIO" to INT32')) is None
    assert kind_of(OSError(errno.ENOENT, "No such file")) is None
    line = message("memory", "step dbt_models")
    assert "\n" not in line and line.startswith("out of memory during step dbt_models: ")


@pytest.mark.parametrize(
    ("entry", "registry_extra", "expected"),
    [
        ({"id": "../../etc"}, {}, "is not a slug"),
        ({"layout": "../../../etc/passwd"}, {}, "is not a slug"),
        ({"layout": "de-justiz"}, {"layouts_dir": "../outside"}, "lies outside the registry"),
        ({"layout": "linked"}, {}, "is a symbolic link"),
    ],
)
def test_source_ids_and_layouts_are_names_never_paths(
    entry, registry_extra, expected, landing: Landing, work_db, tmp_path
) -> None:
    import yaml

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "de-justiz.yml").write_text("name: de-justiz\n")
    (landing.root / "layouts").mkdir()
    os.symlink(outside / "de-justiz.yml", landing.root / "layouts" / "linked.yml")
    fields = {"id": "jva-a", **entry}
    landing.source(fields.pop("id"), "prison", **fields)
    registry = yaml.safe_load((landing.root / "sources.yml").read_text())
    (landing.root / "sources.yml").write_text(yaml.safe_dump({**registry, **registry_extra}))
    with pytest.raises(ConfigError, match=expected):
        ingest(landing.root, work_db, TEST_KEY)


def test_a_workbook_that_unpacks_beyond_the_limit_is_rejected_unread(
    landing: Landing, work_db, monkeypatch
) -> None:
    """A workbook is a zip: its unpacked size counts, not its size on disk (a zip bomb)."""
    import xlsxwriter

    from reentry.ingest import reader

    landing.layout(
        "xlsx-test",
        {"format": "xlsx", "entities": {"placements": {"columns": {"Einsatz": "placement_id"}}}},
    )
    landing.source("zeit", "partner", layout="xlsx-test", partner_type="temp_agency")
    path = landing.root / "zeit" / "placements.2005-01-31.xlsx"
    path.parent.mkdir(parents=True)
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet()
        for row in range(200):
            sheet.write_row(row, 0, ["x" * 40] * 6)
    assert path.stat().st_size < 20_000  # compressed: small on disk
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 20_000)
    report = ingest(landing.root, work_db, TEST_KEY)
    (rejected,) = report.files
    assert rejected.status == "rejected" and "unpacks to" in rejected.error


def _ledger_with_releases(tmp_path: Path, rows: list[tuple[int, str, str]]):
    """A work database whose ledger lists releases (number, built, published) with their
    files, and an erasure logged at 12:00."""
    from reentry import ledger
    from reentry.ingest.erasure import erasure_schema
    from reentry.store import Warehouse

    work = Warehouse("file", path=tmp_path / "work" / "warehouse.duckdb")
    published = tmp_path / "published" / "warehouse.duckdb"
    (published.parent / "releases").mkdir(parents=True)
    published.write_bytes(b"the current version")
    with work.connect() as con:
        ledger.ensure(con)
        con.execute("create schema ingest")
        for ddl in erasure_schema("wh"):
            con.execute(ddl)
        con.execute("insert into ingest.erasures values ('k', '2026-01-01', '2026-01-01 12:00')")
        for n, built, at in rows:
            path = f"releases/release-{n:04d}.duckdb"
            (published.parent / path).write_bytes(b"a version")
            con.execute(
                "insert into ledger.releases values "
                "(?, ?, ?::timestamp, 'v', 'm', '', ?::timestamp, ?, null, null, null)",
                [n, f"release-{n:04d}", f"2026-01-01 {at}", f"2026-01-01 {built}", path],
            )
    return work, published


def test_an_erasure_withdraws_every_release_built_before_it(tmp_path) -> None:
    """Withdrawn by when it was built, not published: a publish that a killed run left and
    the erasure's own run settled (published after the erasure) still holds the person."""
    from reentry.publish.releases import list_releases, withdraw_releases

    work, published = _ledger_with_releases(
        tmp_path, [(1, "10:00", "10:05"), (2, "11:00", "12:30"), (3, "12:10", "12:20")]
    )
    assert withdraw_releases(work, published, "erased") == ["release-0001", "release-0002"]
    assert [p.name for p in (published.parent / "releases").iterdir()] == ["release-0003.duckdb"]
    assert [(r.name, bool(r.withdrawn_at)) for r in list_releases(work)] == [
        ("release-0001", True),
        ("release-0002", True),
        ("release-0003", False),
    ]


def test_a_release_never_replaces_a_release_file_already_there(tmp_path) -> None:
    """A work folder whose ledger knows fewer releases than its folder holds (another
    backend's ledger): the next release takes the next free number."""
    from reentry.publish.releases import record_release

    work, published = _ledger_with_releases(tmp_path, [])
    kept = published.parent / "releases" / "release-0001.duckdb"
    kept.write_bytes(b"last quarter, as published")
    with work.connect() as con:
        con.execute(
            "insert into ledger.publishes by name select now()::timestamp as published_at, "
            "'p' as path, 'abc' as data_version, 1 as n_tables, 'published' as state"
        )
    release = record_release(work, published)
    assert release is not None and release.name == "release-0002"
    assert kept.read_bytes() == b"last quarter, as published"
    assert (published.parent / release.path).read_bytes() == published.read_bytes()
