"""What evaluators and ministries read: the static dashboards and the periodic pack, made from
the published database through disclosure control (dashboards/)."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from reentry.faults import moment
from reentry.outputs.render import render_dashboards, render_packs

from .resources import WarehouseResource

PUBLISHED = AssetKey(["published", "warehouse"])


@asset(
    key=AssetKey(["dashboards", "site"]),
    deps=[PUBLISHED],
    group_name="outputs",
    description="WORKDIR/dashboards/index.html: the evaluators' static site (six pages, "
    "German, Dutch, English), aggregates only, through disclosure control.",
)
def dashboards_site(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Render the site from the newly published database."""
    site = render_dashboards(warehouse.paths, warehouse.settings.registry)
    moment("outputs:dashboards")
    context.log.info(f"dashboards written: {site.index}")
    return MaterializeResult(
        metadata={"index": str(site.index), "pages": site.pages, "data_version": site.data_version}
    )


@asset(
    key=AssetKey(["reports", "pack"]),
    deps=[PUBLISHED, AssetKey(["dashboards", "site"])],
    group_name="outputs",
    description="WORKDIR/reports/<period>/: the ministry pack (workbook, CSV, printable HTML) "
    "for the newest quarter and year; `reentry report --period` makes any other.",
)
def ministry_pack(context: AssetExecutionContext, warehouse: WarehouseResource):
    """The periodic pack for the newest quarter and year of the data."""
    packs = render_packs(warehouse.paths, warehouse.settings.registry)
    for pack in packs:
        context.log.info(f"ministry pack {pack.period} written: {pack.workbook}")
    return MaterializeResult(
        metadata={
            "periods": ", ".join(p.period for p in packs),
            "folder": str(warehouse.paths.reports),
        }
    )
