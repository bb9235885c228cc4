"""Tests of the demo-data simulation (reentry.simulation): determinism, the registry, the
defect log (checked against an independent re-reading of every file), the planted truth,
privacy of the truth folder, write_export round trips for the three layouts, the scenario file
(a third programme declared only in data), the selection model (observables only at h = 0,
random participation) and the truth of every measure."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
import yaml

from reentry.cli import build_parser
from reentry.contract import ENTITIES, OFFENCE_GROUPS, PARTNER_TYPES, QUARANTINE_REASONS
from reentry.ingest.config import ConfigError
from reentry.ingest.layouts import REFERENCE_LAYOUT, Layout, load_layout
from reentry.ingest.registry import load_registry
from simulation import (
    DEFAULT_HIDDEN_CONFOUNDING,
    DEFAULT_SCENARIO,
    generate_demo,
    load_scenario,
    simulate,
    write_export,
)
from simulation.dates import year_of
from simulation.defects import KINDS as DEFECT_KINDS
from simulation.names import FAMILY, GIVEN, STYLES, normalise, spell
from simulation.selection import KAPPA, conviction_category, observable_index
from simulation.truth import MEASURES, WINDOWS, planted_truth

SMALL = 2000
_FILE = re.compile(r"^(?P<entity>[a-z_]+)\.(?P<date>\d{4}-\d{2}-\d{2})\.(?P<ext>csv|xlsx)$")


def _digests(landing: Path) -> dict[str, str]:
    return {
        p.relative_to(landing).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(landing.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    summary = generate_demo(
        root / "landing", root / "truth", persons=SMALL, seed=7, defect_rate=0.03
    )
    return root / "landing", root / "truth", summary


# --------------------------------------------------------------------------- reading back
def _read_rows(path: Path, entity: str, layout: Layout):
    """(line number, {reference column: raw string or None}) per data row, and the lines whose
    field count does not match the header. Dates of xlsx date cells come back ISO."""
    headers = layout.header_map(entity)
    rows, malformed = [], set()
    if layout.format == "xlsx":
        reader = fastexcel.read_excel(path)
        sheet = layout.entity(entity).sheet or entity
        frame = reader.load_sheet_by_name(sheet, dtypes="string").to_polars()
        names = [headers.get(h, h) for h in frame.columns]
        for i, values in enumerate(frame.iter_rows()):
            rows.append((i + 2, dict(zip(names, values, strict=False))))
        return names, rows, malformed
    text = path.read_bytes().decode(layout.encoding)
    lines = text.split("\n")
    assert lines[-1] == "", "file must end with a newline"
    header = next(csv.reader([lines[0]], delimiter=layout.delimiter, quotechar=layout.quote))
    names = [headers.get(h, h) for h in header]
    for i, line in enumerate(lines[1:-1], start=2):
        assert "\r" not in line
        fields = next(csv.reader([line], delimiter=layout.delimiter, quotechar=layout.quote))
        if len(fields) != len(names):
            malformed.add(i)
            continue
        rows.append((i, {n: (v if v != "" else None) for n, v in zip(names, fields, strict=False)}))
    return names, rows, malformed


def _parse_date(value: str, layout: Layout) -> dt.date | None:
    for fmt in (
        ["%Y-%m-%d %H:%M:%S", *layout.date_formats]
        if layout.format == "xlsx"
        else (layout.date_formats)
    ):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _number(value: str, layout: Layout, integer: bool) -> bool:
    v = value.replace(",", ".") if layout.decimal == "," else value
    pattern = r"-?\d+(\.0+)?" if integer else r"-?\d+(\.\d+)?"
    return re.fullmatch(pattern, v) is not None


def _problems(path: Path, entity: str, layout: Layout, export: dt.date):
    """An independent check of one file: line -> set of quarantine reasons, plus the lines
    whose text or code values carry stray blanks."""
    ent = ENTITIES[entity]
    names, rows, malformed = _read_rows(path, entity, layout)
    assert sorted(names) == sorted(ent.column_names)
    found: dict[int, set[str]] = defaultdict(set)
    blanks: dict[int, str] = {}
    for line in malformed:
        found[line].add("malformed_line")
    keys = Counter()
    for line, raw in rows:
        dates = {}
        for col in ent.columns:
            value = raw.get(col.name)
            if value is not None and value != value.strip():
                blanks[line] = col.name
            value = value.strip() if value is not None else None
            if not value:
                if col.required:
                    found[line].add("missing_required")
                continue
            if col.identifying and col.type == "text" and not normalise(value):
                found[line].add("invalid_name")
            if col.type == "date":
                d = _parse_date(value, layout)
                if d is None:
                    found[line].add("invalid_date")
                elif d.year < 1900 or (d > export and not col.future_allowed):
                    found[line].add("implausible_date")
                dates[col.name] = d
            elif col.type in ("integer", "decimal"):
                if not _number(value, layout, col.type == "integer"):
                    found[line].add("invalid_number")
            elif col.type == "code":
                code = layout.code_map(entity, col.name).get(value, value)
                ok = code in col.codes if col.codes else re.fullmatch(r"[A-Z]{2}", code)
                if not ok:
                    found[line].add("unknown_code")
        for order in ent.date_orders:
            a, b = dates.get(order.earlier), dates.get(order.later)
            if a and b and b < a:
                found[line].add("date_order")
        key = (raw.get(ent.key) or "").strip()
        if key:
            keys[key] += 1
    for line, raw in rows:
        key = (raw.get(ent.key) or "").strip()
        if key and keys[key] > 1:
            found[line].add("duplicate_key")
    return found, blanks, len(rows) + len(malformed)


# --------------------------------------------------------------------------- tests
def test_registry_validates_and_covers_sources(demo):
    landing, _, summary = demo
    reg = load_registry(landing / "sources.yml")
    kinds = Counter(s.kind for s in reg.sources.values())
    mabis = [s for s in reg.sources.values() if s.programme == ["mabis"]]
    assert sum(1 for s in mabis if s.kind == "prison") == 11
    assert sum(1 for s in mabis if s.kind == "partner") == 25
    assert kinds["register"] == 2
    assert {s.partner_type for s in reg.sources.values() if s.kind == "partner"} == set(
        PARTNER_TYPES
    )
    assert {s.layout for s in reg.sources.values()} == {
        "reference",
        "de-justiz",
        "nl-exodus",
        "xlsx-zeitarbeit",
    }
    for name in ("de-justiz", "nl-exodus", "xlsx-zeitarbeit"):
        load_layout(landing / "layouts" / f"{name}.yml")
    # every file sits in a declared source folder, is an entity it delivers, in its format
    for path in landing.glob("*/*.*"):
        if path.parent.name == "layouts":
            continue
        source = reg.sources[path.parent.name]
        m = _FILE.match(path.name)
        assert m, path
        assert m["entity"] in source.delivery, path
        assert m["ext"] == reg.layout_of(source.id).format
    # nothing new, no delivery: no file repeats the bytes of another
    digests = _digests(landing)
    data = [d for k, d in digests.items() if not k.startswith("layouts/") and "/" in k]
    assert len(data) == len(set(data))
    assert summary["files_written"] == len(
        [p for p in landing.glob("*/*.*") if p.parent.name != "layouts"]
    )


def test_layouts_map_every_code_they_write():
    for path in sorted((Path(__file__).parents[1] / "simulation/layouts").glob("*.yml")):
        layout = load_layout(path)
        for entity in layout.entities:
            ent = ENTITIES[entity]
            assert set(layout.header_map(entity).values()) == set(ent.column_names)
            for col in ent.columns:
                mapped = set(layout.code_map(entity, col.name).values())
                if mapped:  # a mapped column must map every code
                    assert mapped == set(col.codes), (path.name, entity, col.name)


def test_defects_logged_exactly(demo):
    """Re-read every file independently: the lines with a quarantine reason are exactly the
    logged ones (with the logged reason); whitespace lines carry blanks and nothing else."""
    landing, truth, _ = demo
    reg = load_registry(landing / "sources.yml")
    log = pl.read_csv(truth / "defects.csv", schema_overrides={"column": pl.String})
    assert log.columns == ["file", "line", "kind", "column"]
    assert set(log["kind"]) <= set(QUARANTINE_REASONS) | {"whitespace"}
    assert set(log["kind"]) == set(DEFECT_KINDS)  # every kind the generator spoils lines with
    by_file = defaultdict(list)
    for row in log.iter_rows(named=True):
        by_file[row["file"]].append(row)
    checked = 0
    for path in sorted(landing.glob("*/*.*")):
        if path.parent.name == "layouts":
            continue
        rel = path.relative_to(landing).as_posix()
        m = _FILE.match(path.name)
        layout = reg.layout_of(path.parent.name)
        found, blanks, n = _problems(path, m["entity"], layout, dt.date.fromisoformat(m["date"]))
        expected = defaultdict(set)
        for row in by_file.get(rel, []):
            assert 2 <= row["line"] <= n + 1
            if row["kind"] == "whitespace":
                assert blanks.get(row["line"]) == row["column"], (rel, row)
                assert row["line"] not in found, (rel, row)
            else:
                expected[row["line"]].add(row["kind"])
                if row["kind"] != "malformed_line":
                    assert row["column"] in ENTITIES[m["entity"]].column_names
        assert dict(found) == dict(expected), rel
        ws = {r["line"] for r in by_file.get(rel, []) if r["kind"] == "whitespace"}
        assert set(blanks) == ws, rel
        checked += 1
    assert checked > 100


def test_no_defects_at_rate_zero(tmp_path):
    generate_demo(tmp_path / "l", tmp_path / "t", persons=400, seed=3, defect_rate=0.0)
    assert pl.read_csv(tmp_path / "t" / "defects.csv").height == 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for run, seed in (("a", 7), ("c", 7), ("b", 8)):
        generate_demo(
            tmp_path / run / "l", tmp_path / run / "t", persons=1200, seed=seed, defect_rate=0.03
        )
    first, again = _digests(tmp_path / "a" / "l"), _digests(tmp_path / "c" / "l")
    assert first == again
    assert any(k.endswith(".xlsx") for k in first)
    assert _digests(tmp_path / "a" / "t") == _digests(tmp_path / "c" / "t")
    other = _digests(tmp_path / "b" / "l")
    differing = [k for k in first if k.endswith((".csv", ".xlsx")) and first[k] != other.get(k)]
    assert len(differing) > 0.9 * sum(k.endswith((".csv", ".xlsx")) for k in first)


def test_planted_truth(demo):
    _, truth, _ = demo
    t = json.loads((truth / "planted_truth.json").read_text(encoding="utf-8"))
    assert t["hazard_ratio"] == 0.7
    for name in ("mabis", "exodus"):
        prog = t["programmes"][name]
        assert prog["participating_releases"] > 50
        for w in ("12", "24", "36"):
            win = prog["windows_months"][w]
            assert win["effect_on_participants"] < 0
            assert win["rate_participants_treated"] < win["rate_participants_untreated"]
            # selection on good risks: the naive difference overstates the effect
            assert win["naive_difference"] < win["effect_on_participants"]
        sc = prog["selection_check"]
        assert sc["mean_latent_risk_participants"] < sc["mean_latent_risk_non_participants"]
        assert sc["mean_prior_spells_participants"] < sc["mean_prior_spells_non_participants"]


def test_truth_folder_holds_no_names(demo):
    landing, truth, _ = demo
    reg = load_registry(landing / "sources.yml")
    names = set()
    for path in landing.glob("*/*.csv"):
        layout = reg.layout_of(path.parent.name)
        entity = _FILE.match(path.name)["entity"]
        if not ENTITIES[entity].has_person:
            continue
        _, rows, _ = _read_rows(path, entity, layout)
        for _, raw in rows:
            for col in ("family_name", "given_name"):
                if raw.get(col) and len(raw[col].strip()) >= 4:
                    names.add(raw[col].strip())
    assert len(names) > 100
    text = "\n".join(p.read_text(encoding="utf-8") for p in truth.iterdir())
    # whole words only: 'Mark' must not match the source id 'arbeitsmarktservice-owl'
    words = set(re.findall(r"[^\W\d_]+", text.casefold()))
    leaked = [
        n
        for n in names
        if set(re.findall(r"[^\W\d_]+", n.casefold())) <= words
        and re.search(r"(?<![^\W\d_])" + re.escape(n) + r"(?![^\W\d_])", text, re.I)
    ]
    assert not leaked, leaked[:5]
    assert not re.search(r"\b(19[3-8]\d)-\d{2}-\d{2}\b", text)  # no birth dates


def test_spelling_variants_normalise_identically(demo):
    for name in (*FAMILY, *GIVEN):
        assert {normalise(spell(name, s)) for s in range(len(STYLES))} == {normalise(name)}
    assert normalise("Müller-Lüdenscheidt") == normalise("MUELLER LUEDENSCHEIDT")
    assert normalise("van der Berg") == normalise("vanderberg") == normalise("Van der Berg")
    landing = demo[0]
    text = (landing / "bzr").glob("register_entries.*.csv")
    upper = sum(
        sum(
            1
            for line in p.read_text(encoding="utf-8").splitlines()[1:]
            if line.split(",")[1].isupper()
        )
        for p in text
    )
    assert upper > 0


def test_full_snapshots_and_increments(demo):
    """Full snapshots keep every record and close open episodes later; increments repeat a
    key when it changes."""
    landing = demo[0]
    reg = load_registry(landing / "sources.yml")
    ref = reg.layout_of("jva-duesseldorf")
    files = sorted((landing / "jva-duesseldorf").glob("custody_episodes.*.csv"))
    assert len(files) == 3
    snaps = [
        {r["episode_id"]: r for _, r in _read_rows(f, "custody_episodes", ref)[1]} for f in files
    ]
    # a full snapshot keeps earlier records (keys spoilt by a defect aside)
    first, second = ({(k or "").strip() for k in s} for s in snaps[:2])
    assert len(first - second) <= 0.05 * len(first)
    reopened = [
        k
        for k, r in snaps[0].items()
        if r["release_date"] is None and k in snaps[1] and snaps[1][k]["release_date"]
    ]
    assert reopened
    types = Counter(r["release_type"] for s in snaps for r in s.values())
    assert {"end_of_sentence", "parole", "early_release", "transfer_out"} <= set(types)
    assert Counter(r["admission_type"] for r in snaps[-1].values())["transfer_in"] > 0
    repeated = 0
    for partner in reg.sources.values():
        if partner.kind != "partner" or partner.layout != "reference":
            continue
        seen = Counter()
        for f in sorted((landing / partner.id).glob("placements.*.csv")):
            for _, r in _read_rows(f, "placements", REFERENCE_LAYOUT)[1]:
                seen[r["placement_id"]] += 1
        repeated += sum(1 for c in seen.values() if c > 1)
    assert repeated > 0


def test_write_export_round_trips(tmp_path):
    layouts_dir = Path(__file__).parents[1] / "simulation/layouts"
    cases = {
        "de-justiz": "custody_episodes",
        "nl-exodus": "placements",
        "xlsx-zeitarbeit": "participants",
    }
    # Two rows per entity, column by column: awkward values on purpose (umlauts, a delimiter
    # and quotes inside a field, leading zeros, empty fields).
    columns = {
        "custody_episodes": {
            "episode_id": ("KLN2004-000001", "KLN2004-000002"),
            "inmate_id": ("KLN-000001", "KLN-000002"),
            "admission_date": ("2004-01-05", "2003-12-31"),
            "admission_type": ("sentence", "transfer_in"),
            "expected_release_date": ("2011-02-01", None),
            "release_date": ("2004-06-30", None),
            "release_type": ("parole", None),
            "sentence_days": ("400", "1200"),
            "offence_group": ("public_order", "drugs"),
        },
        "placements": {
            "placement_id": ("P1", "P2"),
            "client_id": ("C1", "C2"),
            "placement_type": ("work_experience", "employment"),
            "employer_ref": ("AG;1", 'AG "2"'),
            "sector": ("R", "C"),
            "arranged_date": ("2003-01-02", "2003-02-03"),
            "start_date": ("2003-01-10", None),
            "planned_end_date": ("2003-06-30", None),
            "end_date": ("2003-05-01", None),
            "end_reason": ("transition", None),
            "hours_per_week": ("19.5", "40"),
            "paid": ("no", "yes"),
        },
        "participants": {
            "client_id": ("ZW-000101", "00012"),
            "family_name": ("Müller-Lüdenscheidt", "Groß"),
            "given_name": ("Jürgen", "Ayşe"),
            "birth_date": ("1970-03-04", "1981-12-31"),
            "referring_prison": ("jva-koeln", None),
            "intake_date": ("2003-04-05", "2004-01-01"),
            "selection": ("accepted", "withdrawn"),
            "consent": ("yes", "withdrawn"),
            "exit_date": (None, "2004-02-01"),
            "exit_reason": (None, "dropout"),
        },
    }
    frames = {
        entity: pl.DataFrame(
            {c: list(v) for c, v in cols.items()}, schema=dict.fromkeys(cols, pl.String)
        )
        for entity, cols in columns.items()
    }
    for name, entity in cases.items():
        layout = load_layout(layouts_dir / f"{name}.yml")
        frame = frames[entity]
        path = tmp_path / f"{entity}.{layout.format}"
        write_export(frame, entity, layout, path)
        if layout.format == "xlsx":
            back = pl.read_excel(path, sheet_name=layout.entity(entity).sheet)
            assert (
                back.schema[
                    next(h for h, c in layout.header_map(entity).items() if c == "birth_date")
                ]
                == pl.Date
            )
            back = back.with_columns(pl.all().cast(pl.String))
        else:
            text = path.read_bytes().decode(layout.encoding)
            if layout.encoding == "utf-8-sig":
                assert path.read_bytes().startswith(b"\xef\xbb\xbf")
            back = pl.read_csv(text.encode("utf-8"), separator=layout.delimiter, infer_schema=False)
        back = back.rename(layout.header_map(entity))
        exprs = []
        for col in ENTITIES[entity].columns:
            c = pl.col(col.name)
            if col.type == "date":
                c = (
                    c.str.slice(0, 10)
                    if layout.format == "xlsx"
                    else c.str.strptime(pl.Date, layout.date_formats[0]).dt.strftime("%Y-%m-%d")
                )
            elif col.type in ("decimal", "integer"):
                c = c.str.replace(",", ".").str.replace(r"\.0$", "")
            elif col.type == "code" and layout.code_map(entity, col.name):
                c = c.replace(layout.code_map(entity, col.name))
            exprs.append(c.alias(col.name))
        assert back.select(exprs).to_dicts() == frame.to_dicts(), name


def test_twenty_thousand_persons(tmp_path):
    """Vectorised enough to run 20,000 persons quickly (no timing asserted)."""
    summary = generate_demo(tmp_path / "l", tmp_path / "t", persons=20_000, seed=11)
    assert summary["persons"] == 20_000
    assert 150 <= summary["files_written"] <= 400
    assert summary["participants"] > 2000


# --------------------------------------------------------------------------- the scenario
THIRD_PROGRAMME = """
id: pilot70
name: Pilot 1970s (England)
country: GB
start: 1972-01-01
end: 1974-12-31
languages: [en]
share: 0.15
placement_route: none
prison_exports: {dates: [1973-06-30, 1975-06-30, 1978-06-30]}
partner_exports: {dates: [1973-06-30, 1975-06-30, 1977-06-30]}
prisons:
  - {id: hmp-alpha, name: HMP Alpha, prefix: HMA}
  - {id: hmp-beta, name: HMP Beta, prefix: HMB}
