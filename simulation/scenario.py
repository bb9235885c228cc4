"""The scenario the simulation plays: programmes, prisons, partners, registers and export dates.

All of it is data (simulation/scenario.yml by default), loaded into typed models; the
code only knows the *kinds* of things (a placement route is a keyword it branches on). Errors
name the file and the field, like every other configuration file of the project.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reentry.contract import ENTITIES_BY_KIND, PartnerType
from reentry.ingest.config import load_yaml_model
from reentry.ingest.registry import Programme

from .names import ORIGINS

DEFAULT_SCENARIO = Path(__file__).parent / "scenario.yml"
UNKNOWN = "unknown"  # nationality key of "not recorded" (an empty field in the exports)
Route = Literal["detention", "sports_club", "none"]


def _increasing(dates: list[dt.date] | None) -> list[dt.date] | None:
    if dates is not None and any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
        raise ValueError("export dates must be strictly increasing")
    return dates


def _shares(value: dict[str, float], what: str) -> dict[str, float]:
    if not value or any(v < 0 for v in value.values()) or sum(value.values()) <= 0:
        raise ValueError(f"{what}: shares must be non-negative with a positive sum")
    return value


class Correction(BaseModel):
    """An export re-sent `days_after` days later without its defects (and bogus records)."""

    model_config = ConfigDict(extra="forbid")

    entity: str
    export: int = Field(ge=0, description="0-based index of the export it corrects")
    days_after: int = Field(ge=1)


class Schedule(BaseModel):
    """Default export dates and cadence of a programme's prisons or partners."""

    model_config = ConfigDict(extra="forbid")

    dates: list[dt.date] | None = None
    cadence_days: int | None = Field(default=None, gt=0)

    @field_validator("dates")
    @classmethod
    def _dates(cls, value: list[dt.date] | None) -> list[dt.date] | None:
        return _increasing(value)


