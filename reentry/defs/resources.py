"""The one settings object of a run: which work folder, landing folder, keys and as-of date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dagster import ConfigurableResource

from reentry.pseudonym import (
    KEY_ENV,
    RESEARCH_KEY_ENV,
    PseudonymKey,
    ensure_demo_key,
    load_key,
)
from reentry.settings import Workdir


class WarehouseResource(ConfigurableResource):
    """Paths and keys of the warehouse. `dagster dev` fills it from REENTRY_* variables;
    `reentry run` constructs it from its options."""

    workdir: str
    landing: str
    sources: str | None = None
    key_file: str | None = None
    research_key_file: str | None = None
    as_of: str | None = None
    retention_days: int = 730  # archived landing files older than this are deleted
    demo: bool = False  # the demo makes its own keys in the work folder

    # Absolute paths: dbt runs in its project folder, so a relative work folder would land there.
    @property
    def paths(self) -> Workdir:
        return Workdir(Path(self.workdir).resolve())

    @property
    def landing_path(self) -> Path:
        return Path(self.landing).resolve()

    @property
    def sources_path(self) -> Path | None:
        return Path(self.sources).resolve() if self.sources else None

    @property
    def registry_path(self) -> Path:
        """The source registry: --sources, or sources.yml in the landing folder."""
        return self.sources_path or self.landing_path / "sources.yml"

    @property
    def as_of_date(self) -> date | None:
        return date.fromisoformat(self.as_of) if self.as_of else None

    def pseudonym_key(self) -> PseudonymKey:
        """The ingestion key (the demo's own where no other is given)."""
        return self._key(self.key_file, KEY_ENV, "pseudonym key", self.paths.demo_key)

    def research_key(self) -> PseudonymKey:
        """The key of this research release (re-keys person-level identifiers)."""
        return self._key(
            self.research_key_file, RESEARCH_KEY_ENV, "research key", self.paths.demo_research_key
        )

    def _key(self, key_file: str | None, env: str, what: str, demo_file: Path) -> PseudonymKey:
        import os

        if key_file:
            return load_key(Path(key_file), demo=self.demo, env=env, what=what)
        if os.environ.get(env) or not self.demo:
            return load_key(None, demo=self.demo, env=env, what=what)
        return load_key(ensure_demo_key(demo_file), demo=True, env=env, what=what)
