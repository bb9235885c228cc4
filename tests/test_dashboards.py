"""The evaluators' static site (dashboards/site.py, dashboards/static/site.js).

Browser tests open every page from disk in headless Chromium (tests/browser.py): charts drawn,
n and as-of on every chart, definitions, the language switch, the filters and no network.
The tests without a browser check the message files, that no row-level data and no small
count is written into the site, and that shares agree with the counts they rest on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
import yaml

from dashboards.site import (
    HEADLINE,
    LANGUAGES,
    MEASURES,
    PAGES,
    RANKED,
    TREND,
    WINDOWS,
)
from dashboards.tables import BREAKDOWNS, FUNNEL_STAGES

from .browser import chromium_browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
MESSAGES_DIR = REPO / "dashboards" / "messages"
SITE_JS = REPO / "dashboards" / "static" / "site.js"
THRESHOLD = 10
RENDERED = 'body[data-rendered="true"]'
MISSING = "\u27e6"  # how site.js shows a message key it has no text for
# Counts that are not about persons or records: the number of delivery files per source.
NOT_PERSON_COUNTS = {"n_files"}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def site(built_demo) -> Path:
    """The site the pipeline wrote for the built demo."""
    folder = built_demo["root"] / "dashboards"
    # The Dagster job wrote it (an asset after publish), for the published version.
    assert "dashboards/site" in built_demo["first"].materialized
    version = hashlib.sha256(built_demo["published"].read_bytes()).hexdigest()
    assert f'content="{version}"' in (folder / "index.html").read_text(encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def published(built_demo) -> Path:
    return built_demo["published"]


@pytest.fixture(scope="module")
def as_of(published) -> str:
    con = duckdb.connect(str(published), read_only=True)
    try:
        return str(con.execute("select as_of_date from marts.run_metadata").fetchall()[0][0])
    finally:
        con.close()


@pytest.fixture(scope="module")
def messages() -> dict[str, dict[str, str]]:
    return {lang: yaml.safe_load((MESSAGES_DIR / f"{lang}.yml").read_text(encoding="utf-8"))
            for lang in LANGUAGES}


@dataclass
class Tab:
    """One browser page with the console errors and page errors it has seen."""

    page: object
    problems: list[str] = field(default_factory=list)

    def open(self, url: str, lang: str | None = None) -> None:
        self.page.goto(url)
        self.rendered(lang)

    def rendered(self, lang: str | None = None) -> None:
        selector = RENDERED + (f'[data-lang="{lang}"]' if lang else "")
        self.page.wait_for_selector(selector, state="attached")

    def take_problems(self) -> list[str]:
        problems, self.problems[:] = list(self.problems), []
        return problems


def _watch(page) -> Tab:
    tab = Tab(page)
    page.set_default_timeout(30_000)
    page.on("console", lambda m: tab.problems.append(f"console.{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: tab.problems.append(f"pageerror: {e}"))
    return tab


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


@pytest.fixture(scope="module")
def tab(browser):
    """The page shared by the browser tests of this module."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield _watch(context.new_page())
    context.close()


@pytest.fixture
def clean_tab(tab) -> Tab:
    """The shared page, its problem list emptied; a test fails on problems it leaves."""
    tab.take_problems()
    yield tab


def url(site: Path, file: str, hash: str = "") -> str:
    return (site / file).as_uri() + hash


