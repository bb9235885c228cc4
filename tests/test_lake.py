"""The warehouse on DuckLake with a PostgreSQL catalog (README, "The warehouse on DuckLake"):
the same code path as the embedded file, against a real PostgreSQL that the tests start and
stop themselves (scripts/lake-postgres).

`make test-lake` runs them (CI does); they need PostgreSQL's server programs.
"""

from __future__ import annotations

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
def postgres():
    """A PostgreSQL server of its own, on a free port; stopped and removed at the end. Its
    folder is outside pytest's (0700) temporary folders: as root, the server runs as the
    user postgres, who must reach it."""
    root = Path(tempfile.mkdtemp(prefix="reentry-lake-"))
    root.chmod(0o711)
    argv = [str(SCRIPT), "start", str(root), str(_free_port())]
    started = subprocess.run(argv, capture_output=True, text=True)
    if started.returncode == 2 and can_install():  # no server programs: CI's clean machine
        assert apt_install("postgresql"), "apt-get install postgresql failed"
        started = subprocess.run(argv, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    variables = dict(
        line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines()
    )
    try:
        yield {k: v.strip("'") for k, v in variables.items()}
    finally:
        subprocess.run([str(SCRIPT), "stop", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


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
    assert _parquet_holding(data, key)  # before: their rows are in the lake's files
    erased = reentry(erase_argv(workdir, landing, demo_keys, person), postgres)
    assert erased.returncode == 0, erased.stdout[-1500:] + erased.stderr[-1500:]
    assert "older lake snapshots expired" in erased.stdout
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
