"""The validation of the marts as blocking asset checks: a failure stops the publish, and the
report (HTML and JSON, no row values) lands in WORKDIR/validation.

One check per public mart of the dbt manifest (reentry.validation.rules.public_marts), passed
in by the definitions: no mart is listed here. The checks are subsettable, and a run validates
exactly the checks Dagster selected, the marts the run materialises."""

from collections.abc import Sequence

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    multi_asset_check,
)

from reentry import ledger
from reentry.faults import moment

from .resources import WarehouseResource

CHECK_NAME = "great_expectations"


def build_marts_checks(marts: Sequence[str]):
    """The blocking validation check of every mart in `marts`, as one multi-asset check."""

    @multi_asset_check(
        name="marts_expectations",
        specs=[
            AssetCheckSpec(
                CHECK_NAME,
                asset=AssetKey(["marts", t]),
                blocking=True,
                description="The mart's dbt tests and Great Expectations row counts "
                "(blocks publish)",
            )
            for t in marts
        ],
        can_subset=True,
    )
    def marts_expectations(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
        """Validate the selected marts: their dbt tests' results from this run's build (tests
        the build did not run are run now) and their row counts, against the previous
        publish."""
        from reentry.validation.rules import load_manifest
        from reentry.validation.suites import validate_marts, write_report

        from .dbt import prepare_manifest, run_dbt_tests

        selected = {k.asset_key.path[-1] for k in context.selected_asset_check_keys}
        tables = [t for t in marts if t in selected]
        paths = warehouse.paths
        previous = paths.published_db if paths.published_db.exists() else None
        report = validate_marts(
            warehouse.settings.warehouse,
            previous=previous,
            tables=tables,
            run_results=paths.work_db.parent / "dbt" / "target" / "run_results.json",
            manifest=load_manifest(prepare_manifest()),
            run_tests=run_dbt_tests,
        )
        if report.tested_now:
            context.log.info(
                f"dbt tests not run by this build, run now: {', '.join(report.tested_now)}"
            )
        html = write_report(report, paths.validation)
        ledger.record_validation(warehouse.settings.warehouse, report.to_json(), html)
        moment("validate:done")
        failed = report.failures()
        context.log.info(
            f"validation: {len(report.outcomes) - len(failed)} of "
            f"{len(report.outcomes)} expectations met; report {html}"
        )
        for table, ok in report.by_table().items():
            names = [f.expectation for f in failed if f.table == table]
            yield AssetCheckResult(
                asset_key=AssetKey(["marts", table]),
                check_name=CHECK_NAME,
                passed=ok,
                metadata={"failed_expectations": ", ".join(names) or "none", "report": str(html)},
            )

    return marts_expectations
