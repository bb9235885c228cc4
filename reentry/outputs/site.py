"""The evaluators' static site: seven pages of Plotly charts, in German, Dutch and English.

Python writes the pages' skeletons, the messages and the protected tables (`tables.py`) as
JavaScript data files; `static/site.js` draws the charts in the browser, so the filters and the
language switch work from disk with no server and no network. plotly.js is written once, into
`assets/`. Nothing but the protected aggregates leaves the published database.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl
import yaml

from reentry.contract import CODE_LISTS, OUTPUT_ESTIMATORS, OUTPUT_INDICATORS

from .tables import (
    AT_RISK_DAYS,
    BREAKDOWNS,
    FUNNEL_STAGES,
    Metadata,
    metadata,
    open_published,
    protected_tables,
)

HERE = Path(__file__).parent
MESSAGES_DIR = HERE / "messages"
STATIC = HERE / "static"
# A language is a message file (messages/<lang>.yml): adding one adds the language.
LANGUAGES = tuple(sorted(path.stem for path in MESSAGES_DIR.glob("*.yml")))
MEASURES = CODE_LISTS["measure"]
WINDOWS = tuple(int(months) for months in CODE_LISTS["follow_up_months"])

HEADLINE_INDICATORS = list(OUTPUT_INDICATORS["headline"])
TREND = list(OUTPUT_INDICATORS["trend"])
RANKED = list(OUTPUT_INDICATORS["ranked_prisons"])
RANKED_PARTNERS = list(OUTPUT_INDICATORS["ranked_partners"])


@dataclass
class Page:
    """One page of the site: its file, title key and chart specs (read by site.js)."""

    name: str
    file: str
    charts: list[dict] = field(default_factory=list)


def chart(id: str, kind: str, table: str, title: str, definition: str, **spec) -> dict:
    """A chart spec: what site.js draws, from which table, with which messages."""
    return {
        "id": id,
        "kind": kind,
        "table": table,
        "title": f"title.{title}",
        "definition": f"def.{definition}",
        **spec,
    }


def _ranked(table: str, unit: str, options: list[str]) -> dict:
    """Prisons or partners ranked by an indicator the reader picks."""
    return chart(
        table,
        "ranked",
        "indicators",
        table,
        table,
        free=[f"{unit}_id"],
        control={
            "param": f"{unit}_indicator",
            "column": "indicator",
            "labels": "indicator",
            "options": options,
        },
    )


EFFECT_HEADLINE = {
    "cohort": "all",
    "estimator": "matched",
    "measure": "reconviction",
    "window_months": 24,
}
ESTIMATORS = OUTPUT_ESTIMATORS
BALANCE_STAGES = CODE_LISTS["balance_stage"]

PAGES = [
    Page(
        "overview",
        "index.html",
        [
            # The answer first: each programme's headline effect in words, then every effect.
            chart(
                "verdicts",
                "verdicts",
                "effects",
                "verdicts",
                "verdicts",
                html=True,
                wide=True,
                all_programmes=True,
                headline=EFFECT_HEADLINE,
                empty="effect.none",
            ),
            chart(
                "forest",
                "forest",
                "effects",
                "forest",
                "forest",
                wide=True,
                estimators=list(ESTIMATORS),
                empty="effect.none",
            ),
            chart(
                "headline",
                "headline",
                "indicators",
                "headline",
                "headline",
                indicators=HEADLINE_INDICATORS,
            ),
            chart(
                "trend", "trend", "indicators", "trend", "trend", indicators=TREND, free=["cohort"]
            ),
            chart("employment", "employment", "employment", "employment", "employment"),
        ],
    ),
    Page(
        "fairness",
        "fairness.html",
        [
            chart(
                "love",
                "love",
                "balance",
                "love",
                "love",
                wide=True,
                stages=list(BALANCE_STAGES),
                empty="effect.none",
            ),
            chart("overlap", "overlap", "overlap", "overlap", "overlap", empty="effect.none"),
            chart(
                "support",
                "support",
                "effects",
                "support",
                "support",
                html=True,
                headline=EFFECT_HEADLINE,
                empty="effect.none",
            ),
            chart(
                "evalues",
                "evalues",
                "effects",
                "evalues",
                "evalues",
                wide=True,
                estimators=list(ESTIMATORS),
                empty="effect.none",
            ),
        ],
    ),
    Page(
        "funnel",
        "funnel.html",
        [
            chart("funnel", "funnel", "funnel", "funnel", "funnel"),
            chart(
                "funnel_partners",
                "funnel_partners",
                "funnel",
                "funnel_partners",
                "funnel_partners",
                free=["partner_id"],
            ),
        ],
    ),
    Page(
        "dropouts",
        "dropouts.html",
        [
            chart(
                "retention",
                "curves",
                "retention",
                "retention",
                "retention",
                wide=True,
                series=[{"key": "placement_type", "value": "all", "label": "placement_type.all"}],
            ),
            chart(
                "dropout_by",
                "bars",
                "dropouts",
                "dropout_by",
                "dropout_by",
                mode="dots",
                share=True,
                category="breakdown_value",
                labels="placement_type",
                where=["breakdown", "placement_type"],
                n="n_started",
                values=[{"column": "dropout_share", "label": "chart.share"}],
            ),
            chart(
                "end_reasons",
                "bars",
                "end_reasons",
                "end_reasons",
                "end_reasons",
                category="end_reason",
                share=True,
                n="n_ended",
                values=[{"column": "share_of_ended", "label": "chart.share"}],
            ),
        ],
    ),
    Page(
        "recidivism",
        "recidivism.html",
        [
            chart(
                "rates",
                "rates",
                "recidivism_rates",
                "rates",
                "rates",
                wide=True,
                groups=["participant", "comparison"],
            ),
            chart("effects", "effects", "recidivism_effects", "effects", "effects", wide=True),
            chart(
                "survival",
                "curves",
                "survival",
                "survival",
                "survival",
                wide=True,
                series=[
                    {"key": "group", "value": g, "label": f"group.{g}"}
                    for g in ("participant", "comparison")
                ],
                control={
                    "param": "measure",
                    "column": "measure",
                    "labels": "measure",
                    "options": list(MEASURES),
                },
            ),
        ],
    ),
    Page(
        "comparison",
        "comparison.html",
        [
            _ranked("prisons", "prison", RANKED),
            _ranked("partners", "partner", RANKED_PARTNERS),
        ],
    ),
    Page(
        "quality",
        "quality.html",
        [
            chart(
                "deliveries",
                "bars",
                "deliveries",
                "deliveries",
                "deliveries",
                category="entity",
                labels="entity",
                n="n_received",
                alias={"prison_id": "source_id", "partner_id": "source_id"},
                values=[
                    {"column": "n_loaded", "label": "chart.loaded"},
                    {"column": "n_quarantined", "label": "chart.quarantined"},
                    {"column": "n_removed", "label": "chart.removed"},
                ],
            ),
            chart(
                "quarantine",
                "bars",
                "quarantine",
                "quarantine",
                "quarantine",
                category="reason",
                n="n_rows",
                alias={"prison_id": "source_id", "partner_id": "source_id"},
                values=[{"column": "n_rows", "label": "chart.quarantined"}],
            ),
            chart(
                "link_rates",
                "bars",
                "link_rates",
                "link_rates",
                "link_rates",
                mode="dots",
                share=True,
                category="entity",
                n="n_records",
                alias={"prison_id": "source_id", "partner_id": "source_id"},
                values=[{"column": "link_rate", "label": "chart.share"}],
            ),
            chart("validation", "validation", None, "validation", "validation"),
            # Drawn only where the published tables include it.
            chart(
                "suppression",
                "suppression",
                "suppression",
                "suppression",
                "suppression",
                optional=True,
            ),
        ],
    ),
]


def load_messages() -> dict[str, dict[str, str]]:
    """The message files, one per language."""
    return {
        lang: yaml.safe_load((MESSAGES_DIR / f"{lang}.yml").read_text(encoding="utf-8"))
        for lang in LANGUAGES
    }


def _json_default(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} into the site's data")


def _table_json(frame: pl.DataFrame) -> dict:
    """Columns and rows. A suppressed value is null already, so the flags (boolean
    `<column>_suppressed`) stay behind, unlike counts that merely end so (`n_suppressed`);
    floats are rounded to 5 digits (a thousandth of a percentage point)."""
    flags = [
        c for c, kind in frame.schema.items() if c.endswith("_suppressed") and kind == pl.Boolean
    ]
    frame = (
        frame.drop(flags)
        .with_columns(pl.col(pl.Decimal).cast(pl.Float64))
        .with_columns(pl.col(pl.Float64).round(5))
    )
    return {"columns": frame.columns, "rows": frame.rows()}


def _script(variable: str, payload) -> str:
    # `</` cannot end the script element early: JSON allows escaping the slash.
    text = json.dumps(
        payload, ensure_ascii=False, separators=(",", ":"), default=_json_default
    ).replace("</", "<\\/")
    return f"window.{variable} = {text};\n"


def _breakdown_values(indicators: pl.DataFrame) -> dict[str, dict[str, list[str]]]:
    """Per programme, the values each break-down filter offers."""
    out: dict[str, dict[str, list[str]]] = {}
    for programme in indicators["programme"].unique().sort().to_list():
        rows = indicators.filter(pl.col("programme") == programme)
        out[programme] = {
            dim: sorted(v for v in rows[dim].unique().to_list() if v != "all") for dim in BREAKDOWNS
        }
    return out


def folded_levels(frame: pl.DataFrame | None) -> dict[str, dict[str, dict[str, list[str]]]]:
    """Per programme and break-down, the rare levels counted with a neighbour, under the level
    they joined (the labels name them: "21-24 (with under 21)")."""
    out: dict[str, dict[str, dict[str, list[str]]]] = {}
    for r in frame.iter_rows(named=True) if frame is not None else []:
        (
            out.setdefault(r["programme"], {})
            .setdefault(r["dimension"], {})
            .setdefault(r["published_level"], [])
            .append(r["level"])
        )
    return out


def programme_info(frame: pl.DataFrame) -> dict[str, dict]:
    """Per programme (in the mart's order): name, country, period, languages (the first is the
    main one) and the protected sizes of its evaluation population."""
    return {
        r["programme"]: {
            "name": r["programme_name"] or r["programme"],
            "country": r["country"],
            "start": r["period_start_date"],
            "end": r["period_end_date"],
            "languages": list(r["languages"] or []),
            "n_participants": r["n_participants"],
            "n_comparison": r["n_comparison"],
        }
        for r in frame.iter_rows(named=True)
    }


def _validation_rows(validation_dir: Path | None) -> list[dict]:
    """Expectations passed and failed per table, from the latest validation report."""
    report = validation_dir / "latest.json" if validation_dir else None
    if not report or not report.exists():
        return []
    data = json.loads(report.read_text(encoding="utf-8"))
    return [
        {
            "table": name,
            "passed": int(t["expectations"]) - int(t["failed"]),
            "failed": int(t["failed"]),
        }
        for name, t in data.get("tables", {}).items()
    ]


def _charts(page: Page, tables: dict) -> list[dict]:
    """The page's charts whose tables exist (an optional chart's table may be absent)."""
    return [spec for spec in page.charts if not spec.get("optional") or spec.get("table") in tables]


def _page_html(
    page: Page, meta: Metadata, charts: list[dict] | None = None, title: str | None = None
) -> str:
    nav = "\n".join(
        f'      <a data-page="{p.file}" href="{p.file}"'
        f'{" aria-current=page" if p is page else ""} data-i18n="nav.{p.name}">'
        f"{p.name}</a>"
        for p in PAGES
    )
    filters = "\n".join(
        f'    <label><span data-i18n="filter.{dim}"></span>'
        f'<select id="filter-{dim}"></select></label>'
        for dim in ("programme", "cohort", *BREAKDOWNS)
    )
    cards = []
    for spec in page.charts if charts is None else charts:
        control = ""
        if spec.get("control"):
            control = (
                f'<p class="control-row"><label><span data-i18n="filter.'
                f'{spec["control"]["labels"]}"></span> <select class="control">'
                "</select></label></p>"
            )
        body = (
            '<div class="text"></div>'
            if spec.get("html")
            else '<div class="plot" role="img"></div>'
        )
        wide = " wide" if spec.get("wide") else ""
        cards.append(f"""    <section class="card{wide}" data-chart="{spec["id"]}">
      <h2 data-i18n="{spec["title"]}"></h2>
      {control}
      {body}
      <p class="meta"></p>
      <p class="notes"></p>
      <p class="definition"><strong data-i18n="chart.definition"></strong>:
        <span data-i18n="{spec["definition"]}"></span></p>
    </section>""")
    version = html.escape(meta.data_version)
    tables = "\n".join(
        f'<script src="data/table-{name}.js"></script>' for name in _tables_of(page, charts)
    )
    languages = "\n    ".join(
        f'<button type="button" data-lang="{lang}">{lang.upper()}</button>' for lang in LANGUAGES
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="data-version" content="{version}">
<title>{html.escape(title or page.name)} – reentry-warehouse</title>
<link rel="stylesheet" href="assets/site.css">
</head>
<body data-page="{page.name}" data-rendered="false">
<header>
  <div class="languages"><span data-i18n="site.language"></span>
    {languages}
    <button type="button" id="print" data-i18n="site.print"></button>
  </div>
  <h1 data-i18n="site.title"></h1>
  <p class="sub"><span data-i18n="site.subtitle"></span> ·
    <span data-i18n="site.period"></span> ·
    <span data-i18n="site.as_of"></span> ·
    <span class="version" data-i18n="site.version" title="{version}"></span></p>
  <nav>
{nav}
  </nav>
</header>
<div class="filters">
{filters}
  <p class="hint" data-i18n="filter.one_breakdown"></p>
  <p id="selection"></p>
</div>
<main>
{chr(10).join(cards)}
</main>
<footer><p data-i18n="site.footer"></p><p class="built" data-i18n="site.built"></p></footer>
<script src="assets/plotly.min.js"></script>
<script src="assets/messages.js"></script>
<script src="assets/site-data.js"></script>
{tables}
<script src="data/{page.name}.js"></script>
<script src="assets/site.js"></script>
</body>
</html>
"""


