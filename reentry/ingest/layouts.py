"""Layout mappings: how a source's own file format differs from the reference layout.

A layout is a YAML file (see README, "Adding a partner"): encoding, delimiter, date formats,
decimal comma, header names and code words per entity. Reading applies it; the demo
generator applies it in reverse to write the same formats real sources send.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reentry.contract import ENTITIES

from .config import load_yaml_model

REFERENCE = "reference"


class EntityLayout(BaseModel):
    """How one entity's file differs: header names, code words, Excel sheet."""

    model_config = ConfigDict(extra="forbid")

    sheet: str | None = Field(default=None, description="xlsx only: sheet name (default: first)")
    columns: dict[str, str] = Field(
        default_factory=dict, description="source header -> reference column"
    )
    codes: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="reference column -> {source word: reference code}"
    )


class Layout(BaseModel):
    """A source format: the file conventions plus a mapping per entity."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    format: Literal["csv", "xlsx"] = "csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d"], min_length=1)
    decimal: Literal[".", ","] = "."
    codes: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="codes shared by every entity with that column"
    )
    entities: dict[str, EntityLayout] = Field(default_factory=dict)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, cp1252, latin-1)") from None

    @field_validator("delimiter", "quote")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"must be a single character, got {value!r}")
        return value

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, value: list[str]) -> list[str]:
        for fmt in value:
            if not all(tok in fmt for tok in ("%d", "%m")) or "%Y" not in fmt:
                raise ValueError(f"date format {fmt!r} needs %d, %m and %Y")
        return value

    @model_validator(mode="after")
    def _targets_exist(self) -> Layout:
        problems: list[str] = []
        for ent_name, ent_layout in self.entities.items():
            if ent_name not in ENTITIES:
                problems.append(
                    f"entities.{ent_name}: unknown entity (one of {', '.join(ENTITIES)})"
                )
                continue
            entity = ENTITIES[ent_name]
            targets = list(ent_layout.columns.values())
            for header, target in ent_layout.columns.items():
                if target not in entity.column_names:
                    problems.append(
                        f"entities.{ent_name}.columns.{header}: {target!r} is not a column of "
                        f"{ent_name} ({', '.join(entity.column_names)})"
                    )
            for dup in {t for t in targets if targets.count(t) > 1}:
                problems.append(f"entities.{ent_name}.columns: {dup!r} is mapped twice")
            problems += _check_codes(f"entities.{ent_name}.codes", ent_layout.codes, [ent_name])
        problems += _check_codes("codes", self.codes, list(ENTITIES))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def entity(self, name: str) -> EntityLayout:
        """The mapping for one entity (an empty one where the layout says nothing)."""
        return self.entities.get(name, EntityLayout())

    def code_map(self, entity: str, column: str) -> dict[str, str]:
        """Source word -> reference code for one column (entity words override shared ones)."""
        return {**self.codes.get(column, {}), **self.entity(entity).codes.get(column, {})}

    def header_map(self, entity: str) -> dict[str, str]:
        """Source header -> reference column for one entity."""
        return dict(self.entity(entity).columns)


def _check_codes(where: str, codes: dict[str, dict[str, str]], entities: list[str]) -> list[str]:
    problems = []
    for column, words in codes.items():
        cols = [ENTITIES[e].column(column) for e in entities if column in ENTITIES[e].column_names]
        if not cols:
            problems.append(f"{where}.{column}: no such column")
            continue
        if any(c.type != "code" for c in cols):
            problems.append(f"{where}.{column}: not a code column")
            continue
        allowed = set().union(*(c.codes for c in cols))
        for word, code in words.items():
            if allowed and code not in allowed:
                problems.append(
                    f"{where}.{column}.{word}: {code!r} is not a code of {column} "
                    f"({', '.join(sorted(allowed))})"
                )
    return problems


REFERENCE_LAYOUT = Layout(name=REFERENCE, description="the reference layout of exports.md")


def load_layout(path: Path) -> Layout:
    """Load and validate one layout mapping file."""
    return load_yaml_model(path, Layout)
