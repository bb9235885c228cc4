"""The scenario compiled for the simulation: every source with its schedule as day numbers,
index arrays per programme, and the source registry (sources.yml) written from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .dates import day
from .names import ORIGINS
from .scenario import UNKNOWN, ProgrammeModel, Scenario

INCREMENTAL = {"placements", "aftercare_contacts", "register_entries"}
ROUTES = ("none", "detention", "sports_club")


@dataclass(frozen=True)
class SourceSpec:
    """One simulated source and its delivery schedule."""

    id: str
    kind: str  # prison | partner | register
    programmes: tuple[int, ...]  # indices into Catalogue.programmes
    name: str
    prefix: str  # letters of its own record numbers
    layout: str = "reference"
    partner_type: str | None = None
    entities: tuple[str, ...] = ()
    export_dates: tuple[float, ...] = ()
    cadence_days: int = 365
    # (entity, index of the export it corrects, days after that export)
    corrections: tuple[tuple[str, int, int], ...] = field(default_factory=tuple)
    weight: float = 1.0  # prisons: relative size
    booking_numbers: str = "prefixed"  # prisons: prefixed (KLN-001234) or digits (00012345)
    usual_partner: int = -1  # prisons: index into Catalogue.partners, -1 = none
    entry_id_separator: str = "-"  # registers
    entry_id_digits: int = 9  # registers

    @property
    def programme(self) -> int:
        """The (first) programme the source serves."""
        return self.programmes[0]

    def delivery(self, entity: str) -> str:
        """Registers, placements and contacts send increments; the rest full snapshots."""
        return "incremental" if entity in INCREMENTAL else "full"


@dataclass
class Catalogue:
    """Sources and per-programme arrays (index p = position in `programmes`)."""

    scenario: Scenario
    programmes: list[ProgrammeModel]
    sources: list[SourceSpec]
    prisons: list[SourceSpec]
    partners: list[SourceSpec]
    registers: list[SourceSpec]
    source_index: dict[str, int]
    prisons_of: dict[int, np.ndarray]  # global prison numbers (positions in `prisons`)
    partners_of: dict[int, np.ndarray]  # global partner numbers (positions in `partners`)
    period_start: np.ndarray  # day number per programme
    period_end: np.ndarray
    last_prison_export: np.ndarray  # day number per programme
    follow_up_end: float  # the last export date of the whole scenario
    as_of: float  # the newest register export date (corrections included)
    register_of: np.ndarray  # register number per programme
    nationalities: tuple[str, ...]  # ISO codes, "" = unknown
    nationality_probs: np.ndarray  # programmes x nationalities
    home_nationality: np.ndarray  # index into nationalities per programme (-1: none)
    origin_probs: np.ndarray  # nationalities x names.ORIGINS
    route: np.ndarray  # index into ROUTES per programme
    share: np.ndarray  # share of persons per programme (sums to 1)
    participation_share: np.ndarray
    hazard_shift: np.ndarray

    @property
    def ids(self) -> tuple[str, ...]:
        """Programme ids in scenario order."""
        return tuple(p.id for p in self.programmes)


def _days(dates) -> tuple[float, ...]:
    return tuple(day(d.isoformat()) for d in dates)


def _corrections(model) -> tuple[tuple[str, int, int], ...]:
    return tuple((c.entity, c.export, c.days_after) for c in model.corrections)


def _positions_by_programme(sources, n_programmes: int) -> dict[int, np.ndarray]:
    """Per programme index: the positions of its sources in `sources`."""
    return {
        p: np.array([i for i, s in enumerate(sources) if s.programme == p], dtype=np.int64)
        for p in range(n_programmes)
    }


def build_catalogue(scenario: Scenario) -> Catalogue:
    """Number the scenario's sources and lay its programme parameters out as arrays."""
    programmes = list(scenario.programmes)
    prisons: list[SourceSpec] = []
    partners: list[SourceSpec] = []
    partner_no = {s.id: i for i, s in enumerate(s for p in programmes for s in p.partners)}
    for p, prog in enumerate(programmes):
        for s in prog.prisons:
            prisons.append(
                SourceSpec(
                    s.id,
                    "prison",
                    (p,),
                    s.name,
                    s.prefix,
                    s.layout,
                    None,
                    ("inmates", "custody_episodes", "prison_measures"),
                    _days(s.export_dates),
                    int(s.cadence_days or 365),
                    _corrections(s),
                    weight=s.weight,
                    booking_numbers=s.booking_numbers,
                    usual_partner=partner_no[s.usual_partner] if s.usual_partner else -1,
                )
            )
    for p, prog in enumerate(programmes):
        for s in prog.partners:
            partners.append(
                SourceSpec(
                    s.id,
                    "partner",
                    (p,),
                    s.name,
                    s.prefix,
                    s.layout,
                    s.partner_type,
                    tuple(s.entities or ()),
                    _days(s.export_dates),
                    int(s.cadence_days or 365),
                    _corrections(s),
                )
            )
    ids = [p.id for p in programmes]
    registers = [
        SourceSpec(
            r.id,
            "register",
            tuple(ids.index(x) for x in r.programmes),
            r.name,
            r.prefix,
            r.layout,
            None,
            ("register_entries",),
            _days(r.export_dates),
            int(r.cadence_days or 365),
            _corrections(r),
            entry_id_separator=r.entry_id_separator,
            entry_id_digits=r.entry_id_digits,
        )
        for r in scenario.registers
    ]
    sources = [*prisons, *partners, *registers]
    n_prog = len(programmes)
    register_of = np.zeros(n_prog, dtype=np.int64)
    for i, r in enumerate(registers):
        register_of[list(r.programmes)] = i

    # Nationalities in order of first mention; "" is the empty field of "not recorded".
    codes: list[str] = []
    for prog in programmes:
        for code in prog.nationalities or {}:
            if code not in codes:
                codes.append(code)
    nationalities = tuple("" if c == UNKNOWN else c for c in codes)
    nat_probs = np.array(
        [[(prog.nationalities or {}).get(c, 0.0) for c in codes] for prog in programmes]
    )
    origin_probs = np.array(
        [[scenario.name_origins[c].get(o, 0.0) for o in ORIGINS] for c in codes]
    )
    home = np.array(
        [nationalities.index(p.country) if p.country in nationalities else -1 for p in programmes]
    )
    share = np.array([p.share for p in programmes], dtype=np.float64)
    last_export = max(d for s in sources for d in s.export_dates)
    # Scheduled: an export with nothing new is not sent, so generate_demo uses the newest
    # register file it actually wrote.
    as_of = max(
        d
        for r in registers
        for d in (*r.export_dates, *(r.export_dates[i] + k for _, i, k in r.corrections))
    )
    return Catalogue(
        scenario=scenario,
        programmes=programmes,
        sources=sources,
        prisons=prisons,
        partners=partners,
        registers=registers,
        source_index={s.id: i for i, s in enumerate(sources)},
        prisons_of=_positions_by_programme(prisons, n_prog),
        partners_of=_positions_by_programme(partners, n_prog),
        period_start=np.array([day(p.start.isoformat()) for p in programmes]),
        period_end=np.array([day(p.end.isoformat()) for p in programmes]),
        last_prison_export=np.array(
            [
                max(d for s in prisons if s.programme == p for d in s.export_dates)
                for p in range(n_prog)
            ]
        ),
        follow_up_end=last_export,
        as_of=as_of,
        register_of=register_of,
        nationalities=nationalities,
        nationality_probs=nat_probs,
        home_nationality=home,
        origin_probs=origin_probs,
        route=np.array([ROUTES.index(p.placement_route) for p in programmes], dtype=np.int64),
        share=share / share.sum(),
        participation_share=np.array([p.participation_share for p in programmes]),
        hazard_shift=np.array([p.hazard_shift for p in programmes]),
    )