partners:
  - {id: fresh-start-aftercare, name: Fresh Start Aftercare, partner_type: aftercare,
     prefix: FS, entities: [participants]}
"""
THIRD_REGISTER = """
id: cro
name: Criminal Records Office
prefix: CRO
programmes: [pilot70]
export_dates: [1973-12-31, 1975-12-31, 1977-12-31, 1980-12-31, 1990-12-31, 2000-12-31,
               2009-12-31]
"""
PILOT_SOURCES = ("hmp-alpha", "hmp-beta", "fresh-start-aftercare", "cro")


def _scenario_with(
    path: Path, programme: str | None = None, register: str | None = None, edit=None
) -> Path:
    """The package's scenario plus a programme / register, written to `path`."""
    doc = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    if programme:
        doc["programmes"].append(yaml.safe_load(programme))
    if register:
        doc["registers"].append(yaml.safe_load(register))
    if edit:
        edit(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_third_programme_only_in_the_scenario_file(tmp_path):
    """A 1970s programme in another country, declared only in a scenario file, gives a valid
    landing folder: registry with three programmes, its files, plausible dates, its truth."""
    scenario = _scenario_with(tmp_path / "scenario.yml", THIRD_PROGRAMME, THIRD_REGISTER)
    landing, truth = tmp_path / "landing", tmp_path / "truth"
    generate_demo(landing, truth, persons=3000, seed=5, defect_rate=0.0, scenario=scenario)
    reg = load_registry(landing / "sources.yml")
    assert list(reg.programmes) == ["mabis", "exodus", "pilot70"]
    pilot = reg.programmes["pilot70"]
    assert (pilot.country, pilot.start, pilot.end, pilot.languages) == (
        "GB",
        dt.date(1972, 1, 1),
        dt.date(1974, 12, 31),
        ["en"],
    )
    assert reg.sources["fresh-start-aftercare"].delivery == {"participants": "full"}
    assert reg.sources["cro"].programme == ["pilot70"]
    for sid in PILOT_SOURCES:
        assert reg.sources[sid].programme == ["pilot70"]
        files = sorted((landing / sid).glob("*.csv"))
        assert files, sid
        entities = {_FILE.match(f.name)["entity"] for f in files}
        assert entities <= set(reg.sources[sid].delivery), (sid, entities)
    assert {_FILE.match(f.name)["entity"] for f in (landing / "hmp-alpha").glob("*")} == {
        "inmates",
        "custody_episodes",
        "prison_measures",
    }
    assert {
        _FILE.match(f.name)["entity"] for f in (landing / "fresh-start-aftercare").glob("*")
    } == {"participants"}
    # Every file of the pilot passes the plausibility checks: no defect was injected, so an
    # independent re-reading finds nothing to quarantine (no date before 1900 or after the
    # file's export date).
    births = []
    for sid in PILOT_SOURCES:
        layout = reg.layout_of(sid)
        for path in sorted((landing / sid).glob("*.csv")):
            m = _FILE.match(path.name)
            found, blanks, n = _problems(
                path, m["entity"], layout, dt.date.fromisoformat(m["date"])
            )
            assert not found and not blanks and n > 0, (path.name, dict(found))
            if m["entity"] == "inmates":
                births += [r["birth_date"] for _, r in _read_rows(path, "inmates", layout)[1]]
    years = Counter(int(b[:4]) // 10 * 10 for b in births)
    assert min(years) >= 1900 and max(years) <= 1950, years
    assert sum(v for k, v in years.items() if 1920 <= k <= 1950) > 0.9 * len(births)
    # English names for a GB population.
    inmates = (landing / "hmp-alpha").glob("inmates.*.csv")
    text = " ".join(p.read_text(encoding="utf-8") for p in inmates)
    assert re.search(r"\b(Smith|Jones|Taylor|Williams|Davies|Evans|Wilson)\b", text)
    t = json.loads((truth / "planted_truth.json").read_text(encoding="utf-8"))
    prog = t["programmes"]["pilot70"]
    assert prog["period"] == {"start": "1972-01-01", "end": "1974-12-31"}
    assert prog["participating_releases"] > 20
    for m in MEASURES:
        for w in WINDOWS:
            win = prog["measures"][m]["windows_months"][str(w)]
            assert win["n_participants"] == prog["participating_releases"]
            assert win["effect_on_participants"] <= 0
    assert t["as_of_date"] == "2009-12-31"
    # The default programmes are all still there.
    assert {"mabis", "exodus", "pilot70"} == set(t["programmes"])


def test_scenario_errors_name_file_and_field(tmp_path):
    def unserved(doc):
        doc["registers"][1]["programmes"] = ["mabis"]

    def bad_route(doc):
        doc["programmes"][0]["placement_route"] = "bus"

    def bad_country(doc):
        doc["programmes"][1]["country"] = "Netherlands"

    cases = [
        (unserved, "mabis", "exactly one"),
        (bad_route, "placement_route", "detention"),
        (bad_country, "country", "alpha-2"),
    ]
    for edit, field, words in cases:
        path = _scenario_with(tmp_path / f"{edit.__name__}.yml", edit=edit)
        with pytest.raises(ConfigError) as err:
            load_scenario(path)
        message = str(err.value)
        assert str(path) in message and field in message and words in message, message
    assert load_scenario().programmes[0].id == "mabis"


# --------------------------------------------------------------------------- the index release
def test_prior_spells_end_before_the_programme_start():
    """Every prior spell ends before the programme starts, so the index release is each
    person's first release to liberty in the period; participation belongs to it."""
    sim = simulate(6000, seed=4)
    pop, cust = sim.pop, sim.cust
    start = pl.DataFrame(
        {
            "pid": np.arange(pop.n),
            "start": pop.period_start.astype(np.int32),
            "end": pop.period_end.astype(np.int32),
        }
    ).with_columns(pl.col("start").cast(pl.Date), pl.col("end").cast(pl.Date))
    episodes = pl.concat([cust.episodes, sim.off.reincarceration_episodes]).join(start, on="pid")
    prior = episodes.filter(pl.col("kind") == "prior")
    assert prior.height > 1000
    assert prior.filter(pl.col("release") >= pl.col("start")).height == 0
    # ... and none starts before age 16
    birth = pl.Series(pop.birth[prior["pid"].to_numpy()].astype(np.int32)).cast(pl.Date)
    assert (prior["admission"] >= birth.dt.offset_by("16y")).all()
    first = (
        episodes.filter(
            pl.col("release_type").is_in(["end_of_sentence", "parole", "early_release"]),
            pl.col("release").is_between(pl.col("start"), pl.col("end")),
        )
        .group_by("pid")
        .agg(pl.col("release").min())
        .sort("pid")
    )
    eligible = np.flatnonzero(cust.released)
    assert first["pid"].to_list() == eligible.tolist()
    assert (first["release"].cast(pl.Int32).to_numpy() == cust.release[eligible]).all()
    # the treated hold an accepted, consented record with intake in [spell start, release + 90]
    t = np.flatnonzero(sim.sel.treated)
    assert sim.sel.treated[~cust.released].sum() == 0
    assert (sim.sel.intake[t] >= cust.admission[t]).all()
    assert (sim.sel.intake[t] <= cust.release[t] + 90).all()
    assert (sim.sel.selection[t] == 0).all() and (sim.sel.consent[t] == 0).all()
    # non-participants' records never count as participation
    other = np.flatnonzero((sim.sel.partner >= 0) & ~sim.sel.treated)
    assert len(other) > 100
    assert not ((sim.sel.selection[other] == 0) & (sim.sel.consent[other] == 0)).any()


# --------------------------------------------------------------------------- selection
def _bands(x: np.ndarray, edges: list[float], prefix: str) -> dict[str, np.ndarray]:
    """Dummies of the bands [edge_i, edge_i+1) (the first band is the reference)."""
    band = np.searchsorted(np.asarray(edges), x, side="right")
    return {f"{prefix}_{b}": (band == b).astype(float) for b in range(1, len(edges) + 1)}


def _categories(x: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    values = sorted(set(x.tolist()))
    return {f"{prefix}_{v}": (x == v).astype(float) for v in values[1:]}


def _warehouse_design(sim, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The warehouse's propensity covariates (indicators.md, programme effect), coded as it
    codes them, from what the exports show on the release date."""
    pop, cust, hist = sim.pop, sim.cust, sim.hist
    age = (year_of(cust.release) - year_of(pop.birth))[rows].astype(float)
    home = sim.cat.home_nationality[pop.programme[rows]]
    nat = np.where(
        pop.nationality[rows] == home,
        0,
        np.where(np.asarray(sim.cat.nationalities)[pop.nationality[rows]] == "", 2, 1),
    )
    since = (cust.release - hist.first_conviction)[rows] / 365.25
    cols = {"age": age}
    cols |= _bands(age, [21, 25, 30, 40], "ageband")
    cols |= _categories(pop.sex[rows], "sex")
    cols |= _categories(nat, "nat")
    cols |= _categories(np.minimum(cust.n_priors[rows], 3), "priors")
    cols |= _categories(conviction_category(hist.convictions[rows]), "convictions")
    cols |= _bands(np.nan_to_num(since, nan=-1), [0, 2, 5, 10], "since_first")
    cols |= _categories(cust.offence[rows], "offence")
    cols |= _bands(cust.sentence[rows], [183, 365, 730, 1826], "sentence")
    cols |= _bands((cust.release - cust.admission)[rows], [91, 183, 365, 730], "spell")
    cols["trained"] = cust.trained[rows].astype(float)
    cols |= _categories(cust.release_type[rows], "release_type")
    cols |= _categories(cust.home[rows], "prison")
    cols |= _categories(year_of(cust.release[rows]), "year")
    return {k: v for k, v in cols.items() if v.std() > 0}


def _fit(sim, programme: int):
    rows = np.flatnonzero(sim.cust.released & (sim.pop.programme == programme))
    design = _warehouse_design(sim, rows)
    risk = sim.pop.risk[rows]
    X = np.column_stack([np.ones(len(rows)), *design.values(), (risk - risk.mean()) / risk.std()])
    fit = sm.Logit(sim.participation.treated[rows].astype(float), X).fit(disp=0, maxiter=200)
    return rows, X, fit


@pytest.fixture(scope="module")
def selection_at_h0():
    return simulate(40_000, seed=21, hidden_confounding=0.0)


def test_selection_depends_on_observables_only_at_h0(selection_at_h0):
    """At h = 0 a logistic regression on the warehouse's covariates recovers the selection
    index, and the latent risk adds nothing significant; at h = 1 it dominates."""
    sim = selection_at_h0
    for programme in (0, 1):
        rows, X, fit = _fit(sim, programme)
        z_risk, p_risk = fit.params[-1], fit.pvalues[-1]
        assert abs(z_risk) < 0.1 and p_risk > 0.01, (programme, z_risk, p_risk)
        # the fitted index (without the risk term) is the planted one
        fitted = X[:, :-1] @ fit.params[:-1]
        planted = KAPPA * sim.participation.z_obs[rows]
        assert np.corrcoef(fitted, planted)[0, 1] > 0.97
        # and it is a linear index of observables: the raw index standardised
        raw = observable_index(sim.pop, sim.cust, sim.hist)[rows]
        assert np.corrcoef(raw, planted)[0, 1] > 0.9999
    sim1 = simulate(40_000, seed=21, hidden_confounding=1.0)
    rows, _, fit = _fit(sim1, 0)
    assert fit.params[-1] < -0.7 and fit.pvalues[-1] < 1e-10
    # about 20 % of eligible releases participate, whatever h
    for s in (sim, sim1):
        share = s.sel.treated[s.cust.released].mean()
        assert 0.185 < share < 0.215, share


def truth_of(sim, seed: int) -> dict:
    """The planted truth of a simulated world at its own as-of date (hazard ratio 0.7)."""
    return planted_truth(
        sim.pop,
        sim.cust,
        sim.hist,
        sim.cat,
        sim.sel.treated,
        sim.participation.model,
        sim.off,
        0.7,
        seed,
        sim.cat.as_of,
    )


def test_naive_bias_at_h0_is_about_ten_points(selection_at_h0):
    """Strong selection on observables that go with risk: the naive participant-minus-
    comparison difference in 24-month reconviction overstates the effect by ~8-12 points."""
    sim = selection_at_h0
    t = truth_of(sim, seed=21)
    for name in ("mabis", "exodus"):
        win = t["programmes"][name]["windows_months"]["24"]
        bias = win["naive_difference"] - win["effect_on_participants"]
        assert -0.13 < bias < -0.07, (name, bias)
        assert win["effect_on_participants"] < -0.04


def test_random_participation_is_independent_of_risk(tmp_path):
    sim = simulate(40_000, seed=8, random_participation=True)
    for p in (0, 1):
        rows = np.flatnonzero(sim.cust.released & (sim.pop.programme == p))
        treated = sim.sel.treated[rows]
        assert 0.185 < treated.mean() < 0.215
        risk = sim.pop.risk[rows]
        assert abs(risk[treated].mean() - risk[~treated].mean()) < 0.05
        assert (
            abs(
                sim.hist.convictions[rows][treated].mean()
                - sim.hist.convictions[rows][~treated].mean()
            )
            < 0.1
        )
    t = truth_of(sim, seed=8)
    assert t["random_participation"] is True
    for name in ("mabis", "exodus"):
        win = t["programmes"][name]["windows_months"]["24"]
        assert abs(win["naive_difference"] - win["effect_on_participants"]) < 0.035


def test_hidden_confounding_is_validated(tmp_path, capsys):
    with pytest.raises(ValueError, match="hidden_confounding"):
        generate_demo(tmp_path / "l", tmp_path / "t", persons=100, hidden_confounding=1.5)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--hidden-confounding", "1.5"])
    assert "outside [0, 1]" in capsys.readouterr().err
    args = build_parser().parse_args(
        ["demo", "--hidden-confounding", "0", "--random-participation"]
    )
    assert args.hidden_confounding == 0.0 and args.random_participation
    assert build_parser().parse_args(["demo"]).hidden_confounding is None
    assert DEFAULT_HIDDEN_CONFOUNDING == 0.3


# --------------------------------------------------------------------------- the truth
def test_serious_reconvictions_are_a_minority(demo):
    _, truth, _ = demo
    t = json.loads((truth / "planted_truth.json").read_text(encoding="utf-8"))
    assert 0.2 <= t["serious_reconvictions"]["serious_share"] <= 0.4
    for prog in t["programmes"].values():
        assert prog["serious_reconvictions"]["reconvictions"] > 100
        assert 0.15 <= prog["serious_reconvictions"]["serious_share"] <= 0.45


def test_truth_of_every_measure_and_window(demo):
    landing, truth, _ = demo
    t = json.loads((truth / "planted_truth.json").read_text(encoding="utf-8"))
    assert t["hidden_confounding"] == DEFAULT_HIDDEN_CONFOUNDING
    assert t["random_participation"] is False
    assert t["as_of_date"] == "2009-12-31"
    keys = {
        "effect_on_participants",
        "rate_participants_treated",
        "rate_participants_untreated",
        "naive_rate_participants",
        "naive_rate_non_participants",
        "naive_difference",
        "n_participants",
    }
    reg = load_registry(landing / "sources.yml")
    assert set(t["programmes"]) == set(reg.programmes)
    model = t["selection_model"]
    assert model["kappa"] == KAPPA and model["hidden_confounding"] == DEFAULT_HIDDEN_CONFOUNDING
    for name, prog in t["programmes"].items():
        assert model["programmes"][name]["alpha"] is not None
        for m in MEASURES:
            assert set(prog["measures"][m]["windows_months"]) == {str(w) for w in WINDOWS}
            for w in WINDOWS:
                win = prog["measures"][m]["windows_months"][str(w)]
                assert set(win) == keys
                assert None not in win.values(), (name, m, w)
                assert win["n_participants"] == prog["participating_releases"]
                # common random numbers: the treated world is never worse for a person
                assert win["rate_participants_treated"] <= win["rate_participants_untreated"]
                assert win["naive_rate_participants"] == win["rate_participants_treated"]
            rates = [
                prog["measures"][m]["windows_months"][str(w)]["rate_participants_untreated"]
                for w in WINDOWS
            ]
            assert rates == sorted(rates)  # a longer window holds more events
        assert prog["measures"]["reconviction"]["windows_months"] == prog["windows_months"]
        for w in WINDOWS:
            rec = prog["measures"]["reconviction"]["windows_months"][str(w)]
            for sub in ("custodial_reconviction", "serious_reconviction"):
                narrower = prog["measures"][sub]["windows_months"][str(w)]
                assert narrower["rate_participants_untreated"] <= rec["rate_participants_untreated"]


def test_observed_register_matches_the_truth():
    """The observed world is the treated world for participants and the untreated world for
    the others: the flags recomputed from the register entries agree with the truth's naive
    rates."""
    sim = simulate(8000, seed=9)
    as_of = sim.cat.as_of
    t = truth_of(sim, seed=9)
    reg = sim.off.register.with_columns(
        pl.col("offence").cast(pl.Int32).alias("o"), pl.col("decision").cast(pl.Int32).alias("d")
    )
    release = pl.DataFrame(
        {
            "pid": np.arange(sim.pop.n),
            "r": sim.cust.release.astype(np.int32),
            "treated": sim.sel.treated,
            "eligible": sim.cust.released,
            "programme": sim.pop.programme.astype(np.int32),
        }
    )
    release = release.with_columns(
        pl.col("r").cast(pl.Date).dt.offset_by("24mo").cast(pl.Int32).alias("end")
    )
    events = (
        reg.join(release, on="pid")
        .filter(
            pl.col("eligible"),
            pl.col("decision_type") == "conviction",
            pl.col("o") >= pl.col("r"),
            pl.col("o") <= pl.col("end"),
            pl.col("d") <= as_of,
        )
        .select("pid")
        .unique()
    )
    flags = release.filter(pl.col("eligible")).with_columns(
        pl.col("pid").is_in(events["pid"].implode()).alias("y")
    )
    for p, name in enumerate(sim.cat.ids):
        mine = flags.filter(pl.col("programme") == p)
        win = t["programmes"][name]["windows_months"]["24"]
        assert (
            round(mine.filter(pl.col("treated"))["y"].mean(), 6) == win["naive_rate_participants"]
        )
        assert (
            round(mine.filter(~pl.col("treated"))["y"].mean(), 6)
            == win["naive_rate_non_participants"]
        )


def test_offence_group_and_history_trace_the_risk():
    """Latent risk leaves observable traces before the index release."""
    sim = simulate(20_000, seed=13)
    pop, cust, hist = sim.pop, sim.cust, sim.hist
    high, low = pop.risk > 1, pop.risk < -1
    assert hist.convictions[high].mean() > hist.convictions[low].mean() + 1
    assert cust.n_priors[high].mean() > cust.n_priors[low].mean() + 0.5
    assert np.median(cust.sentence[high]) > np.median(cust.sentence[low])
    fraud, prop = OFFENCE_GROUPS.index("fraud"), OFFENCE_GROUPS.index("property")
    assert (cust.offence[low] == fraud).mean() > 2 * (cust.offence[high] == fraud).mean()
    assert (cust.offence[high] == prop).mean() > (cust.offence[low] == prop).mean()
