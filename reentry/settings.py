"""Where a run keeps its files: one object names every path in a work folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