def registry_document(cat: Catalogue, reference_only: bool = False) -> dict:
    """sources.yml as a plain mapping (the shape reentry.ingest.registry validates); with
    `reference_only`, every source delivers in the reference layout (the benchmark's baselines
    read those files directly)."""
    programmes = [
        {
            "id": p.id,
            "name": p.name,
            "country": p.country,
            "start": p.start,
            "end": p.end,
            "languages": list(p.languages),
        }
        for p in cat.programmes
    ]
    rows = []
    for s in cat.sources:
        ids = [cat.programmes[p].id for p in s.programmes]
        row: dict = {
            "id": s.id,
            "kind": s.kind,
            "programme": ids[0] if len(ids) == 1 else ids,
            "name": s.name,
        }
        if s.partner_type:
            row["partner_type"] = s.partner_type
        row["layout"] = "reference" if reference_only else s.layout
        row["delivery"] = {e: s.delivery(e) for e in s.entities}
        row["cadence_days"] = s.cadence_days
        rows.append(row)
    return {"layouts_dir": "layouts", "programmes": programmes, "sources": rows}


def write_registry(landing: Path, cat: Catalogue, reference_only: bool = False) -> Path:
    """Write landing/sources.yml."""
    path = landing / "sources.yml"
    text = "# Source registry of the simulated demo (generated by reentry.simulation).\n"
    text += yaml.safe_dump(
        registry_document(cat, reference_only), allow_unicode=True, sort_keys=False, width=100
    )
    path.write_text(text, encoding="utf-8")
    return path
