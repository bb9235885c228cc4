"""Orchestration: simulate, build per-source tables, write every export, the defect log and
the planted truth."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from reentry.contract import ENTITIES
from reentry.ingest.layouts import Layout
from reentry.ingest.registry import load_registry

from .custody import Custody, simulate_custody
from .defects import LOG_SCHEMA, Injected, inject_defects
from .export import write_export
from .names import encoding_fallback
from .offending import HAZARD_RATIO, Offending, simulate_offending
from .population import Population, simulate_population
from .programme import Selection, participant_records, programme_records
from .register import History, simulate_history
from .scenario import load_scenario
from .selection import DEFAULT_HIDDEN_CONFOUNDING, Participation, draw_participation
from .snapshots import as_date, export_frame
from .sources import Catalogue, SourceSpec, build_catalogue, write_registry
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


@dataclass
class Simulation:
    """Everything simulated before the files are written (for generate_demo and tests)."""

    cat: Catalogue
    pop: Population
    cust: Custody
    hist: History
    participation: Participation
    sel: Selection
    off: Offending
    participants: pl.DataFrame
    placements: pl.DataFrame
    contacts: pl.DataFrame
    rng_tables: np.random.Generator


def simulate(
    persons: int,
    seed: int = 42,
    scenario: Path | Catalogue | None = None,
    hidden_confounding: float = DEFAULT_HIDDEN_CONFOUNDING,
    random_participation: bool = False,
    hazard_ratio: float = HAZARD_RATIO,
) -> Simulation:
    """Simulate `persons` people of the scenario's programmes (no files written).

    `scenario`: a scenario file, an already compiled catalogue, or None for the package's
    scenario.yml. Same arguments, same arrays.
    """
    if not 0.0 <= hidden_confounding <= 1.0:
        raise ValueError(f"hidden_confounding must lie in [0, 1], not {hidden_confounding}")
    cat = scenario if isinstance(scenario, Catalogue) else build_catalogue(load_scenario(scenario))
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    pop = simulate_population(persons, rngs[0], cat)
    cust = simulate_custody(pop, rngs[1], cat)
    hist = simulate_history(pop, cust, rngs[2])
    part = draw_participation(
        pop, cust, hist, cat, rngs[3], hidden_confounding, random_participation
    )
    sel = participant_records(pop, cust, cat, part.treated, rngs[4])
    off = simulate_offending(pop, cust, hist, cat, sel.treated, rngs[5], hazard_ratio)
    participants, placements, contacts = programme_records(pop, cust, cat, sel, off, rngs[6])
    return Simulation(
        cat, pop, cust, hist, part, sel, off, participants, placements, contacts, rngs[7]
    )


def generate_demo(
    landing: Path,
    truth_dir: Path,
    persons: int = 10_000,
    seed: int = 42,
    defect_rate: float = 0.01,
    hazard_ratio: float = HAZARD_RATIO,
    reference_only: bool = False,
    hidden_confounding: float = DEFAULT_HIDDEN_CONFOUNDING,
    random_participation: bool = False,
    scenario: Path | None = None,
) -> dict:
    """Simulate `persons` people of the scenario's programmes and write the landing folder.

    Writes landing/sources.yml (programmes and sources of the scenario), landing/layouts/*.yml
    and landing/<source>/<entity>.<date>.<ext>, and outside the landing folder
    truth_dir/planted_truth.json and truth_dir/defects.csv. `scenario` is a scenario file
    (default: the package's scenario.yml); `hidden_confounding` in [0, 1] is the weight of the
    latent risk in who participates (0: observables only); `random_participation` makes
    participation a coin flip. Same arguments give byte-identical files. Returns a summary.
    """
    if not 0.0 <= hidden_confounding <= 1.0:
        raise ValueError(f"hidden_confounding must lie in [0, 1], not {hidden_confounding}")
    landing, truth_dir = Path(landing), Path(truth_dir)
    if truth_dir.resolve().is_relative_to(landing.resolve()):
        raise ValueError("truth_dir must lie outside the landing folder")
    cat = build_catalogue(load_scenario(scenario))
    landing.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    copy_layouts(landing)
    registry = load_registry(write_registry(landing, cat, reference_only))

    sim = simulate(persons, seed, cat, hidden_confounding, random_participation, hazard_ratio)
    pop, cust, off = sim.pop, sim.cust, sim.off
    episodes = pl.concat([cust.episodes, off.reincarceration_episodes])
    fallbacks = {}
    for s in cat.sources:
        layout = registry.layout_of(s.id)
        if layout.format == "csv" and not layout.encoding.startswith("utf"):
            fallbacks[s.id] = encoding_fallback(layout.encoding)
    tables = build_tables(
        pop,
        cat,
        episodes,
        cust.measures,
        sim.participants,
        sim.placements,
        sim.contacts,
        off.register,
        sim.rng_tables,
        seed,
        fallbacks,
    )

    logs: list[pl.DataFrame] = []
    rows_per_entity: dict[str, int] = {e: 0 for e in ENTITIES}
    files = 0
    file_no = 0
    register_exports: list[dt.date] = []  # the warehouse's as-of date is the newest
    for entity in ENTITIES:
        parts = {k[0]: v for k, v in tables.of(entity).partition_by("source", as_dict=True).items()}
        key = ENTITIES[entity].key
        for source in cat.sources:
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
                if source.kind == "register":
                    register_exports.append(day)
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
                    if source.kind == "register":
                        register_exports.append(cday)

    defects = pl.concat(logs) if logs else pl.DataFrame(schema={**LOG_SCHEMA, "file": pl.String})
    defects = defects.select("file", "line", "kind", "column").sort("file", "line")
    defects.write_csv(truth_dir / "defects.csv", line_terminator="\n")
    # The as-of date of the truth is the warehouse's default: the newest register file.
    as_of = (
        float((max(register_exports) - dt.date(1970, 1, 1)).days) if register_exports else cat.as_of
    )
    truth = planted_truth(
        pop,
        cust,
        sim.hist,
        cat,
        sim.sel.treated,
        sim.participation.model,
        off,
        hazard_ratio,
        seed,
        as_of,
    )
    (truth_dir / "planted_truth.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return {
        "landing": str(landing),
        "files_written": files,
        "files": files,
        "rows_per_entity": rows_per_entity,
        "persons": persons,
        "participants": int(sim.sel.treated.sum()),
        "releases": int(cust.released.sum()),
        "defects": defects.height,
    }
