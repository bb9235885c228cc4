"""Orchestration: simulate, build per-source tables, write every export, the defect log and
the planted truth."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl

from ingestion.contract import ENTITIES
from ingestion.layouts import Layout
from ingestion.registry import load_registry

from .custody import simulate_custody
from .defects import LOG_SCHEMA, Injected, inject_defects
from .export import write_export
from .names import encoding_fallback
from .offending import HAZARD_RATIO, simulate_offending
from .population import simulate_population
from .programme import programme_records, select_participants
from .snapshots import as_date, export_frame
from .sources import SOURCES, SourceSpec, write_registry
from .tables import build_tables
from .truth import planted_truth

LAYOUTS_DIR = Path(__file__).parent / "layouts"
# Every n-th data row of an xlsx file carries its dates as hand-typed text.
XLSX_TEXT_DATE_EVERY = 50
_BOGUS_SHARE = 0.005  # erroneous records in a snapshot that a correction removes
_PERTURBED_SHARE = 0.03  # rows of an incremental file that a correction re-sends


def copy_layouts(landing: Path) -> None:
    """Copy the package's layout mappings to landing/layouts."""
    target = landing / "layouts"
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(LAYOUTS_DIR.glob("*.yml")):
        shutil.copyfile(path, target / path.name)


def _bogus(frame: pl.DataFrame, key: str, rng: np.random.Generator) -> pl.DataFrame:
    """A few records entered twice under a second number (removed by the correction)."""
    k = max(1, round(_BOGUS_SHARE * frame.height))
    rows = np.sort(rng.choice(frame.height, size=min(k, frame.height), replace=False))
    extra = frame[rows].with_columns(pl.concat_str([pl.col(key), pl.lit("-D")]).alias(key))
    return pl.concat([frame, extra]).sort(key)


def _perturb(
    frame: pl.DataFrame, entity: str, key: str, rng: np.random.Generator
) -> tuple[pl.DataFrame, list[str]]:
    """Wrong but valid values in a few rows of an incremental file (the correction fixes them)."""
    k = max(1, round(_PERTURBED_SHARE * frame.height))
    rows = np.sort(rng.choice(frame.height, size=min(k, frame.height), replace=False))
    mask = pl.Series(np.isin(np.arange(frame.height), rows))
    if entity == "placements":
        wrong = (pl.col("hours_per_week").cast(pl.Float64).fill_null(15.0) + 5).cast(pl.String)
        wrong = wrong.str.replace(r"\.0$", "")
        col = "hours_per_week"
    else:
        codes = (
            ENTITIES[entity]
            .column("offence_group" if entity == "register_entries" else "channel")
            .codes
        )
        col = "offence_group" if entity == "register_entries" else "channel"
        nxt = {a: codes[(i + 1) % len(codes)] for i, a in enumerate(codes)}
        wrong = pl.col(col).replace_strict(nxt, default=pl.lit(codes[0]))
    out = frame.with_columns(pl.when(mask).then(wrong).otherwise(pl.col(col)).alias(col))
    return out, frame[key].gather(rows).to_list()


def _file_name(source: SourceSpec, entity: str, day: dt.date, layout: Layout) -> str:
    return f"{source.id}/{entity}.{day.isoformat()}.{layout.format}"


