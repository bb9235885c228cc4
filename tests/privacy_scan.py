"""An independent scan for identifying values: what the landing files hold, and where it leaked.

Deliberately does not use the ingestion code: it reads the landing files with Python's csv
module and polars, and scans what a run wrote as bytes and, for DuckDB files, by SQL (DuckDB
compresses strings, so a byte scan alone would miss them).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import yaml

IDENTIFYING = ("family_name", "given_name", "birth_date")
WORD = re.compile(r"[^\W\d_]+")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[.-]\d{1,2}[.-]\d{4}")


@dataclass
class Identifiers:
    name_tokens: set[str]  # lower-cased words of names (4 letters or more)
    birth_dates: set[str]  # ISO dates that occur only as birth dates


def _iso(value: str) -> str | None:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _frames(landing: Path):
    """Every landing file as a frame of reference-named string columns (identifiers only)."""
    registry = yaml.safe_load((landing / "sources.yml").read_text(encoding="utf-8"))
    layouts_dir = landing / registry.get("layouts_dir", "layouts")
    for source in registry["sources"]:
        layout = {"encoding": "utf-8", "delimiter": ",", "format": "csv", "entities": {}}
        if source.get("layout", "reference") != "reference":
            layout |= yaml.safe_load(
                (layouts_dir / f"{source['layout']}.yml").read_text(encoding="utf-8")
            )
        for path in sorted((landing / source["id"]).glob("*.*")):
            entity = path.name.split(".")[0]
            ent = layout["entities"].get(entity, {})
            rename = {h: t for h, t in ent.get("columns", {}).items()}
            if path.suffix == ".xlsx":
                frame = pl.read_excel(path, sheet_name=ent.get("sheet"), infer_schema_length=0)
            else:
                text = path.read_bytes().decode(layout["encoding"], errors="replace")
                rows = list(
                    csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=layout["delimiter"])
                )
                width = len(rows[0])
                rows = [r[:width] + [""] * (width - len(r)) for r in rows]
                frame = pl.DataFrame(rows[1:], schema=rows[0], orient="row")
            frame = frame.rename({c: rename.get(c.strip(), c.strip()) for c in frame.columns})
            yield entity, frame


def landing_identifiers(landing: Path) -> Identifiers:
    """Names and birth dates of every landing file, and which date strings are also events."""
    tokens: set[str] = set()
    births: set[str] = set()
    other_dates: set[str] = set()
    for _entity, frame in _frames(landing):
        for col in frame.columns:
            values = [v for v in frame[col].cast(pl.String).to_list() if v]
            if col in ("family_name", "given_name"):
                tokens |= {w.lower() for v in values for w in WORD.findall(v) if len(w) >= 4}
            elif col == "birth_date":
                births |= {d for v in values if (d := _iso(v))}
            else:
                other_dates |= {d for v in values if (d := _iso(v))}
    # Organisation names of the registry are not personal data and may share words with names.
    orgs = {
        w.lower()
        for s in yaml.safe_load((landing / "sources.yml").read_text(encoding="utf-8"))["sources"]
        for w in WORD.findall(s["name"])
    }
    return Identifiers(tokens - orgs - code_vocabulary(), births - other_dates)


def code_vocabulary() -> set[str]:
    """Words of the product's own code and docs ('Kaplan-Meier', Jinja's 'elif'): a run copies
    them into compiled SQL and logs, and they are not personal data. The simulation's name lists
    are left out, since they are exactly what the scan looks for."""
    repo = Path(__file__).resolve().parents[1]
    words: set[str] = set()
    for folder in ("reentry", "dbt_project"):
        for path in (repo / folder).rglob("*"):
            if path.suffix not in {".py", ".sql", ".yml", ".md"} or "simulation" in path.parts:
                continue
            if "target" in path.parts or "logs" in path.parts:
                continue
            words |= {w.lower() for w in WORD.findall(path.read_text("utf-8", errors="ignore"))}
    return words


def found_in_text(text: str, ids: Identifiers) -> set[str]:
    words = {w.lower() for w in WORD.findall(text)}
    dates = {d for m in DATE.findall(text) if (d := _iso(m))}
    return (words & ids.name_tokens) | (dates & ids.birth_dates)


def scan_duckdb(path: Path, ids: Identifiers) -> dict[str, set[str]]:
    """Every text-like column of every table and view: which identifiers it holds."""
    leaks: dict[str, set[str]] = {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type not in ('DATE', 'TIMESTAMP', 'BIGINT', 'INTEGER', 'SMALLINT', "
            "'DOUBLE', 'BOOLEAN', 'HUGEINT', 'UBIGINT', 'FLOAT', 'DECIMAL')"
        ).fetchall()
        for schema, table, column in columns:
            text = (
                con.execute(
                    f'select string_agg(distinct "{column}"::varchar, chr(10)) '
                    f'from "{schema}"."{table}"'
                ).fetchone()[0]
                or ""
            )
            found = found_in_text(text, ids)
            if found:
                leaks[f"{path.name}:{schema}.{table}.{column}"] = found
    finally:
        con.close()
    return leaks


def _scan_parquet(path: Path, ids: Identifiers) -> set[str]:
    """Parquet is compressed: read every column back as text."""
    con = duckdb.connect()
    try:
        con.execute(f"create view p as select * from read_parquet('{path}')")
        columns = [r[0] for r in con.execute("describe p").fetchall()]
        found: set[str] = set()
        for column in columns:
            text = (
                con.execute(
                    f'select string_agg(distinct "{column}"::varchar, chr(10)) from p'
                ).fetchone()[0]
                or ""
            )
            found |= found_in_text(text, ids)
        return found
    finally:
        con.close()


def _scan_zip(path: Path, ids: Identifiers) -> set[str]:
    """Workbooks are zip files: scan every member decompressed."""
    import zipfile

    found: set[str] = set()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            # The font theme is the writer's fixed boilerplate (script codes such as "Hans").
            if name.startswith("xl/theme/"):
                continue
            found |= found_in_text(archive.read(name).decode("utf-8", errors="ignore"), ids)
    return found


def scan_tree(root: Path, ids: Identifiers, exclude: tuple[Path, ...] = ()) -> dict[str, set[str]]:
    """Every file under `root` but the excluded folders: bytes, and tables of DuckDB files,
    Parquet files and zip containers (workbooks) read back."""
    leaks: dict[str, set[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(path.is_relative_to(e) for e in exclude):
            continue
        data = path.read_bytes()
        if data[8:12] == b"DUCK":
            leaks |= scan_duckdb(path, ids)
            continue
        if data[:4] == b"PAR1" or data[:2] == b"PK":
            found = (_scan_parquet if data[:4] == b"PAR1" else _scan_zip)(path, ids)
            if found:
                leaks[str(path.relative_to(root))] = found
            continue
        found = set()
        for encoding in ("utf-8", "cp1252"):
            found |= found_in_text(data.decode(encoding, errors="ignore"), ids)
        if found:
            leaks[str(path.relative_to(root))] = found
    return leaks