def _tables_of(page: Page, charts: list[dict] | None = None) -> list[str]:
    return sorted(
        {spec["table"] for spec in (page.charts if charts is None else charts) if spec.get("table")}
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build_site(
    published_db: Path,
    out_dir: Path,
    data_version: str,
    validation_dir: Path | None = None,
    names: dict[str, str] | None = None,
    cache_dir: Path | None = None,
) -> list[Path]:
    """Write the site into a fresh folder beside `out_dir`, then swap it in, so a reader never
    sees half a site. Returns the pages written."""
    import plotly.offline

    tables = protected_tables(published_db, cache_dir=cache_dir, version=data_version)
    con = open_published(published_db)
    try:
        meta = metadata(con, data_version)
    finally:
        con.close()
    indicators = tables["indicators"]
    cohorts = sorted(v for v in indicators["cohort"].unique().to_list() if v != "all")
    info = programme_info(tables["programmes"])
    # The registry's order; a programme with figures but no registry row (none expected) last.
    order = list(info) + sorted(set(indicators["programme"].unique().to_list()) - set(info))
    site = {
        "as_of": meta.as_of_date,
        "data_version": meta.data_version,
        "built_at": meta.built_at,
        "n_programme_period_releases": meta.n_programme_period_releases,
        "programmes": order,
        "programme_info": info,
        "cohorts": cohorts,
        "years": [c for c in cohorts if len(c) == 4],
        "breakdown_dims": list(BREAKDOWNS),
        "breakdowns": _breakdown_values(indicators),
        "folded": folded_levels(tables.get("breakdown_levels")),
        "names": names or {},
        "funnel_stages": list(FUNNEL_STAGES),
        "in_work_days": [int(day) for day in CODE_LISTS["in_work_day"]],
        "measures": list(MEASURES),
        "windows": list(WINDOWS),
        "at_risk_days": list(AT_RISK_DAYS),
    }
    staging = out_dir.with_name(out_dir.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    assets = staging / "assets"
    assets.mkdir(parents=True)
    _write(assets / "plotly.min.js", plotly.offline.get_plotlyjs())
    shutil.copy(STATIC / "site.js", assets / "site.js")
    shutil.copy(STATIC / "site.css", assets / "site.css")
    messages = load_messages()
    # The tab's title before the script runs (the script gives it in the chosen language).
    titles = messages["en"]
    _write(assets / "messages.js", _script("REENTRY_MESSAGES", messages))
    _write(assets / "site-data.js", _script("REENTRY_SITE", site))
    validation = _validation_rows(validation_dir)
    # Each table once, in its own file, loaded by the pages that show it.
    charts = {page.name: _charts(page, tables) for page in PAGES}
    for name in sorted({t for page in PAGES for t in _tables_of(page, charts[page.name])}):
        _write(
            staging / "data" / f"table-{name}.js",
            "window.REENTRY_TABLES = window.REENTRY_TABLES || {};\n"
            + _script(f"REENTRY_TABLES.{name}", _table_json(tables[name])),
        )
    written = []
    for page in PAGES:
        payload = {"page": page.name, "charts": charts[page.name]}
        if page.name == "quality":
            payload["validation"] = validation
        _write(staging / "data" / f"{page.name}.js", _script("REENTRY_PAGE", payload))
        _write(
            staging / page.file,
            _page_html(page, meta, charts[page.name], titles.get(f"nav.{page.name}")),
        )
        written.append(out_dir / page.file)
    _swap(staging, out_dir)
    return written


def _swap(staging: Path, out_dir: Path) -> None:
    """Replace `out_dir` with `staging`: rename the old one away first, then the new one in."""
    old = out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)
