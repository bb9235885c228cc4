"""The warehouse on DuckLake with a PostgreSQL catalog (README, "The warehouse on DuckLake"):
the same code path as the embedded file, against a real PostgreSQL that the tests start and
stop themselves (scripts/lake-postgres).

`make test-lake` runs them (CI does); they need PostgreSQL's server programs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from simulation import generate_demo

from .conftest import erase_argv, run_argv
from .system import apt_install, can_install

pytestmark = pytest.mark.lake

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "lake-postgres"
PERSONS = 600
WHEN_COLUMNS = {"built_at", "loaded_at", "last_loaded_at"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_server():
    """A PostgreSQL server of its own, on a free port; stopped and removed at the end. Its
    folder is outside pytest's (0700) temporary folders: as root, the server runs as the
    user postgres, who must reach it. Calling the result with a name creates that catalog
    database and returns the variables of a lake on it."""
    root = Path(tempfile.mkdtemp(prefix="reentry-lake-"))
    root.chmod(0o711)
    port = str(_free_port())

    def catalog(name: str = "lake") -> dict[str, str]:
        argv = [str(SCRIPT), "start", str(root), port, name]
        started = subprocess.run(argv, capture_output=True, text=True)
        if started.returncode == 2 and can_install():  # no server programs: a clean machine
            assert apt_install("postgresql"), "apt-get install postgresql failed"
            started = subprocess.run(argv, capture_output=True, text=True)
        assert started.returncode == 0, started.stderr
        variables = dict(
            line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines()
        )
        return {k: v.strip("'") for k, v in variables.items()}

    try:
        yield catalog
    finally:
        subprocess.run([str(SCRIPT), "stop", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres(postgres_server) -> dict[str, str]:
    """The variables of the lake the demo tests share (catalog database `lake`)."""
    return postgres_server("lake")


def reentry(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reentry.cli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=1200,
    )


def published_marts(workdir: Path) -> dict[str, list[str]]:
    """Every published mart's rows (repr: floats to the bit), sorted, without run times."""
    con = duckdb.connect(str(workdir / "published" / "warehouse.duckdb"), read_only=True)
    try:
        out = {}
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall():
            columns = [
                f'"{c}"'
                for (c,) in con.execute(
                    "select column_name from duckdb_columns() where schema_name = 'marts' "
                    "and table_name = ? order by column_index",
                    [table],
                ).fetchall()
                if c not in WHEN_COLUMNS
            ]
            rows = con.execute(f'select {", ".join(columns)} from marts."{table}"').fetchall()
            out[table] = sorted(repr(r) for r in rows)
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def both(tmp_path_factory, postgres, demo_keys) -> dict:
    """The same landing folder run on the embedded file and on the lake."""
    root = tmp_path_factory.mktemp("lake-demo")
    generate_demo(root / "landing", root / "truth", persons=PERSONS, seed=6)
    runs = {}
    for backend, env in (("file", {"REENTRY_BACKEND": "file"}), ("lake", postgres)):
        landing = root / f"landing-{backend}"
        shutil.copytree(root / "landing", landing)
        workdir = root / backend
        done = reentry(run_argv(workdir, landing, demo_keys), env)
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        runs[backend] = {"workdir": workdir, "landing": landing, "out": done.stdout}
    return runs


