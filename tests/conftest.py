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
