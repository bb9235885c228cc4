"""Tests of the demo-data simulation (reentry.simulation): determinism, the registry, the
defect log (checked against an independent re-reading of every file), the planted truth,
privacy of the truth folder, and write_export round trips for the three layouts."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import fastexcel
import polars as pl
import pytest

from ingestion.contract import ENTITIES, PARTNER_TYPES, QUARANTINE_REASONS
from ingestion.layouts import REFERENCE_LAYOUT, Layout, load_layout
from ingestion.registry import load_registry
from reentry.simulation import generate_demo, write_export
from reentry.simulation.names import FAMILY, GIVEN, STYLES, normalise, spell

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
    for path in sorted((Path(__file__).parents[1] / "reentry/simulation/layouts").glob("*.yml")):
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
    assert set(log["kind"]) == {
        "unknown_code",
        "invalid_date",
        "date_order",
        "missing_required",
        "invalid_number",
        "duplicate_key",
        "malformed_line",
        "whitespace",
    }
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
    layouts_dir = Path(__file__).parents[1] / "reentry/simulation/layouts"
    cases = {
        "de-justiz": "custody_episodes",
        "nl-exodus": "placements",
        "xlsx-zeitarbeit": "participants",
    }
    frames = {
        "custody_episodes": pl.DataFrame(
            {
                "episode_id": ["KLN2004-000001", "KLN2004-000002"],
                "inmate_id": ["KLN-000001", "KLN-000002"],
                "admission_date": ["2004-01-05", "2003-12-31"],
                "admission_type": ["sentence", "transfer_in"],
                "expected_release_date": ["2011-02-01", None],
                "release_date": ["2004-06-30", None],
                "release_type": ["parole", None],
                "sentence_days": ["400", "1200"],
                "offence_group": ["public_order", "drugs"],
            }
        ),
        "placements": pl.DataFrame(
            {
                "placement_id": ["P1", "P2"],
                "client_id": ["C1", "C2"],
                "placement_type": ["work_experience", "employment"],
                "employer_ref": ["AG;1", 'AG "2"'],
                "sector": ["R", "C"],
                "arranged_date": ["2003-01-02", "2003-02-03"],
                "start_date": ["2003-01-10", None],
                "planned_end_date": ["2003-06-30", None],
                "end_date": ["2003-05-01", None],
                "end_reason": ["transition", None],
                "hours_per_week": ["19.5", "40"],
                "paid": ["no", "yes"],
            }
        ),
        "participants": pl.DataFrame(
            {
                "client_id": ["ZW-000101", "00012"],
                "family_name": ["Müller-Lüdenscheidt", "Groß"],
                "given_name": ["Jürgen", "Ayşe"],
                "birth_date": ["1970-03-04", "1981-12-31"],
                "referring_prison": ["jva-koeln", None],
                "intake_date": ["2003-04-05", "2004-01-01"],
                "selection": ["accepted", "withdrawn"],
                "consent": ["yes", "withdrawn"],
                "exit_date": [None, "2004-02-01"],
                "exit_reason": [None, "dropout"],
            }
        ),
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