def test_the_lake_publishes_what_the_file_publishes(both, postgres) -> None:
    lake, file = both["lake"]["workdir"], both["file"]["workdir"]
    # The lake's run kept no work database file: its tables are Parquet files of the lake.
    assert not (lake / "work" / "warehouse.duckdb").exists()
    assert (file / "work" / "warehouse.duckdb").exists()
    assert any(Path(postgres["REENTRY_LAKE_DATA"]).rglob("*.parquet"))
    marts = published_marts(file)
    assert len(marts) >= 18 and all(marts.values())
    assert published_marts(lake) == marts
    # The publish is a release: its file, and the lake's snapshot it was read from, named
    # by the commit that recorded it; the lake as of that snapshot holds the published marts.
    from reentry.publish.releases import list_releases
    from reentry.settings import Settings

    settings = Settings(workdir=lake, **Settings.backend_from_env(postgres))
    [release] = list_releases(settings.warehouse)
    assert release.name == "release-0001" and release.lake_snapshot is not None
    assert (lake / "published" / release.path).exists()
    con = duckdb.connect(config=settings.warehouse.config())
    try:
        settings.warehouse.attach(con, "wh", read_only=True)
        snapshots = con.execute("select commit_message from wh.snapshots()").fetchall()
        messages = [m for (m,) in snapshots]
        assert sum(1 for m in messages if m and m.startswith("release-0001: data ")) == 1
        con.execute("detach wh")
        data = postgres["REENTRY_LAKE_DATA"]
        con.execute(
            f"attach '{settings.warehouse.attach_path}' as past (read_only, "
            f"snapshot_version {release.lake_snapshot}, data_path '{data}')"
        )
        con.execute(f"attach '{lake / 'published' / release.path}' as pub (read_only)")
        for table in ("recidivism_rates", "placement_funnel", "programme_indicators"):
            past, published = (
                con.execute(f"select count(*) from {db}.marts.{table}").fetchone()[0]
                for db in ("past", "pub")
            )
            assert past == published > 0, table
    finally:
        con.close()


def _parquet_holding(data: Path, value: str) -> list[str]:
    """The lake's data files with a row whose text holds `value` (any column, nested too),
    but the erasure log's own (it holds the pseudonyms of the erased, by design)."""
    con = duckdb.connect()
    try:
        return [
            path.relative_to(data).as_posix()
            for path in sorted(data.rglob("*.parquet"))
            if "ingest/erasures/" not in path.relative_to(data).as_posix()
            and con.execute(
                "select count(*) from read_parquet(?) t where strpos(t::varchar, ?) > 0",
                [str(path), value],
            ).fetchone()[0]
        ]
    finally:
        con.close()


def test_an_erasure_on_the_lake_leaves_no_file_and_no_snapshot_with_the_person(
    both, postgres, demo_keys
) -> None:
    from reentry.ingest.erasure import pseudonymise

    from .conftest import TEST_KEY
    from .test_erasure import _demo_person, _person_rows

    workdir, landing = both["lake"]["workdir"], both["lake"]["landing"]
    data = Path(postgres["REENTRY_LAKE_DATA"])
    person = _demo_person_in_lake(workdir, postgres, _demo_person)
    [(key, _)] = pseudonymise([person], TEST_KEY)
    holding = _parquet_holding(data, key)
    assert holding  # before: their rows are in the lake's files
    # A data file no snapshot has: what a writer killed before its commit leaves behind.
    orphan = data / holding[0]
    shutil.copyfile(orphan, orphan.with_name("ducklake-killed-writer.parquet"))
    erased = reentry(erase_argv(workdir, landing, demo_keys, person), postgres)
    assert erased.returncode == 0, erased.stdout[-1500:] + erased.stderr[-1500:]
    assert "older lake snapshots expired" in erased.stdout
    assert "release(s) withdrawn" in erased.stdout
    assert _parquet_holding(data, key) == []
    published = workdir / "published" / "warehouse.duckdb"
    research = demo_keys["research_key_file"].read_bytes()
    assert all(mine == 0 for _, mine in _person_rows(published, research, key).values())
    # No snapshot is left from before the erasure to travel back to.
    from reentry.settings import Settings

    settings = Settings(
        workdir=workdir,
        backend="lake",
        lake_catalog=postgres["REENTRY_LAKE_CATALOG"],
        lake_data=postgres["REENTRY_LAKE_DATA"],
    )
    with settings.warehouse.connect(read_only=True) as con:
        (erased_at,) = con.execute("select max(erased_at) from ingest.erasures").fetchone()
        (older,) = con.execute(
            "select count(*) from wh.snapshots() where snapshot_time < ?::timestamptz",
            [erased_at],
        ).fetchone()
    assert older == 0
    # The release without them points at a snapshot that is still there.
    from reentry.publish.releases import list_releases

    *earlier, current = list_releases(settings.warehouse)
    assert earlier and all(r.withdrawn_at for r in earlier) and not current.withdrawn_at
    with settings.warehouse.connect(read_only=True) as con:
        assert con.execute(
            "select count(*) from wh.snapshots() where snapshot_id = ?", [current.lake_snapshot]
        ).fetchone() == (1,)


