"""Which part of the job a run materialises, in Dagster's own lineage (dbt's sources are the
ingestion assets, so "downstream of raw/placements" is every model reading placements)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from dagster import AssetCheckKey, AssetKey, AssetSelection

from reentry.validation.rules import public_marts

from .checks import CHECK_NAME
from .dbt import prepare_manifest
from .ingest import INGEST_KEYS, RAW_KEYS
from .outputs import PUBLISHED

# The ingestion: every entity's raw history and the ingestion's own tables.
INGESTION = AssetSelection.assets(*RAW_KEYS.values(), *INGEST_KEYS.values())
# The researchers' database and what is made from it (dashboards, ministry packs).
PUBLISH_AND_OUTPUTS = AssetSelection.assets(PUBLISHED).downstream()
# The site and the packs alone, drawn from the published database as it is.
OUTPUTS = PUBLISH_AND_OUTPUTS - AssetSelection.assets(PUBLISHED)
# Everything but the ingestion: seeds, models with their checks, publish, outputs.
FULL_BUILD = AssetSelection.all() - INGESTION
# The dbt seeds and models with their dbt tests and the marts' validation.
MODELS = FULL_BUILD - PUBLISH_AND_OUTPUTS


def after_new_files(entities: Iterable[str]) -> AssetSelection:
    """What new files of `entities` make stale, the rest of the settings being unchanged:
    every model reading one of them, the models on the ingestion alone (delivery and
    quarantine reports, the run's metadata: downstream of the ingestion's tables and upstream
    of no model reading an entity), and publish and outputs. Nothing selected is upstream of
    a model left alone, so what is left alone reads only what did not change."""
    changed = AssetSelection.assets(*(RAW_KEYS[e] for e in entities)).downstream()
    # (publish and outputs read every mart: they are not what makes a report one of the entities')
    reads_entities = AssetSelection.assets(*RAW_KEYS.values()).downstream() - PUBLISH_AND_OUTPUTS
    ingestion_reports = (
        AssetSelection.assets(*INGEST_KEYS.values()).downstream() - reads_entities.upstream()
    )
    return (changed | ingestion_reports | PUBLISH_AND_OUTPUTS) - INGESTION


def validation_checks() -> AssetSelection:
    """The validation checks of every mart (reentry.defs.checks; the dbt tests are checks of
    their models), for the marts of the dbt project's manifest."""
    manifest = json.loads(prepare_manifest().read_text(encoding="utf-8"))
    return AssetSelection.checks(
        *(AssetCheckKey(AssetKey(["marts", m]), CHECK_NAME) for m in public_marts(manifest))
    )
