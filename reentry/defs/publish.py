"""Publishing the validated marts as the researchers' database."""

from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from reentry import ledger
from reentry.publish.database import publish

from .resources import WarehouseResource


def build_researcher_database(marts: Sequence[str]):
    """The publish asset, downstream of every validated mart in `marts`."""

    @asset(
        key=AssetKey(["published", "warehouse"]),
        deps=[AssetKey(["marts", t]) for t in marts],
        group_name="publish",
        description="WORKDIR/published/warehouse.duckdb: the marts only, person keys re-keyed "
        "with the research key, DuckDB storage v1.0.0, replaced by atomic rename; the "
        "version before is kept as warehouse.previous.duckdb.",
    )
    def researcher_database(context: AssetExecutionContext, warehouse: WarehouseResource):
        """Publish once every blocking check of the marts has passed."""
        return _publish(context, warehouse)

    return researcher_database


def _publish(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    paths = warehouse.paths
    result = publish(paths.work_db, paths.published_db, warehouse.research_key())
    ledger.record_publish(
        paths.work_db, result.path, result.data_version, len(result.tables), result.previous
    )
    context.log.info(
        f"published {len(result.tables)} marts to {result.path} "
        f"(data version {result.data_version[:12]})"
    )
    return MaterializeResult(
        metadata={
            "path": str(result.path),
            "data_version": result.data_version,
            "tables": len(result.tables),
            "previous": str(result.previous) if result.previous else "none",
        }
    )
