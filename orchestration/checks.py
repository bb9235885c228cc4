"""Great Expectations validations of the marts as blocking asset checks: a failure stops the
publish, and the report (HTML and JSON, no row values) lands in WORKDIR/validation."""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    multi_asset_check,
)

from reentry import ops

from .resources import WarehouseResource

VALIDATED_MARTS = (
    "releases", "placements", "recidivism", "recidivism_rates", "recidivism_effects",
    "survival", "employment_status", "programme_indicators", "placement_retention",
    "dropout_rates", "placement_funnel",
)


@multi_asset_check(
    specs=[AssetCheckSpec("great_expectations", asset=AssetKey(["marts", t]), blocking=True,
                          description="Great Expectations suite of the mart (blocks publish)")
           for t in VALIDATED_MARTS],
)
def marts_expectations(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Validate every mart against its suite, against the previous publish for row counts."""
    from .validation import validate_marts, write_report

    paths = warehouse.paths
    previous = paths.published_db if paths.published_db.exists() else None
    report = validate_marts(paths.work_db, previous=previous, tables=list(VALIDATED_MARTS))
    html = write_report(report, paths.validation)
    ops.record_validation(paths.work_db, report.to_json(), html)
    failed = report.failures()
    context.log.info(f"validation: {len(report.outcomes) - len(failed)} of "
                     f"{len(report.outcomes)} expectations met; report {html}")
    for table, ok in report.by_table().items():
        if table not in VALIDATED_MARTS:
            continue
        names = [f.expectation for f in failed if f.table == table]
        yield AssetCheckResult(
            asset_key=AssetKey(["marts", table]), check_name="great_expectations", passed=ok,
            metadata={"failed_expectations": ", ".join(names) or "none", "report": str(html)},
        )
