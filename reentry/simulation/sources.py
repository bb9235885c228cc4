"""The demo's sources: who delivers what, in which layout, on which export dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ingestion.contract import ENTITIES_BY_KIND

from .dates import day

INCREMENTAL = {"placements", "aftercare_contacts", "register_entries"}


@dataclass(frozen=True)
class SourceSpec:
    """One simulated source and its delivery schedule."""

    id: str
    kind: str  # prison | partner | register
    programme: int  # 0 = mabis, 1 = exodus
    name: str
    prefix: str  # letters of its own record numbers
    layout: str = "reference"
    partner_type: str | None = None
    entities: tuple[str, ...] = ()
    export_dates: tuple[float, ...] = ()
    cadence_days: int = 365
    # (entity, index of the export it corrects, days after that export)
    corrections: tuple[tuple[str, int, int], ...] = field(default_factory=tuple)

    def delivery(self, entity: str) -> str:
        return "incremental" if entity in INCREMENTAL else "full"


PROGRAMMES = ("mabis", "exodus")

_MABIS_PRISONS = (
    ("jva-koeln", "JVA Köln", "KLN", "de-justiz"),
    ("jva-duesseldorf", "JVA Düsseldorf", "DUS", "reference"),
    ("jva-bochum", "JVA Bochum", "BOC", "de-justiz"),
    ("jva-werl", "JVA Werl", "WRL", "de-justiz"),
    ("jva-muenster", "JVA Münster", "MST", "reference"),
    ("jva-wuppertal", "JVA Wuppertal", "WUP", "reference"),
    ("jva-essen", "JVA Essen", "ESS", "reference"),
    ("jva-dortmund", "JVA Dortmund", "DTM", "reference"),
    ("jva-bielefeld", "JVA Bielefeld-Brackwede", "BIE", "de-justiz"),
    ("jva-aachen", "JVA Aachen", "AAC", "reference"),
    ("jva-siegburg", "JVA Siegburg", "SIE", "reference"),
)
_EXODUS_PRISONS = (
    ("pi-vught", "PI Vught", "VGT"),
    ("pi-zwolle", "PI Zwolle", "ZWL"),
    ("pi-rotterdam", "PI Rotterdam", "RTD"),
    ("pi-nieuwegein", "PI Nieuwegein", "NWG"),
)
# Fictional organisations (any likeness to a real one is a coincidence of common words).
_MABIS_PARTNERS = (
    ("chance-ev", "Chance e.V.", "aftercare", "CH"),
    ("neustart-rheinland", "Neustart Rheinland e.V.", "aftercare", "NR"),
    ("bruecke-ruhr", "Brücke Ruhr e.V.", "aftercare", "BR"),
    ("anlaufstelle-westfalen", "Anlaufstelle Westfalen e.V.", "aftercare", "AW"),
    ("weitblick-straffaelligenhilfe", "Weitblick Straffälligenhilfe e.V.", "aftercare", "WB"),
    ("lichtblick-koeln", "Lichtblick Köln e.V.", "aftercare", "LK"),
    ("perspektive-niederrhein", "Perspektive Niederrhein e.V.", "aftercare", "PN"),
    ("wegweiser-bergisch", "Wegweiser Bergisches Land e.V.", "aftercare", "WW"),
    ("bildungswerk-rhein-ruhr", "Bildungswerk Rhein-Ruhr gGmbH", "training_provider", "BW"),
    ("quali-emscher", "Qualifizierungszentrum Emscher gGmbH", "training_provider", "QE"),
    ("werkakademie-lippe", "Werkakademie Lippe gGmbH", "training_provider", "WL"),
    ("berufsbildung-sauerland", "Berufsbildung Sauerland gGmbH", "training_provider", "BS"),
    ("handwerkskolleg-muensterland", "Handwerkskolleg Münsterland", "training_provider", "HK"),
    ("zeitwerk-personal", "Zeitwerk Personal GmbH", "temp_agency", "ZW"),
    ("ruhrpersonal", "Ruhrpersonal GmbH", "temp_agency", "RP"),
    ("rheinjob-zeitarbeit", "Rheinjob Zeitarbeit GmbH", "temp_agency", "RJ"),
    ("westfalen-personaldienst", "Westfalen Personaldienst GmbH", "temp_agency", "WP"),
    ("flexwerk-niederrhein", "Flexwerk Niederrhein GmbH", "temp_agency", "FN"),
    ("arbeitsvermittlung-ruhr-mitte", "Arbeitsvermittlung Ruhr-Mitte", "job_centre", "AR"),
    ("integrationsagentur-rheinland", "Integrationsagentur Rheinland", "job_centre", "IR"),
    ("arbeitsmarktservice-owl", "Arbeitsmarktservice Ostwestfalen", "job_centre", "AO"),
    ("zweite-chance-nrw", "Unternehmensnetz Zweite Chance NRW", "employer_network", "ZC"),
    (
        "neustart-betriebe-rhein-ruhr",
        "Arbeitgeberverbund Neustart Rhein-Ruhr",
        "employer_network",
        "NB",
    ),
    ("handwerkerkreis-wiedereinstieg", "Handwerkerkreis Wiedereinstieg", "employer_network", "HW"),
    ("betriebe-fuer-perspektive-owl", "Betriebe für Perspektive OWL", "employer_network", "BP"),
)
_EXODUS_PARTNERS = (
    ("exodus-den-bosch", "Exodus Den Bosch", "aftercare", "EXB"),
    ("exodus-amsterdam", "Exodus Amsterdam", "aftercare", "EXA"),
    ("exodus-rotterdam", "Exodus Rotterdam", "aftercare", "EXR"),
    ("exodus-utrecht", "Exodus Utrecht", "aftercare", "EXU"),
    ("sportclub-nieuw-begin", "Sportclub Nieuw Begin", "sports_club", "SNB"),
    ("sv-sport-en-werk", "Sportvereniging Sport & Werk Brabant", "sports_club", "SSW"),
    ("werkgeverskring-tweede-kans", "Werkgeverskring Tweede Kans", "employer_network", "WTK"),
)
# Which Exodus branch usually takes referrals from which prison (same index order).
EXODUS_BRANCH_OF_PRISON = (0, 1, 2, 3)

_PRISON_ROUNDS = ("2003-09-30", "2006-09-29", "2009-09-30")
_PARTNER_ROUNDS = ("2004-03-31", "2006-09-15", "2009-06-30")
_REGISTER_ROUNDS = tuple(f"{y}-12-31" for y in range(2003, 2010))

# A few corrections: a full snapshot re-sent days later without its defects and without a few
# erroneous records, or incremental rows re-sent with corrected values.
_CORRECTIONS = {
    "jva-koeln": (("inmates", 1, 2), ("custody_episodes", 1, 2)),
    "pi-vught": (("custody_episodes", 0, 1),),
    "chance-ev": (("participants", 1, 3), ("placements", 1, 3)),
    "exodus-amsterdam": (("placements", 0, 5),),
    "bzr": (("register_entries", 3, 4),),
}


def _dates(rounds: tuple[str, ...], k: int) -> tuple[float, ...]:
    # Sources do not all export on the same day: shift each by a few days, never later.
    return tuple(day(r) - (k * 3) % 17 for r in rounds)


def build_sources() -> list[SourceSpec]:
    """The full catalogue: 15 prisons, 32 partners, 2 registers."""
    out: list[SourceSpec] = []
    k = 0
    prison_entities = ENTITIES_BY_KIND["prison"]
    prisons = [(0, *p) for p in _MABIS_PRISONS] + [
        (1, sid, name, prefix, "reference") for sid, name, prefix in _EXODUS_PRISONS
    ]
    for programme, sid, name, prefix, layout in prisons:
        out.append(
            SourceSpec(
                sid,
                "prison",
                programme,
                name,
                prefix,
                layout,
                None,
                prison_entities,
                _dates(_PRISON_ROUNDS, k),
                1096,
                _CORRECTIONS.get(sid, ()),
            )
        )
        k += 1
    for programme, partners in ((0, _MABIS_PARTNERS), (1, _EXODUS_PARTNERS)):
        for sid, name, ptype, prefix in partners:
            if sid.startswith("exodus-"):
                layout = "nl-exodus"
            elif sid == "zeitwerk-personal":
                layout = "xlsx-zeitarbeit"
            else:
                layout = "reference"
            entities = ("participants", "placements")
            if ptype == "aftercare":
                entities += ("aftercare_contacts",)
            out.append(
                SourceSpec(
                    sid,
                    "partner",
                    programme,
                    name,
                    prefix,
                    layout,
                    ptype,
                    entities,
                    _dates(_PARTNER_ROUNDS, k),
                    913,
                    _CORRECTIONS.get(sid, ()),
                )
            )
            k += 1
    for sid, name, prefix, programme in (
        ("bzr", "Bundeszentralregister", "BZR", 0),
        ("justid", "Justitiële Informatiedienst (Justid)", "JD", 1),
    ):
        out.append(
            SourceSpec(
                sid,
                "register",
                programme,
                name,
                prefix,
                "reference",
                None,
                ("register_entries",),
                tuple(day(r) for r in _REGISTER_ROUNDS),
                365,
                _CORRECTIONS.get(sid, ()),
            )
        )
    return out


SOURCES = build_sources()
SOURCE_INDEX = {s.id: i for i, s in enumerate(SOURCES)}
PRISONS = [s for s in SOURCES if s.kind == "prison"]
PARTNERS = [s for s in SOURCES if s.kind == "partner"]
REGISTERS = [s for s in SOURCES if s.kind == "register"]
# Global prison / partner numbers per programme (positions in PRISONS / PARTNERS).
PRISONS_OF = {p: np.array([i for i, s in enumerate(PRISONS) if s.programme == p]) for p in (0, 1)}
PARTNERS_OF = {p: np.array([i for i, s in enumerate(PARTNERS) if s.programme == p]) for p in (0, 1)}


def registry_document(reference_only: bool = False) -> dict:
    """sources.yml as a plain mapping (the shape ingestion.registry validates); with
    `reference_only`, every source delivers in the reference layout (the benchmark's baselines
    read those files directly)."""
    rows = []
    for s in SOURCES:
        row: dict = {
            "id": s.id,
            "kind": s.kind,
            "programme": PROGRAMMES[s.programme],
            "name": s.name,
        }
        if s.partner_type:
            row["partner_type"] = s.partner_type
        row["layout"] = "reference" if reference_only else s.layout
        row["delivery"] = {e: s.delivery(e) for e in s.entities}
        row["cadence_days"] = s.cadence_days
        rows.append(row)
    return {"layouts_dir": "layouts", "sources": rows}


def write_registry(landing: Path, reference_only: bool = False) -> Path:
    """Write landing/sources.yml."""
    path = landing / "sources.yml"
    text = "# Source registry of the simulated demo (generated by reentry.simulation).\n"
    text += yaml.safe_dump(registry_document(reference_only), allow_unicode=True,
                           sort_keys=False, width=100)
    path.write_text(text, encoding="utf-8")
    return path
