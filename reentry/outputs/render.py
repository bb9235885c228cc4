"""The outputs of a work folder: where the site and packs go, and the names they show."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .pack import Pack, build_pack, latest_periods
from .site import PAGES, build_site
from .tables import data_version


@dataclass(frozen=True)
class Site:
    """The rendered site."""

    index: Path
    pages: int
    data_version: str


def source_names(registry_path: Path | None) -> dict[str, str]:
    """Prisons' and partners' names from the source registry (organisations, not persons)."""
    if registry_path is None or not Path(registry_path).exists():
        return {}
    from reentry.ingest.registry import load_registry

    return {
        sid: source.name
        for sid, source in load_registry(registry_path).sources.items()
        if source.name
    }


def _published(paths) -> Path:
    if not paths.published_db.exists():
        raise FileNotFoundError(
            f"no published database at {paths.published_db}: run `reentry run` (or "
            "`reentry demo`) first"
        )
    return paths.published_db


# Each output folder records the published version it shows, written last: a site or pack
# drawn only in part (a run killed while drawing) still names the older version.
VERSION_FILE = ".data-version"


def _mark(folder: Path, version: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"{VERSION_FILE}.tmp"
    staged.write_text(version + "\n", encoding="utf-8")
    os.replace(staged, folder / VERSION_FILE)


def shown_version(folder: Path) -> str | None:
    """The published version an output folder shows (None: none recorded)."""
    try:
        return (Path(folder) / VERSION_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def stale_outputs(paths) -> list[str]:
    """The output folders (dashboards, reports) that do not show the published version."""
    if not paths.published_db.exists():
        return []
    current = data_version(paths.published_db)
    folders = {"dashboards": paths.dashboards, "reports": paths.reports}
    return [name for name, folder in folders.items() if shown_version(folder) != current]


def render_dashboards(paths, registry_path: Path | None) -> Site:
    """WORKDIR/dashboards from WORKDIR/published/warehouse.duckdb."""
    published = _published(paths)
    version = data_version(published)
    build_site(
        published,
        paths.dashboards,
        version,
        paths.validation,
        source_names(registry_path),
        cache_dir=paths.aggregates,
    )
    _mark(paths.dashboards, version)
    return Site(index=paths.dashboards / "index.html", pages=len(PAGES), data_version=version)


def render_packs(
    paths, registry_path: Path | None, periods: list[str] | None = None, lang: str = "en"
) -> list[Pack]:
    """WORKDIR/reports/<period>/ for the given periods (default: newest quarter and year)."""
    published = _published(paths)
    version = data_version(published)
    names = source_names(registry_path)
    packs = [
        build_pack(
            published, paths.reports, period, version, names, lang, cache_dir=paths.aggregates
        )
        for period in (periods or latest_periods(published))
    ]
    if periods is None:  # the job's packs (newest quarter and year), not one asked for
        _mark(paths.reports, version)
    return packs