def cards(page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll("section.card"))
        .map(c => ({id: c.getAttribute("data-chart"),
                    drawn: !!c.querySelector(".plot .main-svg"),
                    meta: c.querySelector(".meta").textContent,
                    definition: c.querySelector(".definition [data-i18n]").textContent}))""")


def select_and_render(tab: Tab, selector: str, value: str) -> None:
    """Choose a value; the change handler re-renders at once (data-rendered false) and the
    page is awaited until every chart is drawn again."""
    tab.page.select_option(selector, value)
    tab.rendered()


def hash_state(page) -> dict[str, str]:
    text = page.evaluate("window.location.hash").lstrip("#")
    return dict(pair.split("=", 1) for pair in text.split("&") if "=" in pair)


def options(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(f"{selector} option", "els => els.map(e => e.value)")


# ---------------------------------------------------------------- in the browser


def test_pages_render_with_n_as_of_and_definitions(site, clean_tab, as_of, messages):
    tab = clean_tab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    en = messages["en"]
    n_shown = en["chart.n"].split("{n}")[0]
    problems = []
    for p in PAGES:
        tab.open(url(site, p.file), "en")
        found = cards(tab.page)
        assert [c["id"] for c in found] == [s["id"] for s in p.charts], p.file
        drawn = [c["id"] for c in found if c["drawn"]]
        if len(drawn) != len(p.charts):
            problems.append(f"{p.file}: {len(drawn)} of {len(p.charts)} charts drawn")
        for c in found:
            where = f"{p.file} [{c['id']}]"
            if as_of not in c["meta"]:
                problems.append(f"{where}: no as-of date {as_of} in meta {c['meta']!r}")
            if n_shown not in c["meta"] and en["chart.n_suppressed"] not in c["meta"]:
                problems.append(f"{where}: no n in meta {c['meta']!r}")
            if not c["definition"].strip() or MISSING in c["definition"]:
                problems.append(f"{where}: no definition ({c['definition']!r})")
        tab.page.screenshot(path=str(SCREENSHOTS / f"{p.name}-en.png"), full_page=True)
        problems += [f"{p.file}: {m}" for m in tab.take_problems()]
    assert not problems, "\n".join(problems)


def test_language_switch(site, clean_tab, messages):
    tab = clean_tab
    page = tab.page
    tab.open(url(site, "index.html"), "en")
    english = page.inner_text("h1")
    assert english == messages["en"]["site.title"]
    for lang in ("de", "nl"):
        page.click(f'button[data-lang="{lang}"]')
        tab.rendered(lang)
        title = page.inner_text("h1")
        assert title != english
        assert title == messages[lang]["site.title"]
        assert page.evaluate("document.documentElement.lang") == lang
        assert hash_state(page)["lang"] == lang
        assert page.get_attribute(f'button[data-lang="{lang}"]', "aria-pressed") == "true"
    # The language is kept when moving to another page through the navigation.
    page.click('nav a[data-page="funnel.html"]')
    tab.rendered("nl")
    assert page.inner_text("h1") == messages["nl"]["site.title"]
    assert not tab.take_problems()


def test_every_message_shown_in_every_language(site, clean_tab):
    tab = clean_tab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for p in PAGES:
        for lang in ("en", "de", "nl"):
            tab.open(url(site, p.file, f"#lang={lang}"), lang)
            text = tab.page.evaluate("document.title + document.documentElement.textContent")
            if MISSING in text:
                keys = sorted(set(re.findall(MISSING + r"([^\u27e7]*)\u27e7", text)))
                problems.append(f"{p.file} ({lang}): no message for {keys}")
            if lang != "en":
                tab.page.screenshot(path=str(SCREENSHOTS / f"{p.name}-{lang}.png"),
                                    full_page=True)
            problems += [f"{p.file} ({lang}): {m}" for m in tab.take_problems()]
    assert not problems, "\n".join(problems)


def test_filters(site, clean_tab):
    tab = clean_tab
    page = tab.page
    tab.open(url(site, "recidivism.html"), "en")
    rates_meta = 'section.card[data-chart="rates"] .meta'
    unfiltered = page.text_content(rates_meta)

    year = options(page, "#filter-cohort")[1]
    select_and_render(tab, "#filter-cohort", year)
    assert page.text_content(rates_meta) != unfiltered
    assert hash_state(page)["cohort"] == year

    # One break-down at a time: choosing a prison puts sex (and the others) back to all.
    select_and_render(tab, "#filter-sex", "f")
    assert page.input_value("#filter-sex") == "f"
    assert hash_state(page)["sex"] == "f"
    prisons = options(page, "#filter-prison_id")
    assert prisons[0] == "all" and len(prisons) > 1
    select_and_render(tab, "#filter-prison_id", prisons[1])
    assert page.input_value("#filter-prison_id") == prisons[1]
    for other in ("sex", "partner_id", "age_band"):
        assert page.input_value(f"#filter-{other}") == "all", other
    state = hash_state(page)
    assert state["prison_id"] == prisons[1] and state["sex"] == "all"
    assert state["cohort"] == year

    # Another programme has other prisons; its break-downs start at all.
    select_and_render(tab, "#filter-programme", "exodus")
    assert hash_state(page)["programme"] == "exodus"
    exodus_prisons = options(page, "#filter-prison_id")
    assert exodus_prisons != prisons
    assert not set(exodus_prisons[1:]) & set(prisons[1:])
    assert page.input_value("#filter-prison_id") == "all"
    assert not tab.take_problems()


def test_no_network(site, browser):
    context = browser.new_context()
    outside: list[str] = []
    local: list[str] = []

    def handle(route):
        if route.request.url.startswith("file://"):
            local.append(route.request.url)
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", handle)
    tab = _watch(context.new_page())
    tab.page.on("request", lambda r: None if r.url.startswith("file://")
                else outside.append(r.url))
    try:
        for p in PAGES:
            tab.open(url(site, p.file), "en")
            # A language switch and a filter draw everything anew.
            tab.page.click('button[data-lang="de"]')
            tab.rendered("de")
            select_and_render(tab, "#filter-cohort", options(tab.page, "#filter-cohort")[1])
    finally:
        context.close()
    assert local, "the route handler saw no request at all"
    assert not outside, sorted(set(outside))
    assert not tab.take_problems()


# ---------------------------------------------------------------- without a browser


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_message_files_agree(messages):
    keys = {lang: set(table) for lang, table in messages.items()}
    for lang in LANGUAGES:
        assert keys[lang] == keys["en"], (
            f"{lang}.yml: missing {sorted(keys['en'] - keys[lang])}, "
            f"extra {sorted(keys[lang] - keys['en'])}")
    problems = []
    for key in sorted(keys["en"]):
        for lang in LANGUAGES:
            value = messages[lang][key]
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{lang}.yml {key}: empty or not text ({value!r})")
        found = {lang: sorted(set(PLACEHOLDER.findall(str(messages[lang][key]))))
                 for lang in LANGUAGES}
        if len({tuple(v) for v in found.values()}) > 1:
            problems.append(f"{key}: placeholders differ {found}")
    assert not problems, "\n".join(problems)


def _spec_keys() -> set[str]:
    """Every message key the page specs name, and the keys site.js builds from them."""
    keys = set()
    for p in PAGES:
        keys.add(f"nav.{p.name}")
        for spec in p.charts:
            keys |= {spec["title"], spec["definition"]}
            keys |= {s["label"] for s in spec.get("series", []) if s.get("label")}
            keys |= {v["label"] for v in spec.get("values", [])}
            keys |= {f"group.{g}" for g in spec.get("groups", [])}
            keys |= {f"indicator.{i}" for i in spec.get("indicators", [])}
            control = spec.get("control")
            if control:
                keys.add(f"filter.{control['labels']}")
                keys |= {f"{control['labels']}.{o}" for o in control["options"]}
    keys |= {f"filter.{d}" for d in ("programme", "cohort", *BREAKDOWNS)}
    keys |= {f"indicator.{i}" for i in HEADLINE + TREND + RANKED}
    keys |= {f"measure.{m}" for m in MEASURES} | {f"window.{w}" for w in WINDOWS}
    keys |= {f"stage.{s}" for s in FUNNEL_STAGES}
    # Keys written out in site.js itself.
    keys |= set(re.findall(r'\bt\("([a-z_]+\.[a-z0-9_]+)"', SITE_JS.read_text("utf-8")))
    return keys


def test_every_referenced_message_exists(site, messages):
    keys = _spec_keys()
    for p in PAGES:
        keys |= set(re.findall(r'data-i18n="([^"]+)"',
                               (site / p.file).read_text(encoding="utf-8")))
    site_data = _load_js(site / "assets" / "site-data.js")
    keys |= {f"programme.{p}" for p in site_data["programmes"]}
    problems = [f"{lang}.yml has no {key}" for key in sorted(keys) for lang in LANGUAGES
                if key not in messages[lang]]
    assert not problems, "\n".join(problems)


def _load_js(path: Path):
    """The JSON of the last `window.X = {...};` assignment in a data file."""
    last = path.read_text(encoding="utf-8").rstrip().splitlines()[-1]
    assert last.startswith("window.") and last.endswith(";"), path
    return json.loads(last.split(" = ", 1)[1][:-1])


def _tables(site: Path) -> dict[str, dict]:
    return {path.stem.removeprefix("table-"): _load_js(path)
            for path in sorted((site / "data").glob("table-*.js"))}


def _site_files(site: Path) -> list[Path]:
    return [p for p in sorted(site.rglob("*"))
            if p.is_file() and p.relative_to(site) != Path("assets/plotly.min.js")]


def test_no_row_level_data(site, published):
    con = duckdb.connect(str(published), read_only=True)
    try:
        persons = [r[0] for r in con.execute(
            "select distinct person_key from marts.releases where person_key is not null "
            "order by person_key limit 200").fetchall()]
    finally:
        con.close()
    assert len(persons) == 200
    # A whole key, or its first 16 characters (a shortened key identifies as well).
    needles = {str(k) for k in persons} | {str(k)[:16] for k in persons}
    found = []
    for path in _site_files(site):
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(site)}: {n}" for n in needles if n in text]
        if path.parent.name == "data" or path.name == "site-data.js":
            found += [f"{path.relative_to(site)}: column {c}" for c in
                      ("person_key", "release_id", "placement_id") if c in text]
    assert not found, "\n".join(found[:20])


def _column(table: dict, name: str) -> list:
    i = table["columns"].index(name)
    return [row[i] for row in table["rows"]]


def test_no_small_counts(site):
    problems = []
    for name, table in _tables(site).items():
        columns = table["columns"]
        for column in columns:
            if not column.startswith("n_") or column in NOT_PERSON_COUNTS:
                continue
            small = [v for v in _column(table, column) if v is not None and v < THRESHOLD]
            if small:
                problems.append(f"{name}.{column}: {len(small)} values below {THRESHOLD}, "
                                f"e.g. {sorted(set(small))[:5]}")
        if name == "indicators":
            kinds = _column(table, "kind")
            for column, exempt in (("numerator", {"km"}), ("denominator", {"rate"})):
                # A rate's denominator is person-months; a median's numerator is its count
                # of units (programme_indicators.sql), a km indicator has none.
                small = defaultdict(set)
                for kind, v in zip(kinds, _column(table, column), strict=True):
                    if kind not in exempt and v is not None and v < THRESHOLD:
                        small[kind].add(v)
                problems += [f"indicators.{column} ({kind}): values below {THRESHOLD}, "
                             f"e.g. {sorted(vs)[:5]}" for kind, vs in sorted(small.items())]
    assert not problems, "\n".join(problems)


# share column, numerator, denominator (None: the table's total of the numerator per group)
SHARES = {
    "link_rates": ("link_rate", "n_linked", "n_records"),
    "dropouts": ("dropout_share", "n_dropouts", "n_started"),
    "employment": ("share", "n_in_work", "n_observed"),
    "recidivism_rates": ("rate", "n_events", "n_full_follow_up"),
    "end_reasons": ("share_of_ended", "n_ended", None),
}


def test_shares_agree_with_counts(site):
    tables = _tables(site)
    problems = []
    for name, (share, top, bottom) in SHARES.items():
        table = tables[name]
        rows = [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]
        if bottom is None:  # end reasons: shares of each partner's ended placements
            totals = {(r["programme"], r["partner_id"]): r[top] for r in rows
                      if r["end_reason"] == "all"}
            groups = defaultdict(list)
            for r in rows:
                if r["end_reason"] != "all":
                    groups[(r["programme"], r["partner_id"])].append(r)
            # The total row is published; where it is shown, the parts' shares rest on it.
            pairs = [(r[share], r[top], totals.get(key)) for key, g in groups.items()
                     for r in g]
            assert all(totals.get(key) is None or sum(x[top] for x in g) == totals[key]
                       for key, g in groups.items() if all(x[top] is not None for x in g))
        else:
            pairs = [(r[share], r[top], r[bottom]) for r in rows]
        wrong = [(s, a, b) for s, a, b in pairs
                 if s is not None and a is not None and b and abs(s - a / b) > 1e-4]
        if wrong:
            problems.append(f"{name}.{share}: {len(wrong)} of {len(pairs)} differ from "
                            f"{top}/{bottom or 'total'}, e.g. {wrong[:3]}")
    indicators = tables["indicators"]
    rows = [dict(zip(indicators["columns"], r, strict=True)) for r in indicators["rows"]]
    wrong = [r for r in rows if r["kind"] == "share" and r["value"] is not None
             and r["denominator"] and abs(r["value"] - r["numerator"] / r["denominator"]) > 1e-4]
    if wrong:
        problems.append(f"indicators.value: {len(wrong)} shares differ from "
                        f"numerator/denominator")
    assert not problems, "\n".join(problems)
