"""Publishing the validated marts as the researchers' database."""

from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from reentry import ledger
from reentry.faults import moment
from reentry.publish.database import move_into_place, stage
from reentry.publish.releases import record_release

from .dbt import WRITER_POOL
from .resources import WarehouseResource


def build_researcher_database(marts: Sequence[str]):
    """The publish asset, downstream of every validated mart in `marts`."""

    @asset(
        key=AssetKey(["published", "warehouse"]),
        deps=[AssetKey(["marts", t]) for t in marts],
        group_name="publish",
        pool=WRITER_POOL,
        description="WORKDIR/published/warehouse.duckdb: the marts only, person keys re-keyed "
        "with the research key, DuckDB storage v1.0.0, replaced by atomic rename; the "
        "version before is kept as warehouse.previous.duckdb.",
    )
    def researcher_database(context: AssetExecutionContext, warehouse: WarehouseResource):
        """Publish once every blocking check of the marts has passed."""
        return _publish(context, warehouse)

    return researcher_database


def _publish(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Stage the new version, record the intent, move it into place, record the publish: a
    run killed in between is settled by the next (reentry.pipeline.recover)."""
    paths, work_db = warehouse.paths, warehouse.settings.warehouse
    if ledger.last_validation_failed(work_db):
        # Dagster's blocking checks stop a publish in the run that validated; this also stops
        # one in a later run that did not validate again.
        raise RuntimeError("the last validation of the marts failed: nothing is published")
    staged = stage(work_db, paths.published_db, warehouse.research_key())
    ledger.record_publish_intent(
        work_db,
        paths.published_db,
        staged.data_version,
        len(staged.tables),
        ledger.last_build(work_db),
        staged.lake_snapshot,
    )
    moment("publish:staged")
    # After an erasure not yet finished, the version replaced may still hold the person.
    keep_previous = not ledger.erasures_unfinished(work_db)
    result = move_into_place(staged, paths.published_db, keep_previous)
    moment("publish:moved")
    ledger.settle_publish(work_db, result.data_version, moved=True, previous=result.previous)
    release = record_release(work_db, paths.published_db)
    context.log.info(
        f"published {len(result.tables)} marts to {result.path} "
        f"(data version {result.data_version[:12]}"
        + (f", kept as {release.name}" if release else "")
        + ")"
    )
    if not keep_previous:
        context.log.info(
            "no previous version kept: it may hold a person erased since (erasure log)"
        )
    return MaterializeResult(
        metadata={
            "path": str(result.path),
            "data_version": result.data_version,
            "tables": len(result.tables),
            "previous": str(result.previous) if result.previous else "none",
            "release": release.name if release else "none",
        }
    )
