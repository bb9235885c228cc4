"""The warehouse as a Dagster resource: the run's `Settings` in Dagster's config types."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from reentry.pseudonym import PseudonymKey
from reentry.settings import DEFAULT_DUCKDB_MEMORY, DEFAULT_RETENTION_DAYS, Settings, Workdir


class WarehouseResource(ConfigurableResource):
    """The settings of the run (reentry.settings.Settings), built with `from_settings`;
    `settings` gives them back, typed."""

    workdir: str
    landing: str
    sources: str | None = None
    key_file: str | None = None
    research_key_file: str | None = None
    as_of: str | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    demo: bool = False
    duckdb_memory: str = DEFAULT_DUCKDB_MEMORY

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        def text(path: Path | None) -> str | None:
            return str(path) if path else None

        return cls(
            workdir=str(settings.workdir),
            landing=str(settings.landing),
            sources=text(settings.sources),
            key_file=text(settings.key_file),
            research_key_file=text(settings.research_key_file),
            as_of=settings.as_of.isoformat() if settings.as_of else None,
            retention_days=settings.retention_days,
            demo=settings.demo,
            duckdb_memory=settings.duckdb_memory,
        )

    @property
    def settings(self) -> Settings:
        return Settings(
            workdir=Path(self.workdir),
            landing=self.landing,
            sources=self.sources,
            key_file=self.key_file,
            research_key_file=self.research_key_file,
            as_of=self.as_of,
            retention_days=self.retention_days,
            demo=self.demo,
            duckdb_memory=self.duckdb_memory,
        )

    @property
    def paths(self) -> Workdir:
        return self.settings.paths

    def pseudonym_key(self) -> PseudonymKey:
        return self.settings.pseudonym_key()

    def research_key(self) -> PseudonymKey:
        return self.settings.research_key()
