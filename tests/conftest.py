"""Shared fixtures: hand-made landing folders and a fixed test key."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
import yaml

from ingestion.pseudonym import PseudonymKey

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

TEST_KEY = PseudonymKey(b"test-key-" + b"k" * 32)


class Landing:
    """A landing folder built file by file in a test."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.sources: list[dict] = []

    def source(self, id: str, kind: str, programme: str = "mabis", **extra) -> Landing:
        entry = {"id": id, "kind": kind, "programme": programme, "name": id.upper(), **extra}
        if kind == "partner":
            entry.setdefault("partner_type", "aftercare")
        self.sources.append(entry)
        self._write_registry()
        return self

    def _write_registry(self) -> None:
        (self.root / "sources.yml").write_text(
            yaml.safe_dump({"sources": self.sources}, allow_unicode=True), encoding="utf-8"
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
def built_demo(tmp_path_factory) -> dict:
    """One simulated demo, ingested twice (the second run must do nothing), built by dbt and
    published: shared by every test that needs the whole pipeline's output."""
    from ingestion.load import ingest
    from reentry.publish import publish
    from reentry.simulation import generate_demo
    from reentry.transform import run_dbt

    root = tmp_path_factory.mktemp("built_demo")
    landing, truth = root / "landing", root / "truth"
    db = root / "work" / "warehouse.duckdb"
    published = root / "published" / "warehouse.duckdb"
    generate_demo(landing, truth, persons=BUILT_PERSONS, seed=11, defect_rate=0.02)
    first = ingest(landing, db, TEST_KEY)
    second = ingest(landing, db, TEST_KEY)
    build = run_dbt("build", db, quiet=True)
    publish(db, published)
    return {"root": root, "landing": landing, "truth": truth, "db": db,
            "published": published, "first": first, "second": second, "build": build}
