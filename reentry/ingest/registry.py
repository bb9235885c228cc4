"""The source registry (sources.yml): who delivers what, in which layout, with which semantics."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reentry.contract import (
    ENTITIES_BY_KIND,
    PARTNER_TYPES,
    DeliveryMode,
    PartnerType,
    SourceKind,
)

from .config import ConfigError, load_yaml_model
from .layouts import REFERENCE, REFERENCE_LAYOUT, Layout, load_layout

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
Delivery = DeliveryMode


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(f"{value!r} is not a slug (lower-case letters, digits, hyphens)")
    return value


class Programme(BaseModel):
    """One programme: releases from its prisons in its period form the evaluation cohorts."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    country: str = Field(description="ISO 3166-1 alpha-2")
    start: dt.date
    end: dt.date
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _slug(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not _COUNTRY.match(value):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 code (two capitals)")
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for code in value:
            if not _LANGUAGE.match(code):
                raise ValueError(f"{code!r} is not an ISO 639-1 language code (two letters)")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @model_validator(mode="after")
    def _period(self) -> Programme:
        if self.end < self.start:
            raise ValueError(f"end {self.end} lies before start {self.start}")
        return self


class Source(BaseModel):
    """One organisation that delivers files."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: SourceKind
    programme: list[str] = Field(min_length=1)
    name: str
    partner_type: PartnerType | None = None
    layout: str = REFERENCE
    delivery: dict[str, Delivery] = Field(default_factory=dict)
    cadence_days: int | None = Field(
        default=None, gt=0, description="expected days between deliveries, for timeliness"
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _slug(value)

    @field_validator("layout")
    @classmethod
    def _layout(cls, value: str) -> str:
        return _slug(value)  # a file name in the layouts folder, never a path

    @field_validator("programme", mode="before")
    @classmethod
    def _programme_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kind_rules(self) -> Source:
        if self.kind == "partner" and self.partner_type is None:
            raise ValueError(f"partner_type is required for partners ({', '.join(PARTNER_TYPES)})")
        if self.kind != "partner" and self.partner_type is not None:
            raise ValueError("partner_type applies to partners only")
        if self.kind != "register" and len(self.programme) != 1:
            raise ValueError("only a register may serve more than one programme")
        allowed = ENTITIES_BY_KIND[self.kind]
        for entity in self.delivery:
            if entity not in allowed:
                raise ValueError(f"delivery.{entity}: a {self.kind} delivers {', '.join(allowed)}")
        return self

    def delivery_of(self, entity: str) -> Delivery:
        """`full` unless the registry says `incremental`."""
        return self.delivery.get(entity, "full")


class RegistryFile(BaseModel):
    """The whole sources.yml: programmes, then sources."""

    model_config = ConfigDict(extra="forbid")

    layouts_dir: str = Field(default="layouts", description="folder of layout mappings")
    # Checked in load_registry, which names the file in one line when none is declared.
    programmes: list[Programme] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> RegistryFile:
        for what, ids in (
            ("programme", [p.id for p in self.programmes]),
            ("source", [s.id for s in self.sources]),
        ):
            seen: set[str] = set()
            for ident in ids:
                if ident in seen:
                    raise ValueError(f"{what} id {ident!r} is declared twice")
                seen.add(ident)
        return self


@dataclass(frozen=True)
class Registry:
    """The validated registry with its layouts resolved."""

    path: Path
    programmes: dict[str, Programme]
    sources: dict[str, Source]
    layouts: dict[str, Layout]
    layouts_dir: Path

    def layout_of(self, source_id: str) -> Layout:
        return self.layouts[self.sources[source_id].layout]


def load_registry(path: Path) -> Registry:
    """Load sources.yml and every layout it names; raise ConfigError naming file and field."""
    path = Path(path)
    data = load_yaml_model(path, RegistryFile)
    if not data.programmes:
        raise ConfigError(
            f"{path}: no programme is declared (add a `programmes:` list with id, "
            "name, country, start and end before the sources)"
        )
    declared = {p.id for p in data.programmes}
    for source in data.sources:
        for programme in source.programme:
            if programme not in declared:
                raise ConfigError(
                    f"{path}: source {source.id} names programme {programme!r}, which is not "
                    f"declared under programmes ({', '.join(sorted(declared))})"
                )
    layouts_dir = (path.parent / data.layouts_dir).resolve()
    if not layouts_dir.is_relative_to(path.parent.resolve()):
        raise ConfigError(
            f"{path}: layouts_dir {data.layouts_dir!r} lies outside the registry's folder"
        )
    layouts: dict[str, Layout] = {REFERENCE: REFERENCE_LAYOUT}
    for i, source in enumerate(data.sources):
        if source.layout in layouts:
            continue
        layout_path = layouts_dir / f"{source.layout}.yml"
        if layout_path.is_symlink():
            raise ConfigError(
                f"{path}: sources[{i}] (id {source.id}).layout: {layout_path} is a symbolic "
                "link; layouts are files in the layouts folder (not followed)"
            )
        if not layout_path.exists():
            raise ConfigError(
                f"{path}: sources[{i}] (id {source.id}).layout: no layout mapping "
                f"{source.layout!r} (expected {layout_path})"
            )
        layout = load_layout(layout_path)
        if layout.name != source.layout:
            raise ConfigError(
                f"{layout_path}: name {layout.name!r} differs from the file name {source.layout!r}"
            )
        layouts[source.layout] = layout
    return Registry(
        path=path,
        programmes={p.id: p for p in data.programmes},
        sources={s.id: s for s in data.sources},
        layouts=layouts,
        layouts_dir=layouts_dir,
    )
