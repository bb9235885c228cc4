"""The contract as data, loaded from the repository's `contract/` folder: the entities of the
export contract (exports.md; one YAML per entity), every closed code list of the exports and of
the warehouse's own tables (`codes.yml`), the contract's other rules (`rules.yml`) and which
indicators each output shows (`outputs.yml`).

Everything that checks or writes a file, the validation and the outputs read these
definitions; nothing else hard-codes a column name or a code list. dbt reads the code lists
from the work database (`ingest.code_lists`, written by the ingestion from `CODE_LISTS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

ColumnType = Literal["text", "date", "integer", "decimal", "code"]

CONTRACT_DIR = Path(__file__).resolve().parents[1] / "contract"


def _load(name: str) -> Any:
    return yaml.safe_load((CONTRACT_DIR / name).read_text(encoding="utf-8"))


_CODES = _load("codes.yml")
# Every closed code list by name: the exports' and the warehouse's (codes.yml).
CODE_LISTS: dict[str, tuple[str, ...]] = {
    name: tuple(str(code) for code in codes)
    for part in ("exports", "warehouse")
    for name, codes in _CODES[part].items()
}
# Code lists the source registry's models check (pydantic validates them as Literals).
SourceKind = Literal[CODE_LISTS["source_kind"]]  # type: ignore[valid-type]
PartnerType = Literal[CODE_LISTS["partner_type"]]  # type: ignore[valid-type]
DeliveryMode = Literal[CODE_LISTS["delivery_mode"]]  # type: ignore[valid-type]


@dataclass(frozen=True)
class Column:
    """One column of an entity in the reference layout."""

    name: str
    type: ColumnType
    required: bool = False
    codes: tuple[str, ...] = ()
    # Identifying columns build the pseudonym and are never stored, logged or quarantined.
    identifying: bool = False
    # Event dates may not lie after the export date; planned dates may.
    future_allowed: bool = False


@dataclass(frozen=True)
class DateOrder:
    """A pair of dates where `later` may not lie before `earlier` in the same row."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Entity:
    """One entity a source delivers: its columns, its key and its row rules."""

    name: str
    kind: SourceKind
    key: str
    columns: tuple[Column, ...]
    date_orders: tuple[DateOrder, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def has_person(self) -> bool:
        """True when rows carry name and birth date, so a pseudonym is made."""
        return any(c.identifying for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"entity {self.name!r} has no column {name!r}")


def _entity(doc: dict) -> Entity:
    columns = tuple(
        Column(
            c["name"],
            c["type"],
            required=c.get("required", False),
            codes=CODE_LISTS[c["codes"]] if "codes" in c else (),
            identifying=c.get("identifying", False),
            future_allowed=c.get("future_allowed", False),
        )
        for c in doc["columns"]
    )
    orders = tuple(DateOrder(o["earlier"], o["later"]) for o in doc.get("date_orders", ()))
    return Entity(doc["entity"], doc["kind"], doc["key"], columns, orders)


_RULES = _load("rules.yml")
# The entities in the order of exports.md (rules.yml), each from its own file.
ENTITIES: dict[str, Entity] = {
    name: _entity(_load(f"entities/{name}.yml")) for name in _RULES["entities"]
}
_FILES = {p.stem for p in (CONTRACT_DIR / "entities").glob("*.yml")}
if set(ENTITIES) != _FILES:
    raise RuntimeError(
        f"contract/entities/ holds {sorted(_FILES)}, but rules.yml lists {list(ENTITIES)}"
    )

ENTITIES_BY_KIND: dict[str, tuple[str, ...]] = {
    kind: tuple(e.name for e in ENTITIES.values() if e.kind == kind)
    for kind in CODE_LISTS["source_kind"]
}

OFFENCE_GROUPS = CODE_LISTS["offence_group"]
PARTNER_TYPES = CODE_LISTS["partner_type"]

# Quarantine reasons: what a person reads in the load report.
QUARANTINE_REASONS: dict[str, str] = dict(_RULES["quarantine_reasons"])
# Reading is bounded: longer lines are quarantined unread, larger files rejected unread.
MAX_LINE_BYTES = int(_RULES["max_line_bytes"])
MAX_FILE_BYTES = int(_RULES["max_file_bytes"])
# Plausible dates: nothing in this domain happened before this day.
EARLIEST_DATE = str(_RULES["earliest_date"])

INDICATOR_CODES = tuple(code.split(":")[0] for code in CODE_LISTS["programme_indicator"])


def output_indicators(doc: dict) -> dict[str, tuple[str, ...]]:
    """Which programme indicators each output shows (outputs.yml), in display order; a code
    that is not a programme indicator stops with the output's name."""
    out = {output: tuple(str(c) for c in codes) for output, codes in doc["indicators"].items()}
    for output, codes in out.items():
        unknown = sorted(set(codes) - set(INDICATOR_CODES))
        if unknown:
            raise RuntimeError(
                f"contract/outputs.yml: {output} names {', '.join(unknown)}, which codes.yml "
                "does not list as a programme_indicator"
            )
    return out


_OUTPUTS = _load("outputs.yml")
OUTPUT_INDICATORS = output_indicators(_OUTPUTS)
# The estimators of the effect the site's charts show (outputs.yml).
OUTPUT_ESTIMATORS = tuple(str(e) for e in _OUTPUTS["estimators"])
if not set(OUTPUT_ESTIMATORS) <= set(CODE_LISTS["effect_estimator"]):
    raise RuntimeError(
        f"contract/outputs.yml: estimators {list(OUTPUT_ESTIMATORS)} are not all of codes.yml's "
        f"effect_estimator {list(CODE_LISTS['effect_estimator'])}"
    )
