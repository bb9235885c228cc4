"""Crash-exact runs (README, Reliability), with real processes and real SIGKILLs.

A work folder holds a first delivery, built and published. The second delivery's
`reentry run` is killed at each boundary between its steps (reentry.faults.MOMENTS: the
process kills itself and its dbt build with SIGKILL on reaching that moment), and the next
`reentry run`, with no manual step, must leave exactly the state of a run that was never
killed: the same published marts, manifest, archive, landing folder, rollback file and
outputs showing the published version, and nothing half-written left behind.

Two clean runs of the same files and keys must publish equal marts (every value, to the
bit), apart from the build and load timestamps.

These tests run `reentry run` about 30 times: `make test-crash` runs them (CI does, after
`make test`); `make test` leaves them out to stay within its time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from reentry.faults import ENV, MOMENTS
from reentry.files import sha256_file
from simulation import generate_demo

from .conftest import erase_argv, run_argv

pytestmark = pytest.mark.crash

PERSONS = 600
# Columns that say when something ran, not what the data are.
WHEN_COLUMNS = {"built_at", "loaded_at", "last_loaded_at"}
# A moment reached more than once: killed the N-th time.
NTH = {"ingest:file": 2, "ingest:archived": 2, "build:model": 3}
RUN_MOMENTS = [m for m in MOMENTS if not m.startswith("erase:")]


def reentry_cli(argv: list[str], kill_at: str | None = None) -> subprocess.CompletedProcess:
    """A `reentry` command in its own process group (the kill takes its dbt build along),
    killed at `kill_at` if given (reentry.faults)."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if kill_at:
        env[ENV] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "reentry.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group
        timeout=900,
    )


def reentry_run(workdir: Path, landing: Path, keys: dict, kill_at: str | None = None):
    return reentry_cli(run_argv(workdir, landing, keys), kill_at)


def _published(workdir: Path) -> dict[str, list[str]]:
    """Every published mart's rows (repr: floats to the bit), sorted, without run times."""
    con = duckdb.connect(str(workdir / "published" / "warehouse.duckdb"), read_only=True)
    try:
        out = {}
        tables = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall()
        for (table,) in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from duckdb_columns() where schema_name = 'marts' "
                    "and table_name = ? order by column_index",
                    [table],
                ).fetchall()
                if c not in WHEN_COLUMNS
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {select} from marts."{table}"').fetchall()
            out[table] = sorted(repr(r) for r in rows)
        return out
    finally:
        con.close()