def _demo_person_in_lake(workdir: Path, postgres: dict, pick):
    """`pick` (tests.test_erasure._demo_person) reads the work database file; on the lake,
    the same tables are read from a copy of them in a scratch file."""
    from reentry.settings import Settings

    settings = Settings(
        workdir=workdir,
        backend="lake",
        lake_catalog=postgres["REENTRY_LAKE_CATALOG"],
        lake_data=postgres["REENTRY_LAKE_DATA"],
    )
    scratch = workdir / "scratch-copy"
    (scratch / "work").mkdir(parents=True, exist_ok=True)
    shutil.copytree(workdir / "archive", scratch / "archive", dirs_exist_ok=True)
    copy = scratch / "work" / "warehouse.duckdb"
    with settings.warehouse.connect(read_only=True) as con:
        con.execute(f"attach '{copy}' as copy")
        for schema, table in (
            ("raw", "participants"),
            ("raw", "inmates"),
            ("raw", "register_entries"),
            ("marts", "releases"),
        ):
            con.execute(f"create schema if not exists copy.{schema}")
            con.execute(f"create table copy.{schema}.{table} as select * from wh.{schema}.{table}")
        con.execute("detach copy")
    try:
        return pick(scratch)
    finally:
        shutil.rmtree(scratch)


# A reader beside the writers: in every snapshot it reads, the manifest and the raw tables
# agree (each file commits its rows and its manifest row together). It prints what it saw.
READER = """
import json, sys, time
from pathlib import Path
import duckdb
from reentry.settings import Settings
from reentry.store import WarehouseUnreachable
settings = Settings(workdir=Path(sys.argv[1]), **Settings.backend_from_env())
stop = Path(sys.argv[2])
seen = {"reads": 0, "mismatches": [], "errors": []}
con = None
while not stop.exists():
    if con is None:
        try:
            con = settings.warehouse.open(read_only=True)
        except WarehouseUnreachable:  # before the first ingestion created the lake
            time.sleep(0.2)
            continue
    try:
        con.execute("begin transaction")
        manifest = dict(con.execute(
            "select entity, sum(n_loaded) from ingest.files where status = 'loaded' group by 1"
        ).fetchall())
        quarantined = con.execute(
            "select coalesce(sum(n_quarantined), 0) from ingest.files where status = 'loaded'"
        ).fetchone()[0]
        raw = {e: con.execute(f"select count(*) from raw.{e}").fetchone()[0] for e in manifest}
        kept = con.execute("select count(*) from ingest.quarantine").fetchone()[0]
        con.execute("commit")
    except duckdb.CatalogException:  # before the first ingestion created the tables
        con.execute("rollback")
        con.close()
        con = None
        time.sleep(0.2)
        continue
    except duckdb.Error as exc:
        seen["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
        con.execute("rollback")
        continue
    seen["reads"] += 1
    if manifest != raw or quarantined != kept:
        seen["mismatches"].append([manifest, raw, quarantined, kept])
    time.sleep(0.05)
if con is not None:
    con.close()
print(json.dumps(seen))
"""


def _split_landing(landing: Path, halves: tuple[Path, Path]) -> None:
    """Each source's folder of `landing` into one of two landing folders, alternately (the
    registry and its layouts stay where they are)."""
    from reentry.ingest.registry import load_registry

    sources = sorted(load_registry(landing / "sources.yml").sources)
    for i, source in enumerate(sources):
        if (landing / source).is_dir():
            shutil.copytree(landing / source, halves[i % 2] / source)


