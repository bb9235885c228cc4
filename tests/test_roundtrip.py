"""Every mapped format round-trips: reference values -> source format -> ingestion -> same."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from reentry.contract import ENTITIES
from reentry.ingest.layouts import load_layout
from reentry.ingest.load import ingest
from simulation import write_export

from .conftest import TEST_KEY, TEST_PROGRAMMES, query
from .test_pseudonym import pseudonym

LAYOUTS = Path(__file__).parents[1] / "simulation" / "layouts"
KINDS = {"de-justiz": "prison", "nl-exodus": "partner", "xlsx-zeitarbeit": "partner"}
TEXTS = ["A-1", "Wert; mit Semikolon", 'Zitat "x" drin', "Ærø, Ødegård", "plain"]
FAMILY = ["Müller-Lüdenscheidt", "Groß; genannt Klein", "van der Berg", "Özdemir", "Nowak"]


def reference_frame(entity_name: str, n: int) -> pl.DataFrame:
    """n rows with every code of every column, and awkward text, dates and numbers."""
    entity = ENTITIES[entity_name]
    later = {o.later for o in entity.date_orders}
    data: dict[str, list[str]] = {}
    for col in entity.columns:
        if col.name == entity.key:
            values = [f"K{i}" for i in range(n)]
        elif col.name == "family_name":
            values = [FAMILY[i % len(FAMILY)] for i in range(n)]
        elif col.name == "given_name":
            values = [["Jürgen", "Käthe", "José"][i % 3] for i in range(n)]
        elif col.name == "birth_date":
            values = [date(1960 + i, 1 + i % 12, 1 + i % 28).isoformat() for i in range(n)]
        elif col.type == "code" and col.codes:
            values = [col.codes[i % len(col.codes)] for i in range(n)]
        elif col.name == "nationality":
            values = [["DE", "NL", "TR"][i % 3] for i in range(n)]
        elif col.type == "date":
            year = 2004 if col.name in later else 2003
            values = [date(year, 1 + i % 12, 1 + i % 28).isoformat() for i in range(n)]
        elif col.type == "integer":
            values = [str(100 + i) for i in range(n)]
        elif col.type == "decimal":
            values = [f"{10 + i}.5" for i in range(n)]
        else:
            values = [TEXTS[i % len(TEXTS)] for i in range(n)]
        data[col.name] = values
    return pl.DataFrame(data)


CASES = [
    (layout, entity)
    for layout in KINDS
    for entity in yaml.safe_load((LAYOUTS / f"{layout}.yml").read_text("utf-8"))["entities"]
]


@pytest.mark.parametrize(("layout_name", "entity_name"), CASES)
def test_mapped_format_round_trips(tmp_path, layout_name: str, entity_name: str) -> None:
    layout = load_layout(LAYOUTS / f"{layout_name}.yml")
    entity = ENTITIES[entity_name]
    n = max([len(c.codes) for c in entity.columns] + [len(TEXTS)])
    frame = reference_frame(entity_name, n)
    landing = tmp_path / "landing"
    shutil.copytree(LAYOUTS, landing / "layouts")
    extra = {"partner_type": "temp_agency"} if KINDS[layout_name] == "partner" else {}
    (landing / "sources.yml").write_text(
        yaml.safe_dump(
            {
                "programmes": [dict(TEST_PROGRAMMES[0])],
                "sources": [
                    {
                        "id": "src",
                        "kind": KINDS[layout_name],
                        "programme": "mabis",
                        "name": "S",
                        "layout": layout_name,
                        **extra,
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    ext = "xlsx" if layout.format == "xlsx" else "csv"
    write_export(frame, entity_name, layout, landing / "src" / f"{entity_name}.2009-12-31.{ext}")
    db = tmp_path / "wh.duckdb"
    report = ingest(landing, db, TEST_KEY)
    assert [(f.status, f.n_loaded, f.n_quarantined) for f in report.files] == [("loaded", n, 0)]

    stored = [c for c in entity.columns if not c.identifying]
    got = query(
        db,
        f"select {', '.join(c.name + '::varchar' for c in stored)} "
        f"from raw.{entity_name} order by _line",
    )
    expected = [
        tuple(
            None if v is None else (str(float(v)) if c.type == "decimal" else v)
            for c, v in zip(stored, row, strict=True)
        )
        for row in frame.select([c.name for c in stored]).iter_rows()
    ]
    assert got == expected
    if entity.has_person:
        keys = [r[0] for r in query(db, f"select person_key from raw.{entity_name} order by _line")]
        assert keys == [
            pseudonym(f, g, b)
            for f, g, b in frame.select("family_name", "given_name", "birth_date").iter_rows()
        ]
