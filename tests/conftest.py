"""Shared fixtures: hand-made landing folders and a fixed test key."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
import yaml

from reentry.pseudonym import PseudonymKey
from reentry.settings import Settings

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

TEST_KEY = PseudonymKey(b"test-key-" + b"k" * 32)
# The programmes of hand-made registries (tests name them; the code never does).
TEST_PROGRAMMES = (
    {
        "id": "mabis",
        "name": "MABiS.NeT (North Rhine-Westphalia)",
        "country": "DE",
        "start": "2002-08-16",
        "end": "2005-06-30",
        "languages": ["de", "en"],
    },
    {
        "id": "exodus",
        "name": "Exodus Connect (Netherlands)",
        "country": "NL",
        "start": "2002-08-16",
        "end": "2005-06-30",
        "languages": ["nl", "en"],
    },
)


class Landing:
    """A landing folder built file by file in a test."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.sources: list[dict] = []
        self.programmes: list[dict] = [dict(p) for p in TEST_PROGRAMMES]

    def source(self, id: str, kind: str, programme: str = "mabis", **extra) -> Landing:
        entry = {"id": id, "kind": kind, "programme": programme, "name": id.upper(), **extra}
        if kind == "partner":
            entry.setdefault("partner_type", "aftercare")
        self.sources.append(entry)
        self._write_registry()
        return self

    def programme(self, id: str, **fields) -> Landing:
        """Declare (or redeclare) a programme of the registry."""
        self.programmes = [p for p in self.programmes if p["id"] != id]
        self.programmes.append(
            {
                "id": id,
                "name": id.upper(),
                "country": "DE",
                "start": "2002-01-01",
                "end": "2005-12-31",
                **fields,
            }
        )
        self._write_registry()
        return self

    def _write_registry(self) -> None:
        (self.root / "sources.yml").write_text(
            yaml.safe_dump(
                {"programmes": self.programmes, "sources": self.sources}, allow_unicode=True
            ),
            encoding="utf-8",
        )

    def layout(self, name: str, spec: dict) -> None:
        folder = self.root / "layouts"
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.yml").write_text(
            yaml.safe_dump({"name": name, **spec}, allow_unicode=True), encoding="utf-8"
        )

    def file(self, source: str, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.root / source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return path


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    return Landing(tmp_path / "landing")


@pytest.fixture
def work_db(tmp_path: Path) -> Path:
    return tmp_path / "work" / "warehouse.duckdb"


def query(database: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Run a read-only query against a work database."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


BUILT_PERSONS = 12_000  # large enough for the planted-effect comparison to be stable


@pytest.fixture(scope="session")
def demo_keys(tmp_path_factory) -> dict:
    """Key files kept outside every work folder (as a key holder would)."""
    folder = tmp_path_factory.mktemp("keys")
    (folder / "pseudonym.key").write_bytes(TEST_KEY.secret)
    (folder / "research.key").write_bytes(b"research-release-key-" + b"r" * 32)
    return {"key_file": folder / "pseudonym.key", "research_key_file": folder / "research.key"}


def settings_for(root: Path, keys: dict, **extra) -> Settings:
    """The run settings of a work folder whose landing folder is root/landing."""
    return Settings(
        workdir=root,
        landing=root / "landing",
        key_file=keys["key_file"],
        research_key_file=keys["research_key_file"],
        **extra,
    )


def materialise(settings: Settings, selection):
    """Materialise `selection` of the job (an AssetSelection: its assets and their checks) for
    `settings`, in process, as `reentry run` runs the job."""
    from reentry.pipeline import run_pipeline

    return run_pipeline(settings, lambda _message: None, selection=selection)


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory, demo_keys) -> dict:
    """One simulated demo run twice through the Dagster job (the second run must find nothing
    to do): shared by every test that needs the whole pipeline's output."""
    from reentry.pipeline import run_pipeline
    from simulation import generate_demo

    root = tmp_path_factory.mktemp("built_demo")
    generate_demo(
        root / "landing", root / "truth", persons=BUILT_PERSONS, seed=11, defect_rate=0.02
    )
    settings = settings_for(root, demo_keys)
    messages: list[str] = []
    first = run_pipeline(settings, messages.append)
    published_stat = (root / "published" / "warehouse.duckdb").stat()
    second = run_pipeline(settings, messages.append)
    return {
        "root": root,
        "landing": root / "landing",
        "truth": root / "truth",
        "db": root / "work" / "warehouse.duckdb",
        "published": root / "published" / "warehouse.duckdb",
        "first": first,
        "second": second,
        "messages": messages,
        "published_stat_after_first": published_stat,
        "settings": settings,
    }


@pytest.fixture
def copied_demo(built_demo, tmp_path) -> Path:
    """A private copy of the built demo's work folder, safe to run again and tamper with."""
    import shutil

    root = tmp_path / "demo"
    shutil.copytree(built_demo["root"], root)
    return root


def run_argv(workdir: Path, landing: Path, keys: dict) -> list[str]:
    """`reentry run` on a work folder and a landing folder with the test keys."""
    return [
        "run",
        "--workdir",
        str(workdir),
        "--landing",
        str(landing),
        "--key-file",
        str(keys["key_file"]),
        "--research-key-file",
        str(keys["research_key_file"]),
    ]


def erase_argv(workdir: Path, landing: Path, keys: dict, person) -> list[str]:
    """`reentry erase` of one person (a Request) with the test keys."""
    return [
        "erase",
        *run_argv(workdir, landing, keys)[1:],
        "--family-name",
        person.family_name,
        "--given-name",
        person.given_name,
        "--birth-date",
        person.birth_date,
        "--requested-on",
        "2010-01-15",
    ]
