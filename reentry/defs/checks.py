"""Great Expectations validations of the marts as blocking asset checks: a failure stops the
publish, and the report (HTML and JSON, no row values) lands in WORKDIR/validation."""

from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    multi_asset_check,
)

from reentry import ledger

from .resources import WarehouseResource

VALIDATED_MARTS = (
    "programmes",
    "programme_effects",
    "covariate_balance",
    "propensity_overlap",
    "effect_survival",
    "releases",
    "placements",
    "recidivism",
    "recidivism_rates",
    "recidivism_effects",
    "survival",
    "employment_status",
    "programme_indicators",
    "placement_retention",
    "dropout_rates",
    "placement_funnel",
    "breakdown_levels",
)


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "great_expectations",
            asset=AssetKey(["marts", t]),
            blocking=True,
            description="Great Expectations suite of the mart (blocks publish)",
        )
        for t in VALIDATED_MARTS
    ],
)
def marts_expectations(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Validate every mart against its suite, against the previous publish for row counts."""
    from reentry.validation.suites import validate_marts, write_report

    paths = warehouse.paths
    previous = paths.published_db if paths.published_db.exists() else None
    tables = marts_to_validate(paths.work_db)
    unchanged = [t for t in VALIDATED_MARTS if t not in tables]
    if unchanged:
        context.log.info(f"unchanged since the last passed validation: {', '.join(unchanged)}")
    report = validate_marts(paths.work_db, previous=previous, tables=tables)
    html = write_report(report, paths.validation)
    ledger.record_validation(paths.work_db, report.to_json(), html)
    failed = report.failures()
    context.log.info(
        f"validation: {len(report.outcomes) - len(failed)} of "
        f"{len(report.outcomes)} expectations met; report {html}"
    )
    for table, ok in report.by_table().items():
        if table not in VALIDATED_MARTS:
            continue
        names = [f.expectation for f in failed if f.table == table]
        yield AssetCheckResult(
            asset_key=AssetKey(["marts", table]),
            check_name="great_expectations",
            passed=ok,
            metadata={"failed_expectations": ", ".join(names) or "none", "report": str(html)},
        )
    for table in unchanged:
        yield AssetCheckResult(
            asset_key=AssetKey(["marts", table]),
            check_name="great_expectations",
            passed=True,
            metadata={
                "failed_expectations": "none",
                "unchanged": "not rebuilt since its last passed validation",
            },
        )


def marts_to_validate(work_db) -> list[str]:
    """The marts rebuilt since the last passed validation (all of them after a full build or
    when no validation has passed yet): an unchanged mart keeps its passed validation."""
    import json

    from reentry.transform import unaffected_models

    from .dbt import PROJECT

    builds = ledger.builds_since_validation(work_db)
    if any(b is None for b in builds):
        return list(VALIDATED_MARTS)
    changed = sorted({e for b in builds for e in b})
    manifest = json.loads(Path(PROJECT.manifest_path).read_text(encoding="utf-8"))
    unaffected = set(unaffected_models(manifest, changed))
    return [t for t in VALIDATED_MARTS if t not in unaffected]
