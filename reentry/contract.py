"""The export contract of ../shared/spec/exports.md as data: entities, columns, types, code lists.

Everything that checks or writes a file reads these definitions; nothing else hard-codes a
column name or a code list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "date", "integer", "decimal", "code"]

OFFENCE_GROUPS = (
    "violent",
    "sexual",
    "property",
    "fraud",
    "drugs",
    "traffic",
    "public_order",
    "other",
)
YES_NO = ("yes", "no")
NACE_SECTIONS = tuple("ABCDEFGHIJKLMNOPQRSTU")


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
    kind: Literal["prison", "partner", "register"]
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


_PERSON = (
    Column("family_name", "text", required=True, identifying=True),
    Column("given_name", "text", required=True, identifying=True),
    Column("birth_date", "date", required=True, identifying=True),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "inmates",
            "prison",
            key="inmate_id",
            columns=(
                Column("inmate_id", "text", required=True),
                *_PERSON,
                Column("sex", "code", codes=("m", "f", "x", "u")),
                Column("nationality", "code"),  # ISO alpha-2, checked by pattern
            ),
        ),
        Entity(
            "custody_episodes",
            "prison",
            key="episode_id",
            columns=(
                Column("episode_id", "text", required=True),
                Column("inmate_id", "text", required=True),
                Column("admission_date", "date", required=True),
                Column(
                    "admission_type",
                    "code",
                    codes=("sentence", "remand", "recall", "transfer_in", "other"),
                ),
                Column("expected_release_date", "date", future_allowed=True),
                Column("release_date", "date"),
                Column(
                    "release_type",
                    "code",
                    codes=(
                        "end_of_sentence",
                        "parole",
                        "early_release",
                        "transfer_out",
                        "deportation",
                        "death",
                        "escape",
                        "other",
                    ),
                ),
                Column("sentence_days", "integer"),
                Column("offence_group", "code", codes=OFFENCE_GROUPS),
            ),
            date_orders=(DateOrder("admission_date", "release_date"),),
        ),
        Entity(
            "prison_measures",
            "prison",
            key="measure_id",
            columns=(
                Column("measure_id", "text", required=True),
                Column("inmate_id", "text", required=True),
                Column(
                    "measure_type",
                    "code",
                    codes=(
                        "vocational_training",
                        "school",
                        "job_coaching",
                        "application_training",
                        "prison_work",
                        "other",
                    ),
                ),
                Column("start_date", "date", required=True),
                Column("end_date", "date"),
                Column(
                    "outcome",
                    "code",
                    codes=("completed", "aborted", "released_early", "transferred", "ongoing"),
                ),
            ),
            date_orders=(DateOrder("start_date", "end_date"),),
        ),
        Entity(
            "participants",
            "partner",
            key="client_id",
            columns=(
                Column("client_id", "text", required=True),
                *_PERSON,
                Column("referring_prison", "text"),
                Column("intake_date", "date", required=True),
                Column("selection", "code", codes=("accepted", "rejected", "withdrawn")),
                Column("consent", "code", codes=("yes", "no", "withdrawn")),
                Column("exit_date", "date"),
                Column(
                    "exit_reason",
                    "code",
                    codes=("completed", "dropout", "reincarcerated", "moved", "deceased", "other"),
                ),
            ),
            date_orders=(DateOrder("intake_date", "exit_date"),),
        ),
        Entity(
            "placements",
            "partner",
            key="placement_id",
            columns=(
                Column("placement_id", "text", required=True),
                Column("client_id", "text", required=True),
                Column(
                    "placement_type",
                    "code",
                    required=True,
                    codes=(
                        "employment",
                        "temp_work",
                        "apprenticeship",
                        "vocational_training",
                        "qualification",
                        "work_experience",
                    ),
                ),
                Column("employer_ref", "text"),
                Column("sector", "code", codes=NACE_SECTIONS),
                Column("arranged_date", "date", required=True),
                Column("start_date", "date"),
                Column("planned_end_date", "date", future_allowed=True),
                Column("end_date", "date"),
                Column(
                    "end_reason",
                    "code",
                    codes=(
                        "completed",
                        "transition",
                        "dropout",
                        "dismissal",
                        "reincarcerated",
                        "relocation",
                        "health",
                        "other",
                    ),
                ),
                Column("hours_per_week", "decimal"),
                Column("paid", "code", codes=YES_NO),
            ),
            date_orders=(DateOrder("start_date", "end_date"),),
        ),
        Entity(
            "aftercare_contacts",
            "partner",
            key="contact_id",
            columns=(
                Column("contact_id", "text", required=True),
                Column("client_id", "text", required=True),
                Column("contact_date", "date", required=True),
                Column("contact_with", "code", codes=("participant", "employer", "both")),
                Column("channel", "code", codes=("in_person", "phone", "written", "video")),
                Column("crisis", "code", codes=YES_NO),
            ),
        ),
        Entity(
            "register_entries",
            "register",
            key="entry_id",
            columns=(
                Column("entry_id", "text", required=True),
                *_PERSON,
                Column("offence_date", "date", required=True),
                Column("decision_date", "date", required=True),
                Column(
                    "decision_type",
                    "code",
                    required=True,
                    codes=("conviction", "diversion", "acquittal", "dismissal"),
                ),
                Column(
                    "sanction",
                    "code",
                    codes=("custodial", "suspended_custodial", "fine", "juvenile_measure", "other"),
                ),
                Column("offence_group", "code", codes=OFFENCE_GROUPS),
                Column("max_penalty_years", "decimal"),
            ),
            date_orders=(DateOrder("offence_date", "decision_date"),),
        ),
    )
}

ENTITIES_BY_KIND: dict[str, tuple[str, ...]] = {
    kind: tuple(e.name for e in ENTITIES.values() if e.kind == kind)
    for kind in ("prison", "partner", "register")
}

PARTNER_TYPES = (
    "aftercare",
    "training_provider",
    "temp_agency",
    "job_centre",
    "employer_network",
    "sports_club",
)

# Quarantine reasons: what a person reads in the load report.
QUARANTINE_REASONS = {
    "malformed_line": "the line could not be split into the header's columns",
    "invalid_encoding": "bytes that are not valid in the layout's encoding",
    "missing_required": "a required field is empty",
    "invalid_date": "not a valid date in the layout's date format",
    "invalid_number": "not a number",
    "unknown_code": "a value outside the closed code list and not mapped by the layout",
    "date_order": "a date lies before the date it must follow",
    "implausible_date": "a date before 1900 or after the export date",
    "duplicate_key": "the record key occurs more than once in the file",
    "invalid_name": "a name with no letter left after normalisation (cannot be linked)",
}

# Plausible dates: nothing in this domain happened before 1900.
EARLIEST_DATE = "1900-01-01"
