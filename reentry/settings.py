"""The settings of a run and where it keeps its files.

`Settings` is the one settings object: work folder, landing folder, source registry, key files,
as-of date, retention, demo mode and DuckDB's memory limit. The command line constructs it
from its options, `dagster dev` from the REENTRY_* environment variables (`Settings.from_env`,
the only place they are read), and the Dagster resource is built from it. `Workdir` names
every path in a work folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from reentry.dbt_child import PARENT_ENV
from reentry.pseudonym import (
    KEY_ENV,
    RESEARCH_KEY_ENV,
    PseudonymKey,
    ensure_demo_key,
    load_key,
)
from reentry.store import Warehouse, install_extensions

WORKDIR_ENV = "REENTRY_WORKDIR"
DEFAULT_WORKDIR = "demo"
DEFAULT_RETENTION_DAYS = 730
# DuckDB's memory limit in dbt's profile: it spills to disk beyond it instead of taking 80 %
# of the machine (1,000,000 persons reached 11 GB without it).
DEFAULT_DUCKDB_MEMORY = "4GB"
# What dbt's profile reads (dbt_project/profiles.yml): the work database and the memory limit.
DBT_WORK_DB_ENV = "REENTRY_WORK_DB"
DBT_MEMORY_ENV = "REENTRY_DUCKDB_MEMORY"
# The backend of the warehouse (reentry/store.py): the embedded file, or DuckLake.
BACKEND_ENV = "REENTRY_BACKEND"
LAKE_CATALOG_ENV = "REENTRY_LAKE_CATALOG"  # a libpq connection string, or a .ducklake file
LAKE_DATA_ENV = "REENTRY_LAKE_DATA"  # the folder of the lake's Parquet files
# What dbt's profile reads for the lake target (the ATTACH path, the extension folder).
DBT_TARGET_ENV = "REENTRY_DBT_TARGET"
DBT_LAKE_ATTACH_ENV = "REENTRY_LAKE_ATTACH"
DBT_EXTENSIONS_ENV = "REENTRY_DUCKDB_EXTENSIONS"


def default_workdir(environ: Mapping[str, str] = os.environ) -> str:
    """The work folder when none is given: $REENTRY_WORKDIR, else ./demo (the command line
    and `dagster dev` follow the same rule)."""
    return environ.get(WORKDIR_ENV) or DEFAULT_WORKDIR


def _path(value: str | Path | None) -> Path | None:
    # Absolute: dbt runs in its project folder, so a relative work folder would land there.
    return Path(value).resolve() if value else None


@dataclass(frozen=True)
class Settings:
    """Everything a run is configured by. Paths are made absolute on construction."""

    workdir: Path
    landing: Path | None = None  # default: WORKDIR/landing (the demo's)
    sources: Path | None = None  # default: sources.yml in the landing folder
    key_file: Path | None = None
    research_key_file: Path | None = None
    as_of: date | None = None  # default: the newest register export
    retention_days: int = DEFAULT_RETENTION_DAYS  # archived landing files older are deleted
    demo: bool = False  # the demo makes its own keys in the work folder
    duckdb_memory: str = DEFAULT_DUCKDB_MEMORY
    backend: str = "file"  # file | lake (reentry/store.py)
    lake_catalog: str | None = None
    lake_data: str | None = None
    paths: Workdir = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        workdir = _path(self.workdir)
        set_ = object.__setattr__
        set_(self, "workdir", workdir)
        set_(self, "landing", _path(self.landing) or workdir / "landing")
        for name in ("sources", "key_file", "research_key_file"):
            set_(self, name, _path(getattr(self, name)))
        if isinstance(self.as_of, str):
            set_(self, "as_of", date.fromisoformat(self.as_of))
        set_(self, "paths", Workdir(workdir))
        if self.backend == "lake" and self.lake_data and "://" not in self.lake_data:
            set_(self, "lake_data", str(_path(self.lake_data)))

    @staticmethod
    def backend_from_env(environ: Mapping[str, str] = os.environ) -> dict:
        """The backend fields from REENTRY_BACKEND (file, the default, or lake),
        REENTRY_LAKE_CATALOG and REENTRY_LAKE_DATA (for the command line too)."""
        return {
            "backend": environ.get(BACKEND_ENV) or "file",
            "lake_catalog": environ.get(LAKE_CATALOG_ENV) or None,
            "lake_data": environ.get(LAKE_DATA_ENV) or None,
        }

    @property
    def warehouse(self) -> Warehouse:
        """The work database, on its backend: the one way to open it (reentry/store.py)."""
        return Warehouse(
            self.backend,
            path=self.paths.work_db,
            catalog=self.lake_catalog,
            data_path=self.lake_data,
            extension_dir=self.paths.extensions,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings for `dagster dev`: REENTRY_WORKDIR (default ./demo), REENTRY_LANDING,
        REENTRY_SOURCES, REENTRY_KEY_FILE, REENTRY_RESEARCH_KEY_FILE, REENTRY_AS_OF
        (YYYY-MM-DD), REENTRY_RETENTION_DAYS, REENTRY_DEMO (1 = demo keys) and
        REENTRY_DUCKDB_MEMORY; unset or empty means the default."""
        return cls(
            workdir=Path(default_workdir(environ)),
            landing=environ.get("REENTRY_LANDING") or None,
            sources=environ.get("REENTRY_SOURCES") or None,
            key_file=environ.get("REENTRY_KEY_FILE") or None,
            research_key_file=environ.get("REENTRY_RESEARCH_KEY_FILE") or None,
            as_of=environ.get("REENTRY_AS_OF") or None,
            retention_days=int(environ.get("REENTRY_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS),
            demo=environ.get("REENTRY_DEMO", "") == "1",
            duckdb_memory=environ.get(DBT_MEMORY_ENV) or DEFAULT_DUCKDB_MEMORY,
            **cls.backend_from_env(environ),
        )

    @property
    def registry(self) -> Path:
        """The source registry: --sources, or sources.yml in the landing folder."""
        return self.sources or self.landing / "sources.yml"

    def pseudonym_key(self) -> PseudonymKey:
        """The ingestion key: the key file, else $REENTRY_PSEUDONYM_KEY, else (demo only) the
        demo's own key in the work folder."""
        return self._key(self.key_file, KEY_ENV, "pseudonym key", self.paths.demo_key)

    def research_key(self) -> PseudonymKey:
        """The key of this research release (re-keys person-level identifiers): the key file,
        else $REENTRY_RESEARCH_KEY, else (demo only) the demo's own."""
        return self._key(
            self.research_key_file, RESEARCH_KEY_ENV, "research key", self.paths.demo_research_key
        )

    def _key(self, key_file: Path | None, env: str, what: str, demo_file: Path) -> PseudonymKey:
        if key_file or os.environ.get(env) or not self.demo:
            return load_key(key_file, demo=self.demo, env=env, what=what)
        return load_key(ensure_demo_key(demo_file), demo=True, env=env, what=what)

    def export_for_dbt(self) -> None:
        """Set what dbt reads from the environment: this work folder's database and DuckDB's
        memory limit (dbt_project/profiles.yml), and which tests a selection runs. dbt runs as
        a child process of dagster-dbt, which hands it this process's environment; this is the
        one place that sets them, before the job (or `reentry docs`) runs dbt."""
        warehouse = self.warehouse
        if warehouse.is_lake:
            install_extensions(warehouse.extension_dir)
        os.environ.update(
            {
                DBT_WORK_DB_ENV: str(self.paths.work_db),
                DBT_MEMORY_ENV: self.duckdb_memory,
                DBT_TARGET_ENV: "lake" if warehouse.is_lake else "work",
                DBT_LAKE_ATTACH_ENV: warehouse.attach_path if warehouse.is_lake else "",
                LAKE_DATA_ENV: str(warehouse.data_path or ""),
                DBT_EXTENSIONS_ENV: str(warehouse.extension_dir),
                # A part of the job runs the dbt tests of what it builds and of what is upstream
                # of it, not those of a model it leaves alone (dbt's default, eager, would also
                # run a relationships test of a model outside the part, maybe not built yet).
                # dagster-dbt overrides it when a selection leaves tests out.
                "DBT_INDIRECT_SELECTION": "buildable",
                # dbt dies with this process (reentry/dbt_child.py)
                PARENT_ENV: str(os.getpid()),
            }
        )


@dataclass(frozen=True)
class Workdir:
    """The layout of a work folder (see README, "Folders")."""

    root: Path

    @property
    def landing(self) -> Path:
        """The demo's landing folder (a real run names its own with --landing)."""
        return self.root / "landing"

    @property
    def truth(self) -> Path:
        """The demo's planted truth: outside the landing folder and the warehouse."""
        return self.root / "truth"

    @property
    def demo_key(self) -> Path:
        """The key the demo makes for itself; real runs take theirs from the key holder."""
        return self.root / "pseudonym.key"

    @property
    def demo_research_key(self) -> Path:
        """The research key the demo makes for its own research release."""
        return self.root / "research.key"

    @property
    def archive(self) -> Path:
        """Landing files after ingestion, in the landing folder's layout, until retention
        deletes them: with the landing folder, the only place that holds names."""
        return self.root / "archive"

    @property
    def validation(self) -> Path:
        """Validation reports (HTML and JSON) of every run."""
        return self.root / "validation"

    @property
    def extensions(self) -> Path:
        """DuckDB's extensions for the lake (installed from their wheels)."""
        return self.root / "work" / "extensions"

    @property
    def work_db(self) -> Path:
        """The work database: raw history, quarantine, manifest and everything dbt builds."""
        return self.root / "work" / "warehouse.duckdb"

    @property
    def published_db(self) -> Path:
        """The researchers' read-only database."""
        return self.root / "published" / "warehouse.duckdb"

    @property
    def dashboards(self) -> Path:
        """The evaluators' static site (index.html and five more pages)."""
        return self.root / "dashboards"

    @property
    def reports(self) -> Path:
        """Ministry packs, one folder per period."""
        return self.root / "reports"

    @property
    def aggregates(self) -> Path:
        """The protected tables of the latest published version, shared by site and packs."""
        return self.root / "work" / "aggregates"
