"""The outputs of a work folder: where the site and packs go, and the names they show."""

from __future__ import annotations

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
    return Site(index=paths.dashboards / "index.html", pages=len(PAGES), data_version=version)


def render_packs(
    paths, registry_path: Path | None, periods: list[str] | None = None, lang: str = "en"
) -> list[Pack]:
    """WORKDIR/reports/<period>/ for the given periods (default: newest quarter and year)."""
    published = _published(paths)
    version = data_version(published)
    names = source_names(registry_path)
    return [
        build_pack(
            published, paths.reports, period, version, names, lang, cache_dir=paths.aggregates
        )
        for period in (periods or latest_periods(published))
    ]