class SourceSpecModel(BaseModel):
    """Fields every simulated source has."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    prefix: str = Field(min_length=1, description="letters of its own record numbers")
    layout: str = "reference"
    export_dates: list[dt.date] | None = None
    cadence_days: int | None = Field(default=None, gt=0)
    corrections: list[Correction] = Field(default_factory=list)

    @field_validator("export_dates")
    @classmethod
    def _dates(cls, value: list[dt.date] | None) -> list[dt.date] | None:
        return _increasing(value)


class PrisonModel(SourceSpecModel):
    """A prison of one programme."""

    weight: float = Field(default=1.0, gt=0, description="relative number of releases")
    booking_numbers: Literal["prefixed", "digits"] = "prefixed"
    usual_partner: str | None = Field(
        default=None, description="partner taking most of this prison's referrals"
    )


class PartnerModel(SourceSpecModel):
    """A partner organisation of one programme."""

    partner_type: PartnerType
    entities: list[str] | None = None

    @model_validator(mode="after")
    def _entities(self) -> PartnerModel:
        if self.entities is None:
            self.entities = ["participants", "placements"]
            if self.partner_type == "aftercare":
                self.entities.append("aftercare_contacts")
        for entity in self.entities:
            if entity not in ENTITIES_BY_KIND["partner"]:
                raise ValueError(
                    f"entities: {entity!r} is not a partner entity "
                    f"({', '.join(ENTITIES_BY_KIND['partner'])})"
                )
        return self


class RegisterModel(SourceSpecModel):
    """A criminal register serving one or more programmes."""

    programmes: list[str] = Field(min_length=1)
    entry_id_separator: str = "-"
    entry_id_digits: int = Field(default=9, ge=4, le=16)
    export_dates: list[dt.date] = Field(min_length=1)


# The demo's registry of programmes (registry.yml): what a scenario's programme of the same id
# does not declare itself.
DEMO_REGISTRY = Path(__file__).parent / "registry.yml"


@functools.cache
def _demo_programmes() -> dict[str, dict]:
    doc = yaml.safe_load(DEMO_REGISTRY.read_text(encoding="utf-8"))
    return {p["id"]: p for p in doc["programmes"]}


class ProgrammeModel(Programme):
    """A programme as the registry declares it, plus what the simulation needs to play it."""

    @model_validator(mode="before")
    @classmethod
    def _registry_entry(cls, data):
        """Name, country, period and languages from the demo's registry, unless given."""
        if isinstance(data, dict) and data.get("id") in _demo_programmes():
            return {**_demo_programmes()[data["id"]], **data}
        return data

    share: float = Field(gt=0, description="relative share of the simulated persons")
    nationalities: dict[str, float] | None = None
    placement_route: Route = "none"
    participation_share: float = Field(default=0.2, gt=0, lt=1)
    hazard_shift: float = 0.0
    partner_type_weights: dict[PartnerType, float] | None = None
    usual_partner_share: float = Field(default=0.8, ge=0, le=1)
    prison_exports: Schedule = Field(default_factory=Schedule)
    partner_exports: Schedule = Field(default_factory=Schedule)
    prisons: list[PrisonModel] = Field(min_length=1)
    partners: list[PartnerModel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fill(self) -> ProgrammeModel:
        if self.nationalities is None:
            self.nationalities = {self.country: 0.97, UNKNOWN: 0.03}
        _shares(self.nationalities, "nationalities")
        if self.partner_type_weights is not None:
            _shares(self.partner_type_weights, "partner_type_weights")
        for group, schedule, kind in (
            (self.prisons, self.prison_exports, "prison"),
            (self.partners, self.partner_exports, "partner"),
        ):
            for i, source in enumerate(group):
                if source.export_dates is None:
                    if schedule.dates is None:
                        raise ValueError(
                            f"{kind}s[{i}] (id {source.id}): no export_dates, and no "
                            f"{kind}_exports.dates default"
                        )
                    source.export_dates = list(schedule.dates)
                if source.cadence_days is None:
                    source.cadence_days = schedule.cadence_days or _cadence(source.export_dates)
        partners = {p.id: p for p in self.partners}
        for i, prison in enumerate(self.prisons):
            if prison.usual_partner is not None and (
                prison.usual_partner not in partners
                or "participants" not in (partners[prison.usual_partner].entities or [])
            ):
                raise ValueError(
                    f"prisons[{i}] (id {prison.id}).usual_partner: {prison.usual_partner!r} is "
                    "not a partner of this programme that delivers participants"
                )
        if self.placement_route == "sports_club" and not any(
            p.partner_type == "sports_club" for p in self.partners
        ):
            raise ValueError("placement_route sports_club needs a partner of type sports_club")
        last_prison_export = max(d for p in self.prisons for d in p.export_dates or [])
        if last_prison_export <= self.end:
            raise ValueError(
                f"the last prison export ({last_prison_export}) must lie after the programme "
                f"end ({self.end}), or its releases are never seen"
            )
        return self


def _cadence(dates: list[dt.date] | None) -> int:
    """Mean days between exports (365 for a single export)."""
    if not dates or len(dates) < 2:
        return 365
    return max(1, round((dates[-1] - dates[0]).days / (len(dates) - 1)))


class Scenario(BaseModel):
    """The whole scenario file."""

    model_config = ConfigDict(extra="forbid")

    name_origins: dict[str, dict[str, float]]
    programmes: list[ProgrammeModel] = Field(min_length=1)
    registers: list[RegisterModel] = Field(min_length=1)

    @field_validator("name_origins")
    @classmethod
    def _origins(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for nationality, shares in value.items():
            _shares(shares, f"name_origins.{nationality}")
            for origin in shares:
                if origin not in ORIGINS:
                    raise ValueError(
                        f"name_origins.{nationality}: {origin!r} is not a name origin "
                        f"({', '.join(ORIGINS)})"
                    )
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        seen: set[str] = set()
        for ident in (
            [p.id for p in self.programmes]
            + [s.id for p in self.programmes for s in (*p.prisons, *p.partners)]
            + [r.id for r in self.registers]
        ):
            if ident in seen:
                raise ValueError(f"id {ident!r} is declared twice")
            seen.add(ident)
        declared = [p.id for p in self.programmes]
        served: dict[str, list[str]] = {p: [] for p in declared}
        for i, reg in enumerate(self.registers):
            reg.cadence_days = reg.cadence_days or _cadence(reg.export_dates)
            for programme in reg.programmes:
                if programme not in served:
                    raise ValueError(
                        f"registers[{i}] (id {reg.id}).programmes: {programme!r} is not a "
                        f"declared programme ({', '.join(declared)})"
                    )
                served[programme].append(reg.id)
        for i, p in enumerate(self.programmes):
            if len(served[p.id]) != 1:
                raise ValueError(
                    f"programmes[{i}] (id {p.id}): served by {len(served[p.id])} registers "
                    f"({', '.join(served[p.id]) or 'none'}); exactly one must list it"
                )
            for nationality in p.nationalities or {}:
                if nationality not in self.name_origins:
                    raise ValueError(
                        f"programmes[{i}] (id {p.id}).nationalities: {nationality!r} has no "
                        "entry under name_origins"
                    )
            for j, source in enumerate([*p.prisons, *p.partners]):
                kind = "prison" if j < len(p.prisons) else "partner"
                _check_corrections(source, kind, f"programmes[{i}] (id {p.id}), {source.id}")
        for i, reg in enumerate(self.registers):
            _check_corrections(reg, "register", f"registers[{i}] (id {reg.id})")
        return self


def _check_corrections(source: SourceSpecModel, kind: str, where: str) -> None:
    entities = (
        source.entities if isinstance(source, PartnerModel) else ENTITIES_BY_KIND[kind]
    ) or []
    for c in source.corrections:
        if c.entity not in entities:
            raise ValueError(f"{where}.corrections: {source.id} does not deliver {c.entity}")
        if c.export >= len(source.export_dates or []):
            raise ValueError(
                f"{where}.corrections: export {c.export} does not exist "
                f"({len(source.export_dates or [])} export dates)"
            )


def load_scenario(path: Path | None = None) -> Scenario:
    """Load and check a scenario file (default: the package's scenario.yml); raise
    reentry.ingest.config.ConfigError naming the file and the field."""
    return load_yaml_model(Path(path) if path is not None else DEFAULT_SCENARIO, Scenario)


__all__ = [
    "DEFAULT_SCENARIO",
    "UNKNOWN",
    "Scenario",
    "ProgrammeModel",
    "PrisonModel",
    "PartnerModel",
    "RegisterModel",
    "load_scenario",
]