def generate_demo(
    landing: Path,
    truth_dir: Path,
    persons: int = 10_000,
    seed: int = 42,
    defect_rate: float = 0.01,
    hazard_ratio: float = HAZARD_RATIO,
    reference_only: bool = False,
) -> dict:
    """Simulate `persons` people of both programmes and write the demo landing folder.

    Writes landing/sources.yml, landing/layouts/*.yml and landing/<source>/<entity>.<date>.<ext>,
    and outside the landing folder truth_dir/planted_truth.json and truth_dir/defects.csv.
    Same arguments give byte-identical files. Returns a small summary.
    """
    landing, truth_dir = Path(landing), Path(truth_dir)
    if truth_dir.resolve().is_relative_to(landing.resolve()):
        raise ValueError("truth_dir must lie outside the landing folder")
    landing.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    copy_layouts(landing)
    registry = load_registry(write_registry(landing, reference_only))

    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    pop = simulate_population(persons, rngs[0])
    cust = simulate_custody(pop, rngs[1])
    sel = select_participants(pop, cust, rngs[2])
    off, _ = simulate_offending(pop, cust, sel.treated, rngs[3], hazard_ratio)
    participants, placements, contacts = programme_records(pop, cust, sel, off, rngs[4])
    episodes = pl.concat([cust.episodes, off.reincarceration_episodes])
    fallbacks = {}
    for s in SOURCES:
        layout = registry.layout_of(s.id)
        if layout.format == "csv" and not layout.encoding.startswith("utf"):
            fallbacks[s.id] = encoding_fallback(layout.encoding)
    tables = build_tables(
        pop,
        episodes,
        cust.measures,
        participants,
        placements,
        contacts,
        off.register,
        rngs[5],
        seed,
        fallbacks,
    )

    logs: list[pl.DataFrame] = []
    rows_per_entity: dict[str, int] = {e: 0 for e in ENTITIES}
    files = 0
    file_no = 0
    for entity in ENTITIES:
        parts = {k[0]: v for k, v in tables.of(entity).partition_by("source", as_dict=True).items()}
        key = ENTITIES[entity].key
        for source in SOURCES:
            if entity not in source.entities:
                continue
            layout = registry.layout_of(source.id)
            table = parts.get(source.id, tables.of(entity).head(0))
            incremental = source.delivery(entity) == "incremental"
            corrections = {i: d for e, i, d in source.corrections if e == entity}
            prev = None
            last_snapshot = None
            for i, day_number in enumerate(source.export_dates):
                file_no += 1
                rng = np.random.default_rng(np.random.SeedSequence([seed, 1, file_no]))
                day = as_date(day_number)
                clean = export_frame(table, entity, day, prev, incremental)
                # Nothing new, no delivery: a source does not re-send an unchanged snapshot or
                # an empty increment (the next increment then covers the whole gap).
                unchanged = clean.height == 0 or (
                    not incremental and last_snapshot is not None and clean.equals(last_snapshot)
                )
                if unchanged and i not in corrections:
                    continue
                prev, last_snapshot = day, clean
                original = clean
                perturbed: list[str] = []
                if i in corrections and clean.height:
                    if incremental:
                        original, perturbed = _perturb(clean, entity, key, rng)
                    else:
                        original = _bogus(clean, key, rng)
                injected: Injected = inject_defects(original, entity, layout, defect_rate, rng)
                name = _file_name(source, entity, day, layout)
                write_export(
                    injected.frame,
                    entity,
                    layout,
                    landing / name,
                    malformed_rows=injected.malformed_rows,
                    text_date_every=XLSX_TEXT_DATE_EVERY,
                )
                files += 1
                rows_per_entity[entity] += injected.frame.height
                if injected.log.height:
                    logs.append(injected.log.with_columns(pl.lit(name).alias("file")))
                if i in corrections:
                    fixed = clean
                    if incremental:
                        resend = set(perturbed) | set(injected.keys)
                        fixed = clean.filter(pl.col(key).is_in(sorted(resend)))
                    cday = day + dt.timedelta(days=corrections[i])
                    write_export(
                        fixed,
                        entity,
                        layout,
                        landing / _file_name(source, entity, cday, layout),
                        text_date_every=XLSX_TEXT_DATE_EVERY,
                    )
                    files += 1
                    rows_per_entity[entity] += fixed.height

    defects = pl.concat(logs) if logs else pl.DataFrame(schema={**LOG_SCHEMA, "file": pl.String})
    defects = defects.select("file", "line", "kind", "column").sort("file", "line")
    defects.write_csv(truth_dir / "defects.csv", line_terminator="\n")
    truth = planted_truth(pop, cust, sel, off, hazard_ratio, seed)
    (truth_dir / "planted_truth.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return {
        "landing": str(landing),
        "files_written": files,
        "files": files,
        "rows_per_entity": rows_per_entity,
        "persons": persons,
        "participants": int(sel.treated.sum()),
        "releases": int(cust.released.sum()),
        "defects": defects.height,
    }