def _raw_rows(con: duckdb.DuckDBPyConnection, db: str) -> dict[str, list[str]]:
    """Every raw table's rows without their load id (the order of loading differs)."""
    from reentry.contract import ENTITIES

    out = {}
    for entity in ENTITIES:
        rows = con.execute(f"select * exclude (_load_id) from {db}.raw.{entity}").fetchall()
        out[entity] = sorted(repr(r) for r in rows)
    return out


def test_two_ingestions_at_once_on_the_lake_lose_nothing_and_duplicate_nothing(
    tmp_path, postgres_server, demo_keys
) -> None:
    """Two `reentry ingest` processes, each with its own sources, write the lake at once
    while a reader reads it; then the lake holds exactly what one ingestion of all the files
    into the embedded file holds."""
    lake = postgres_server("writers")
    generate_demo(tmp_path / "landing", tmp_path / "truth", persons=PERSONS, seed=8)
    registry = tmp_path / "landing" / "sources.yml"
    halves = (tmp_path / "landing-a", tmp_path / "landing-b")
    _split_landing(tmp_path / "landing", halves)
    workdir = tmp_path / "lake"
    keys = ["--key-file", str(demo_keys["key_file"])]
    env = {**os.environ, **lake}
    stop = tmp_path / "stop-reading"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(workdir), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reentry.cli",
                "ingest",
                "--workdir",
                str(workdir),
                "--landing",
                str(half),
                "--sources",
                str(registry),
                *keys,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        for half in halves
    ]
    outputs = [w.communicate(timeout=1200) for w in writers]
    stop.touch()
    seen_out, seen_err = reader.communicate(timeout=120)
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, out[-1500:] + err[-1500:]
    assert reader.returncode == 0, seen_err[-1500:]
    seen = json.loads(seen_out)
    assert seen["errors"] == [] and seen["mismatches"] == []
    assert seen["reads"] > 0

    # The same files, all at once, into the embedded file.
    one = tmp_path / "file"
    alone = reentry(
        ["ingest", "--workdir", str(one), "--landing", str(tmp_path / "landing"), *keys],
        {"REENTRY_BACKEND": "file"},
    )
    assert alone.returncode == 0, alone.stdout[-1500:] + alone.stderr[-1500:]

    from reentry.settings import Settings

    settings = Settings(workdir=workdir, **Settings.backend_from_env(lake))
    with settings.warehouse.connect(read_only=True) as con:
        con.execute(f"attach '{one / 'work' / 'warehouse.duckdb'}' as one (read_only)")
        # The two ingestions overlapped: their loads interleave in the order of commits.
        runs = con.execute(
            "select run_id, started_at, finished_at from wh.ingest.runs order by 1"
        ).fetchall()
        assert len(runs) == 2 and runs[1][1] < runs[0][2] and runs[0][1] < runs[1][2]
        order = [
            r
            for (r,) in con.execute(
                "select run_id from wh.ingest.files order by load_id"
            ).fetchall()
        ]
        assert sum(a != b for a, b in zip(order, order[1:], strict=False)) >= 2
        # Each file once, every load number once, the counter at the last of them.
        manifest = "select file_name, file_hash, status, n_received, n_loaded, n_quarantined "
        lake_files = con.execute(manifest + "from wh.ingest.files order by 1").fetchall()
        file_files = con.execute(manifest + "from one.ingest.files order by 1").fetchall()
        assert lake_files == file_files
        (n, distinct, top) = con.execute(
            "select count(*), count(distinct load_id), max(load_id) from wh.ingest.files"
        ).fetchone()
        assert n == distinct == top
        assert con.execute(
            "select value from wh.ingest.counters where name = 'load'"
        ).fetchone() == (top,)
        # Nothing lost, nothing twice: the raw rows and the quarantine equal one ingestion's.
        assert _raw_rows(con, "wh") == _raw_rows(con, "one")
        quarantine = "select * exclude (load_id) from {}.ingest.quarantine"
        assert sorted(map(repr, con.execute(quarantine.format("wh")).fetchall())) == sorted(
            map(repr, con.execute(quarantine.format("one")).fetchall())
        )
