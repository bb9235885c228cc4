"""The validation report: per mart, every rule checked (dbt tests and GX expectations) with
pass or fail and a few counts, as JSON and a self-contained HTML page; never a value of a
row."""

from __future__ import annotations

import html
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class ExpectationOutcome:
    """The outcome of one expectation on one mart; carries no value of any row."""

    table: str
    expectation: str  # readable name of the rule, including the column(s)
    success: bool
    expectation_type: str = ""  # the dbt test (between, ...) or GX expectation checking it
    columns: list[str] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)  # unexpected rows, observed counts
    error: str | None = None  # why the rule could not be evaluated
    source: str = "dbt"  # who checked it: dbt (a data test) or great_expectations


@dataclass
class ValidationReport:
    success: bool
    outcomes: list[ExpectationOutcome]
    started_at: datetime
    finished_at: datetime
    database: str | None = None
    previous: str | None = None
    previous_used: bool = False  # a previous publish was found and row counts compared
    tables: list[str] = field(default_factory=list)  # the tables validated, in order
    # marts whose dbt tests had not run in the build and were run by the validation
    tested_now: list[str] = field(default_factory=list)

    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def by_table(self) -> dict[str, bool]:
        result = {t: True for t in self.tables}
        for o in self.outcomes:
            result[o.table] = result.get(o.table, True) and o.success
        return result

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict:
        """A JSON-serialisable summary: names, pass/fail and counts, no row values."""
        by_table = self.by_table()
        per_table = {
            t: {
                "success": ok,
                "expectations": sum(o.table == t for o in self.outcomes),
                "failed": sum(o.table == t and not o.success for o in self.outcomes),
            }
            for t, ok in by_table.items()
        }
        return {
            "success": self.success,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_seconds": round(self.duration_seconds, 3),
            "database": self.database,
            "previous": self.previous,
            "previous_used": self.previous_used,
            "tested_now": self.tested_now,
            "totals": {
                "tables": len(by_table),
                "tables_failed": sum(not ok for ok in by_table.values()),
                "expectations": len(self.outcomes),
                "passed": sum(o.success for o in self.outcomes),
                "failed": sum(not o.success for o in self.outcomes),
            },
            "tables": per_table,
            "outcomes": [asdict(o) for o in self.outcomes],
        }


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; color: #1d1d1f; line-height: 1.4; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.summary { padding: .8rem 1rem; border-radius: .4rem; margin: 1rem 0; }
.ok { background: #e6f4ea; border: 1px solid #34a853; }
.bad { background: #fce8e6; border: 1px solid #d93025; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e0e0e0; }
td.pass { color: #137333; font-weight: 600; } td.fail { color: #c5221f; font-weight: 600; }
.badge { font-size: .8rem; padding: .1rem .45rem; border-radius: .3rem; margin-left: .4rem; }
.badge.pass { background: #e6f4ea; color: #137333; }
.badge.fail { background: #fce8e6; color: #c5221f; }
.muted { color: #5f6368; font-size: .85rem; }
"""


def _html(report: ValidationReport) -> str:
    data = report.to_json()
    totals = data["totals"]
    e = html.escape
    status = "PASSED" if report.success else "FAILED"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Mart validation: {status}</title><style>{_CSS}</style></head><body>",
        "<h1>Mart validation</h1>",
        f'<div class="summary {"ok" if report.success else "bad"}">',
        f"<strong>Validation {status}</strong>: "
        f"{totals['expectations']} expectations on {totals['tables']} tables, "
        f"{totals['passed']} passed, {totals['failed']} failed; "
        f"{totals['tables'] - totals['tables_failed']} tables passed, "
        f"{totals['tables_failed']} tables failed.</div>",
        '<p class="muted">',
        f"Database: {e(str(report.database))}<br>",
        f"Previous publish: {e(str(report.previous)) if report.previous_used else 'none'}<br>",
        f"Started {e(data['started_at'])}, finished {e(data['finished_at'])} "
        f"({data['duration_seconds']:.1f} s). The rules on the data are dbt tests, the row "
        "counts Great Expectations expectations. The report names them and counts rows; it "
        "holds no value of any row.</p>",
        "<h2>Tables</h2><table><tr><th>table</th><th>result</th><th>expectations</th>"
        "<th>failed</th></tr>",
    ]
    for table, info in data["tables"].items():
        word = "pass" if info["success"] else "fail"
        out.append(
            f'<tr><td><a href="#{e(table)}">{e(table)}</a></td><td class="{word}">{word}</td>'
            f"<td>{info['expectations']}</td><td>{info['failed']}</td></tr>"
        )
    out.append("</table>")
    for table, info in data["tables"].items():
        word = "pass" if info["success"] else "fail"
        out.append(
            f'<h2 id="{e(table)}">{e(table)}<span class="badge {word}">{word}</span></h2>'
            f'<p class="muted">{info["expectations"] - info["failed"]} passed, '
            f"{info['failed']} failed</p>"
        )
        out.append(
            "<table><tr><th>result</th><th>expectation</th><th>checked by</th>"
            "<th>unexpected rows</th></tr>"
        )
        for o in report.outcomes:
            if o.table != table:
                continue
            word = "pass" if o.success else "fail"
            unexpected = o.counts.get("unexpected_count")
            detail = "" if unexpected is None else str(unexpected)
            if o.error:
                detail = f"{detail} error: {o.error}".strip()
            out.append(
                f'<tr><td class="{word}">{word}</td><td>{e(o.expectation)}</td>'
                f'<td class="muted">{e(o.source)}: {e(o.expectation_type)}</td>'
                f"<td>{e(detail)}</td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(report: ValidationReport, folder: Path) -> Path:
    """Write validation-<timestamp>.json and .html to folder, and overwrite latest.json and
    latest.html with the same content; return the path of the timestamped HTML page."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report.finished_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem, n = f"validation-{stamp}", 1
    while (folder / f"{stem}.json").exists() or (folder / f"{stem}.html").exists():
        n += 1
        stem = f"validation-{stamp}-{n}"
    text_json = json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    text_html = _html(report)
    for name, text in (
        (f"{stem}.json", text_json),
        (f"{stem}.html", text_html),
        ("latest.json", text_json),
        ("latest.html", text_html),
    ):
        _write_atomic(folder / name, text)
    return folder / f"{stem}.html"
