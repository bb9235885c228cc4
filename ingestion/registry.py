"""The source registry (sources.yml): who delivers what, in which layout, with which semantics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .config import ConfigError, load_yaml_model
from .contract import ENTITIES_BY_KIND, PARTNER_TYPES
from .layouts import REFERENCE, REFERENCE_LAYOUT, Layout, load_layout

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
Delivery = Literal["full", "incremental"]


class Source(BaseModel):
    """One organisation that delivers files."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: Literal["prison", "partner", "register"]
    programme: list[Literal["mabis", "exodus"]]
    name: str
    partner_type: (
        Literal["aftercare", "training_provider", "temp_agency", "job_centre",
                "employer_network", "sports_club"]
        | None
    ) = None
    layout: str = REFERENCE
    delivery: dict[str, Delivery] = Field(default_factory=dict)
    cadence_days: int | None = Field(
        default=None, gt=0, description="expected days between deliveries, for timeliness"
    )

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r} is not a slug (lower-case letters, digits, hyphens)")
        return value

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
                raise ValueError(
                    f"delivery.{entity}: a {self.kind} delivers {', '.join(allowed)}"
                )
        return self

    def delivery_of(self, entity: str) -> Delivery:
        """`full` unless the registry says `incremental`."""
        return self.delivery.get(entity, "full")


class RegistryFile(BaseModel):
    """The whole sources.yml."""

    model_config = ConfigDict(extra="forbid")

    layouts_dir: str = Field(default="layouts", description="folder of layout mappings")
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> RegistryFile:
        seen: set[str] = set()
        for s in self.sources:
            if s.id in seen:
                raise ValueError(f"source id {s.id!r} is declared twice")
            seen.add(s.id)
        return self


@dataclass(frozen=True)
class Registry:
    """The validated registry with its layouts resolved."""

    path: Path
    sources: dict[str, Source]
    layouts: dict[str, Layout]
    layouts_dir: Path

    def layout_of(self, source_id: str) -> Layout:
        return self.layouts[self.sources[source_id].layout]


def load_registry(path: Path) -> Registry:
    """Load sources.yml and every layout it names; raise ConfigError naming file and field."""
    path = Path(path)
    data = load_yaml_model(path, RegistryFile)
    layouts_dir = (path.parent / data.layouts_dir).resolve()
    layouts: dict[str, Layout] = {REFERENCE: REFERENCE_LAYOUT}
    for i, source in enumerate(data.sources):
        if source.layout in layouts:
            continue
        layout_path = layouts_dir / f"{source.layout}.yml"
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
        sources={s.id: s for s in data.sources},
        layouts=layouts,
        layouts_dir=layouts_dir,
    )