def _manifest(workdir: Path) -> list[tuple]:
    con = duckdb.connect(str(workdir / "work" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(
            "select file_name, file_hash, status, n_loaded, n_quarantined, error "
            "from ingest.files order by all"
        ).fetchall()
    finally:
        con.close()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _releases(workdir: Path) -> list[tuple[str, bool]]:
    """The recorded releases: name, and whether its file holds what the ledger says."""
    from reentry.publish.releases import list_releases
    from reentry.store import Warehouse

    work = Warehouse("file", path=workdir / "work" / "warehouse.duckdb")
    files = workdir / "published"
    return [(r.name, sha256_file(files / r.path) == r.data_version) for r in list_releases(work)]


def state(workdir: Path, landing: Path) -> dict:
    """What a run leaves that the next one and the users see."""
    from reentry.outputs.render import shown_version
    from reentry.outputs.tables import data_version

    published = workdir / "published" / "warehouse.duckdb"
    previous = published.with_name("warehouse.previous.duckdb")
    version = data_version(published)
    return {
        "marts": _published(workdir),
        "manifest": _manifest(workdir),
        "archive": _files(workdir / "archive"),
        "landing": _files(landing),
        "published folder": _files(workdir / "published"),
        # every publish kept as a release, the last one the published file
        "releases": _releases(workdir),
        # the rollback file: the first delivery's release, byte for byte
        "previous version": sha256_file(previous) if previous.exists() else None,
        "outputs show the published version": [
            shown_version(workdir / folder) == version for folder in ("dashboards", "reports")
        ],
        "left behind": sorted(
            p.name for p in workdir.rglob("*") if p.name.endswith((".new", ".tmp", ".compact"))
        )
        + sorted(p.name for p in (workdir / "work").glob(".ingest-*")),
    }


def _differences(got: dict, want: dict) -> list[str]:
    out = []
    for part, value in want.items():
        if part == "marts":
            for table in sorted(set(value) | set(got[part])):
                if got[part].get(table) != value.get(table):
                    out.append(f"mart {table} differs")
        elif got[part] != value:
            out.append(f"{part}: {got[part]!r} != {value!r}")
    return out


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory, demo_keys) -> dict:
    """A landing folder in two deliveries (the second: each partner's newest placements
    file) and a work folder that has run the first, copied for each test."""
    root = tmp_path_factory.mktemp("crash")
    generate_demo(root / "all", root / "truth", persons=PERSONS, seed=5)
    second = root / "second"
    for folder in sorted(p for p in (root / "all").iterdir() if p.is_dir()):
        newest = sorted(folder.glob("placements.*"))[-1:]
        for path in newest:
            target = second / path.relative_to(root / "all")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
    assert _files(second), "the second delivery is empty"
    after_first = root / "after-first"
    landing = root / "landing-first"
    shutil.copytree(root / "all", landing)
    done = reentry_run(after_first, landing, demo_keys)
    assert done.returncode == 0, done.stderr[-2000:]
    return {"root": root, "after_first": after_first, "landing": landing, "second": second}


def second_delivery(deliveries: dict, name: str) -> tuple[Path, Path]:
    """A private copy of the work folder after the first delivery, with the second landed."""
    folder = deliveries["root"] / name
    workdir, landing = folder / "work", folder / "landing"
    shutil.copytree(deliveries["after_first"], workdir)
    shutil.copytree(deliveries["landing"], landing)
    shutil.copytree(deliveries["second"], landing, dirs_exist_ok=True)
    return workdir, landing


@pytest.fixture(scope="module")
def clean(deliveries, demo_keys) -> dict:
    """The second delivery run without a kill."""
    workdir, landing = second_delivery(deliveries, "clean")
    done = reentry_run(workdir, landing, demo_keys)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rebuilding what depends on them" in done.stdout  # a partial build
    deliveries["clean_workdir"] = workdir
    return state(workdir, landing)


def test_two_clean_runs_publish_equal_marts(deliveries, clean, demo_keys) -> None:
    workdir, landing = second_delivery(deliveries, "clean-again")
    done = reentry_run(workdir, landing, demo_keys)
    assert done.returncode == 0, done.stderr[-2000:]
    again = state(workdir, landing)
    assert len(clean["marts"]) >= 18 and all(clean["marts"].values())
    assert _differences(again, clean) == []


@pytest.mark.parametrize("moment", RUN_MOMENTS)
def test_a_run_killed_at_any_moment_is_finished_exactly_by_the_next(
    moment, deliveries, clean, demo_keys
) -> None:
    workdir, landing = second_delivery(deliveries, moment.replace(":", "-"))
    kill_at = f"{moment}@{NTH[moment]}" if moment in NTH else moment
    killed = reentry_run(workdir, landing, demo_keys, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, f"never reached {kill_at}: {killed.stdout[-800:]}"
    after = reentry_run(workdir, landing, demo_keys)
    assert after.returncode == 0, after.stdout[-1500:] + after.stderr[-1500:]
    assert "was stopped before it ended" in after.stdout
    assert _differences(state(workdir, landing), clean) == []
    # And the run after that finds nothing to do.
    again = reentry_run(workdir, landing, demo_keys)
    assert again.returncode == 0 and "nothing rebuilt" in again.stdout, again.stdout[-800:]


@pytest.fixture
def small_disk(tmp_path):
    """A file system of its own for a work folder (a tmpfs, mounted by the test itself)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root with CAP_SYS_ADMIN: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave_bytes: int) -> Path:
    """A ballast file taking all space of `disk` but `leave_bytes`."""
    stat = os.statvfs(disk)
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        os.posix_fallocate(fd, 0, stat.f_bavail * stat.f_frsize - leave_bytes)
    finally:
        os.close(fd)
    return ballast


@pytest.mark.parametrize("free_mb", [1, 6, 12])
def test_a_full_disk_ends_with_one_line_and_the_next_run_finishes_exactly(
    free_mb, small_disk, deliveries, clean, demo_keys
) -> None:
    from .privacy_scan import found_in_text, landing_identifiers

    _, landing = second_delivery(deliveries, f"disk-{free_mb}")
    workdir = small_disk / "work"
    shutil.copytree(deliveries["after_first"], workdir)
    names = landing_identifiers(deliveries["root"] / "all")  # names: in the first delivery
    ballast = _fill(small_disk, free_mb * 2**20)
    full = reentry_run(workdir, landing, demo_keys)
    assert full.returncode == 1, full.stdout[-800:] + full.stderr[-800:]
    (line,) = full.stderr.strip().splitlines()
    assert line.startswith("reentry run: out of disk space during "), line
    assert "Traceback" not in full.stdout + full.stderr
    assert names.name_tokens and not found_in_text(full.stdout + full.stderr, names)
    ballast.unlink()  # space freed
    after = reentry_run(workdir, landing, demo_keys)
    assert after.returncode == 0, after.stdout[-1500:] + after.stderr[-1500:]
    assert _differences(state(workdir, landing), clean) == []


@pytest.mark.parametrize("moment", [m for m in MOMENTS if m.startswith("erase:")])
@pytest.mark.parametrize("then", ["run", "erase again"])
def test_a_killed_erasure_is_finished_by_the_next_run_or_by_repeating_it(
    moment, then, deliveries, clean, demo_keys, tmp_path
) -> None:
    from reentry.ingest.erasure import pseudonymise

    from .conftest import TEST_KEY
    from .test_erasure import _demo_person, _person_rows

    workdir, landing = tmp_path / "work", tmp_path / "landing"
    shutil.copytree(deliveries["clean_workdir"], workdir)
    landing.mkdir()
    shutil.copy(deliveries["landing"] / "sources.yml", landing)
    shutil.copytree(deliveries["landing"] / "layouts", landing / "layouts")
    published = workdir / "published" / "warehouse.duckdb"
    previous = published.with_name("warehouse.previous.duckdb")
    research = demo_keys["research_key_file"].read_bytes()
    person = _demo_person(workdir)
    [(key, _)] = pseudonymise([person], TEST_KEY)
    assert previous.exists() and _person_rows(previous, research, key)["releases"][1] >= 1

    argv = erase_argv(workdir, landing, demo_keys, person)
    killed = reentry_cli(argv, kill_at=moment)
    assert killed.returncode == -signal.SIGKILL, f"never reached {moment}: {killed.stdout[-800:]}"
    finish = reentry_run(workdir, landing, demo_keys) if then == "run" else reentry_cli(argv)
    assert finish.returncode == 0, finish.stdout[-1500:] + finish.stderr[-1500:]
    assert "erasure log applied to every layer" in finish.stdout
    # Gone from the published database; no rollback file still holds them.
    assert all(mine == 0 for _, mine in _person_rows(published, research, key).values())
    assert not previous.exists()
    if then == "run":  # and repeating the erasure afterwards is a success, not an error
        again = reentry_cli(argv)
        assert again.returncode == 0, again.stdout[-800:] + again.stderr[-800:]


def _processes_using(path: Path) -> list[int]:
    """Processes whose environment names `path` (dbt's profile names the work database)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if str(path).encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_a_dbt_build_dies_with_its_killed_run(deliveries, clean, demo_keys) -> None:
    """Only the run's own process is killed (not its group, as the OOM killer does): its dbt
    build must not live on, writing the work database after the run's lock is gone."""
    import time

    workdir, landing = second_delivery(deliveries, "dbt-orphan")
    env = {**os.environ, ENV: "build:model@3"}
    killed = subprocess.run(
        [sys.executable, "-m", "reentry.cli", *run_argv(workdir, landing, demo_keys)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )  # in the test's process group: the kill takes the run alone
    assert killed.returncode == -signal.SIGKILL
    work_db = (workdir / "work" / "warehouse.duckdb").resolve()
    deadline = time.monotonic() + 3  # a dbt build left alone would run for 20 s more
    while _processes_using(work_db) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_using(work_db) == []
    after = reentry_run(workdir, landing, demo_keys)
    assert after.returncode == 0, after.stdout[-1500:] + after.stderr[-1500:]
    assert _differences(state(workdir, landing), clean) == []


def test_an_erased_person_delivered_again_stays_erased_when_the_run_is_killed(
    deliveries, clean, demo_keys, tmp_path
) -> None:
    """A file that brings an erased person back is committed without them, in its own
    transaction: a run killed right after it leaves nothing for the next run to miss."""
    from datetime import date, timedelta

    from reentry.erase import _count_work
    from reentry.ingest.erasure import pseudonymise

    from .conftest import TEST_KEY
    from .test_erasure import _demo_person, _person_rows

    workdir, landing = tmp_path / "work", tmp_path / "landing"
    shutil.copytree(deliveries["clean_workdir"], workdir)
    landing.mkdir()
    shutil.copy(deliveries["landing"] / "sources.yml", landing)
    shutil.copytree(deliveries["landing"] / "layouts", landing / "layouts")
    person = _demo_person(workdir)
    [(key, _)] = pseudonymise([person], TEST_KEY)
    erased = reentry_cli(erase_argv(workdir, landing, demo_keys, person))
    assert erased.returncode == 0, erased.stdout[-800:] + erased.stderr[-800:]
    # The prisons deliver again, a day later, every inmates file that holds the person (one
    # byte more, so that it is not the same file: a blank last line).
    again = []
    for archived in sorted(workdir.glob("archive/*/inmates.*.*")):
        name = archived.name.split(".")
        data = archived.read_bytes()
        if len(name) != 3 or person.family_name.encode() not in data:
            continue
        later = date.fromisoformat(name[1]) + timedelta(days=1)
        target = landing / archived.parent.name / f"inmates.{later}.{name[2]}"
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(data + b"\n")
        again.append(target.relative_to(landing).as_posix())
    assert again
    killed = reentry_cli(run_argv(workdir, landing, demo_keys), kill_at=f"ingest:file@{len(again)}")
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-800:]
    after = reentry_run(workdir, landing, demo_keys)
    assert after.returncode == 0, after.stdout[-1500:] + after.stderr[-1500:]
    published = workdir / "published" / "warehouse.duckdb"
    research = demo_keys["research_key_file"].read_bytes()
    assert all(mine == 0 for _, mine in _person_rows(published, research, key).values())
    work_db = workdir / "work" / "warehouse.duckdb"
    assert {t: n for t, n in _count_work(work_db, [key]).items() if n} == {}
    # They did come back, and were dropped as the files were loaded.
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        dropped = con.execute(
            "select sum(n_erased) from ingest.files where file_name in (select unnest(?))",
            [again],
        ).fetchone()[0]
    finally:
        con.close()
    assert dropped >= 1
