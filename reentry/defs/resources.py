"""The warehouse as a Dagster resource: the run's `Settings` in Dagster's config types."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from pathlib import Path

from dagster import ConfigurableResource

from reentry.pseudonym import PseudonymKey
from reentry.settings import DEFAULT_DUCKDB_MEMORY, DEFAULT_RETENTION_DAYS, Settings, Workdir

# The settings' own fields, each a field of the resource below under the same name.
_FIELDS = tuple(f.name for f in fields(Settings) if f.init)


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
    backend: str = "file"
    lake_catalog: str | None = None
    lake_data: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        def plain(value: object) -> object:
            if isinstance(value, Path):
                return str(value)
            return value.isoformat() if isinstance(value, date) else value

        return cls(**{name: plain(getattr(settings, name)) for name in _FIELDS})

    @property
    def settings(self) -> Settings:
        return Settings(**{name: getattr(self, name) for name in _FIELDS})

    @property
    def paths(self) -> Workdir:
        return self.settings.paths

    def pseudonym_key(self) -> PseudonymKey:
        return self.settings.pseudonym_key()

    def research_key(self) -> PseudonymKey:
        return self.settings.research_key()
