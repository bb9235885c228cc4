"""Ingestion as assets: one asset per entity of the export contract, plus the manifest."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset

from reentry.contract import ENTITIES
from reentry.ingest.load import ingest

from .resources import WarehouseResource

RAW_KEYS = {name: AssetKey(["raw", name]) for name in ENTITIES}
INGEST_KEYS = {name: AssetKey(["ingest", name]) for name in ("files", "quarantine", "sources")}


@multi_asset(
    specs=[
        *(
            AssetSpec(
                key,
                group_name="ingestion",
                description=f"Raw history of {name}: every "
                "loaded row of every delivery, pseudonymised, with file, export date and "
                "load id; `raw.<entity>__current` applies the delivery semantics.",
            )
            for name, key in RAW_KEYS.items()
        ),
        AssetSpec(
            INGEST_KEYS["files"],
            group_name="ingestion",
            description="The manifest and load report: one row per delivery.",
        ),
        AssetSpec(
            INGEST_KEYS["quarantine"],
            group_name="ingestion",
            description="Bad rows with line, column and reason; identifiers blanked.",
        ),
        AssetSpec(
            INGEST_KEYS["sources"],
            group_name="ingestion",
            description="The source registry as last loaded.",
        ),
    ],
    can_subset=False,
)
def landing_files(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Load every new file of the landing folder (a file already loaded is skipped)."""
    settings = warehouse.settings
    report = ingest(
        settings.landing,
        settings.warehouse,
        settings.pseudonym_key(),
        registry_path=settings.sources,
        progress=lambda msg: context.log.info(msg),
        archive=settings.paths.archive,
        retention_days=settings.retention_days,
        as_of=settings.as_of,
    )
    loaded = [f for f in report.files if f.status == "loaded"]
    context.log.info(
        f"ingestion run {report.run_id}: {len(loaded)} files loaded, "
        f"{report.count('skipped')} already loaded, {report.count('duplicate')} duplicates, "
        f"{report.count('rejected')} rejected, {report.count('ignored')} ignored"
    )
    for name, key in RAW_KEYS.items():
        mine = [f for f in loaded if f.entity == name]
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "files_loaded": len(mine),
                "rows_loaded": sum(f.n_loaded for f in mine),
                "rows_quarantined": sum(f.n_quarantined for f in mine),
                "rows_removed": sum(f.n_removed for f in mine),
            },
        )
    yield MaterializeResult(
        asset_key=INGEST_KEYS["files"],
        metadata={
            "run_id": report.run_id,
            "files_seen": len(report.files),
            "files_loaded": len(loaded),
            "files_rejected": report.count("rejected"),
            "files_ignored": report.count("ignored"),
        },
    )
    yield MaterializeResult(
        asset_key=INGEST_KEYS["quarantine"],
        metadata={"rows_quarantined": sum(f.n_quarantined for f in loaded)},
    )
    yield MaterializeResult(asset_key=INGEST_KEYS["sources"])
