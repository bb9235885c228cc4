"""The recidivism marts recomputed independently (indicators.md), on the built demo.

Each test rebuilds an indicator in plain Python from low-level inputs (the release population
of `marts.releases`, the register entries of staging and the stitched custody spells) and
compares it with the mart: Kaplan-Meier curves (lifelines), window rates with Wilson intervals
(scipy), the 'all' rows as sums of their parts, Newcombe intervals and direct standardisation
in `recidivism_effects`, and the agreement of survival curve and window rate.
"""

from __future__ import annotations

import calendar
import csv
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest

from .conftest import query

Z = 1.959963984540054
WINDOWS = (12, 24, 36)
MEASURES = ("reconviction", "custodial_reconviction", "serious_reconviction", "reincarceration")
REGISTER_MEASURES = MEASURES[:3]
FAR_FUTURE = date(9999, 12, 31)
# The grouping sets of recidivism_rates (outputs.md: 'all' totals over a break-down).
GROUPINGS = (
    ("cohort", "prison_id"),
    ("cohort",),
    ("prison_id",),
    (),
    ("cohort", "sex"),
    ("sex",),
    ("cohort", "age_band"),
    ("age_band",),
)
DIMS = ("cohort", "prison_id", "sex", "age_band")


# --- independent helpers --------------------------------------------------------------------


def add_months(d: date, months: int) -> date:
    """d plus `months` calendar months, clamped to the end of the month."""
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


_WILSON: dict[tuple[int, int], tuple[float, float]] = {}


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval, from scipy."""
    from scipy.stats import binomtest

    if (k, n) not in _WILSON:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        _WILSON[(k, n)] = (float(ci.low), float(ci.high))
    return _WILSON[(k, n)]


def age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    for limit, band in ((21, "under_21"), (25, "21_24"), (30, "25_29"), (40, "30_39")):
        if age < limit:
            return band
    return "40_plus"


def prior_band(prior: int) -> str:
    return "0" if prior == 0 else "1" if prior == 1 else "2+"


def close(a: float | None, b: float | None, tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol


# --- inputs ---------------------------------------------------------------------------------


@dataclass
class Release:
    release_id: str
    person_key: str
    programme: str
    prison_id: str
    cohort: str
    sex: str
    age_band: str
    group: str
    release_date: date
    exit_date: date | None
    # measure -> every event date on or after the release (decided by the as-of date)
    events: dict[str, list[date]] = field(default_factory=dict)

    def first_event(self, measure: str) -> date | None:
        return min(self.events[measure], default=None)


@dataclass
class Inputs:
    db: Path
    as_of: date
    lags: dict[str, int]
    releases: list[Release]


def load_inputs(db: Path) -> Inputs:
    ((as_of, register_lag, reinc_lag),) = query(
        db,
        "select as_of_date, register_lag_months, reincarceration_lag_months "
        "from intermediate.int_parameters",
    )
    lags = {m: (reinc_lag if m == "reincarceration" else register_lag) for m in MEASURES}
    convictions: dict[str, list[tuple]] = defaultdict(list)
    for pk, offence, decision, sanction, penalty in query(
        db,
        "select person_key, offence_date, decision_date, sanction, max_penalty_years "
        "from staging.stg_register__register_entries where decision_type = 'conviction'",
    ):
        convictions[pk].append((offence, decision, sanction, penalty))
    spells: dict[str, list[tuple]] = defaultdict(list)
    for pk, start, first_type in query(
        db,
        "select person_key, spell_start_date, first_admission_type "
        "from intermediate.int_custody_spells_stitched",
    ):
        spells[pk].append((start, first_type))
    releases = []
    for row in query(
        db,
        "select release_id, person_key, programme, prison_id, cast(cohort_year as varchar), "
        "sex, age_band, is_participant, release_date, exit_date from marts.releases "
        "where is_index_year and is_programme_period",
    ):
        rid, pk, programme, prison, cohort, sex, band, is_part, rd, exit_date = row
        r = Release(
            rid,
            pk,
            programme,
            prison,
            cohort,
            sex,
            band,
            "participant" if is_part else "comparison",
            rd,
            exit_date,
        )
        register = [(o, s, p) for o, d, s, p in convictions[pk] if o >= rd and d <= as_of]
        r.events = {
            "reconviction": [o for o, _, _ in register],
            "custodial_reconviction": [o for o, s, _ in register if s == "custodial"],
            "serious_reconviction": [o for o, _, p in register if p is not None and p >= 4],
            # a later spell (stitching merges anything up to a day after the release), not
            # one that begins with a transfer in
            "reincarceration": [
                st for st, t in spells[pk] if rd < st <= as_of and t != "transfer_in"
            ],
        }
        releases.append(r)
    fold_rare_levels(releases)
    return Inputs(db, as_of, lags, releases)


FOLDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "breakdown_folds.csv"
MIN_CATEGORY_RELEASES = 30


def fold_rare_levels(releases: list[Release]) -> None:
    """The aggregate marts count a rare level with its neighbour (breakdown_folds.csv): a
    level with fewer than 30 index releases in either group of its programme. Recounted here
    from the releases, independently of int_breakdown_levels."""
    with FOLDS.open(encoding="utf-8") as handle:
        folds = {
            (row["dimension"], row["level"]): row["fold_into"] for row in csv.DictReader(handle)
        }
    counts: dict[tuple, int] = defaultdict(int)
    for r in releases:
        for dim in ("sex", "age_band"):
            counts[(r.programme, dim, getattr(r, dim), r.group)] += 1
    for r in releases:
        for dim in ("sex", "age_band"):
            level = getattr(r, dim)
            target = folds.get((dim, level))
            if (
                target
                and min(counts[(r.programme, dim, level, g)] for g in ("participant", "comparison"))
                < MIN_CATEGORY_RELEASES
            ):
                setattr(r, dim, target)


@pytest.fixture(scope="module")
def inputs(built_demo) -> Inputs:
    return load_inputs(built_demo["db"])


# --- window rates ---------------------------------------------------------------------------


def window_outcomes(inp: Inputs):
    """(release, window, measure, has_full_follow_up, has_event) for every release."""
    for r in inp.releases:
        for w in WINDOWS:
            end = add_months(r.release_date, w)
            for m in MEASURES:
                full = inp.as_of >= add_months(r.release_date, w + inp.lags[m])
                first = r.first_event(m)
                yield r, w, m, full, first is not None and first <= end


def recomputed_rates(inp: Inputs) -> dict[tuple, list[int]]:
    """(programme, cohort, prison, sex, age_band, group, window, measure) -> [n, n_full, k]."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r, w, m, full, event in window_outcomes(inp):
        values = {
            "cohort": r.cohort,
            "prison_id": r.prison_id,
            "sex": r.sex,
            "age_band": r.age_band,
        }
        for grouping in GROUPINGS:
            key = (
                r.programme,
                *(values[d] if d in grouping else "all" for d in DIMS),
                r.group,
                w,
                m,
            )
            cell = out[key]
            cell[0] += 1
            cell[1] += full
            cell[2] += full and event
    return out


@pytest.fixture(scope="module")
def mart_rates(built_demo) -> dict[tuple, tuple]:
    rows = query(
        built_demo["db"],
        """
        select programme, cohort, prison_id, sex, age_band, "group", window_months, measure,
               n_releases, n_full_follow_up, n_events, rate, ci_low, ci_high
        from marts.recidivism_rates""",
    )
    return {tuple(r[:8]): tuple(r[8:]) for r in rows}


def test_as_of_date_is_the_newest_register_export(built_demo, inputs) -> None:
    ((newest,),) = query(
        built_demo["db"],
        """
        select max(f.export_date) from ingest.load_report f
        join ingest.sources s using (source_id)
        where s.kind = 'register' and f.status = 'loaded'""",
    )
    assert inputs.as_of == newest
    assert inputs.lags == {
        "reconviction": 6,
        "custodial_reconviction": 6,
        "serious_reconviction": 6,
        "reincarceration": 0,
    }


def test_window_rates_match_an_independent_recomputation(inputs, mart_rates) -> None:
    mine = recomputed_rates(inputs)
    assert set(mart_rates) == set(mine), sorted(set(mart_rates) ^ set(mine))[:10]
    wrong_counts, wrong_intervals = [], []
    for key, (n, n_full, k) in mine.items():
        m_n, m_full, m_k, rate, low, high = mart_rates[key]
        if (m_n, m_full, m_k) != (n, n_full, k):
            wrong_counts.append((key, (m_n, m_full, m_k), (n, n_full, k)))
            continue
        expected = (None, None, None) if n_full == 0 else (k / n_full, *wilson(k, n_full))
        if not all(close(a, b, 1e-9) for a, b in zip((rate, low, high), expected, strict=True)):
            wrong_intervals.append((key, (rate, low, high), expected))
    assert not wrong_counts, f"{len(wrong_counts)} cells differ, e.g. {wrong_counts[:5]}"
    assert not wrong_intervals, f"{len(wrong_intervals)} cells, e.g. {wrong_intervals[:5]}"
    # the rows the brief singles out exist: total, per cohort, per prison
    totals = [k for k in mine if k[1:5] == ("all",) * 4]
    assert len(totals) == 2 * 2 * len(WINDOWS) * len(MEASURES)
    assert any(k[1] != "all" and k[2] == "all" for k in mine)
    assert any(k[1] == "all" and k[2] != "all" for k in mine)


def test_all_rows_are_the_sum_of_their_parts(mart_rates) -> None:
    problems = []
    for dim_index, dim in enumerate(DIMS):
        parts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
        for key, values in mart_rates.items():
            dims = key[1:5]
            if dims[dim_index] == "all":
                continue
            # Parts of a total: this break-down set, every other one 'all' except the cohort
            # when the break-down is not the cohort itself (per-cohort totals).
            others = [d for i, d in enumerate(dims) if i != dim_index and i != 0]
            if any(o != "all" for o in others):
                continue
            total_dims = list(dims)
            total_dims[dim_index] = "all"
            total_key = (key[0], *total_dims, *key[5:])
            for i in range(3):
                parts[total_key][i] += values[i]
        assert parts, dim
        for total_key, summed in parts.items():
            if tuple(mart_rates[total_key][:3]) != tuple(summed):
                problems.append((dim, total_key, mart_rates[total_key][:3], summed))
    assert not problems, problems[:10]


# --- Kaplan-Meier ---------------------------------------------------------------------------


def durations(inp: Inputs, programme: str, cohort: str, group: str, measure: str):
    """Days to the first event or to censoring, per release of the stratum."""
    censor_base = add_months(inp.as_of, -inp.lags[measure])
    days, observed = [], []
    for r in inp.releases:
        if r.programme != programme or r.group != group or cohort not in ("all", r.cohort):
            continue
        censor = min(censor_base, r.exit_date or FAR_FUTURE)
        if censor < r.release_date:
            continue
        first = r.first_event(measure)
        if first is not None and first <= censor:
            days.append((first - r.release_date).days)
            observed.append(True)
        else:
            days.append((censor - r.release_date).days)
            observed.append(False)
    return days, observed


KM_STRATA = [
    (programme, "all", group, measure)
    for programme in ("mabis", "exodus")
    for group in ("participant", "comparison")
    for measure in MEASURES
] + [
    ("mabis", "2003", "comparison", "reconviction"),
    ("exodus", "2004", "participant", "reincarceration"),
]


@pytest.mark.parametrize(("programme", "cohort", "group", "measure"), KM_STRATA)
def test_survival_matches_lifelines(built_demo, inputs, programme, cohort, group, measure) -> None:
    from lifelines import KaplanMeierFitter

    days, observed = durations(inputs, programme, cohort, group, measure)
    assert len(days) > 50
    kmf = KaplanMeierFitter().fit(days, event_observed=observed)
    table = kmf.event_table
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    rows = query(
        built_demo["db"],
        """
        select day, n_at_risk, n_events, n_censored, survival, ci_low, ci_high
        from marts.survival
        where programme = ? and cohort = ? and "group" = ? and measure = ? order by day""",
        [programme, cohort, group, measure],
    )
    assert [r[0] for r in rows] == [int(t) for t in table.index]
    assert rows[0][0] == 0 and rows[0][1] == len(days)
    bad = []
    for day, at_risk, events, censored, s, low, high in rows:
        t = float(day)
        expected = (
            int(table.at[t, "at_risk"]),
            int(table.at[t, "observed"]),
            int(table.at[t, "censored"]),
        )
        if (at_risk, events, censored) != expected:
            bad.append((day, "counts", (at_risk, events, censored), expected))
        if not close(s, float(sf.at[t]), 1e-9):
            bad.append((day, "survival", s, float(sf.at[t])))
        lo, hi = float(ci.iloc[:, 0].at[t]), float(ci.iloc[:, 1].at[t])
        if not (close(low, lo, 1e-6) and close(high, hi, 1e-6)):
            bad.append((day, "band", (low, high), (lo, hi)))
    assert not bad, f"{len(bad)} of {len(rows)} rows differ, e.g. {bad[:5]}"


def test_survival_and_window_rate_agree_with_full_follow_up(built_demo, inputs, mart_rates) -> None:
    """indicators.md: the curve and the fixed-window rates agree where every release has full
    follow-up. Read at day 365, 1 - S equals the 12-month rate up to two known effects, which
    are measured here and must explain the whole gap:
    - a 12-calendar-month window is 366 days long when it spans a 29 February, so an event on
      day 366 of such a window is in the rate but not in 1 - S(365);
    - the curve censors at death / deportation (exit_date) while the rate keeps such releases
      in its denominator as event-free.
    """
    surv: dict[tuple, list[tuple[int, float]]] = defaultdict(list)
    for programme, group, measure, day, s in query(
        built_demo["db"],
        """
            select programme, "group", measure, day, survival from marts.survival
            where cohort = 'all' order by day""",
    ):
        surv[(programme, group, measure)].append((day, s))

    def s_at(key, d):
        return [s for day, s in surv[key] if day <= d][-1]

    report, problems = [], []
    for (programme, group, measure), curve in surv.items():
        assert curve
        n, n_full, k = mart_rates[(programme, "all", "all", "all", "all", group, 12, measure)][:3]
        if n_full != n:
            continue  # not every release has full follow-up: no agreement promised
        rate = k / n
        members = [r for r in inputs.releases if (r.programme, r.group) == (programme, group)]
        day_366 = sum(
            1
            for r in members
            if (first := r.first_event(measure)) is not None
            and (first - r.release_date).days == 366
            and add_months(r.release_date, 12) - r.release_date == timedelta(days=366)
        )
        exits = sum(
            1
            for r in members
            if r.exit_date is not None and r.exit_date < add_months(r.release_date, 12)
        )
        one_minus_s = 1 - s_at((programme, group, measure), 365)
        gap = one_minus_s - rate
        report.append(
            (
                programme,
                group,
                measure,
                n,
                round(rate, 6),
                round(one_minus_s, 6),
                f"{gap:+.2e}",
                day_366,
                exits,
            )
        )
        if exits == 0 and abs(one_minus_s - (k - day_366) / n) > 1e-9:
            problems.append(("exact", programme, group, measure, one_minus_s, k, day_366, n))
        # an event on day 366 lowers 1 - S(365) by 1/n; a censored exit raises it a little
        if not (-(day_366 + 1e-9) / n <= gap <= exits / n + 1e-9) or abs(gap) > 2e-3:
            problems.append(("gap", programme, group, measure, gap, day_366, exits, n))
    assert report, "no stratum with full 12-month follow-up"
    header = (
        "programme",
        "group",
        "measure",
        "n",
        "rate12",
        "1-S(365)",
        "gap",
        "ev_day366",
        "exits<12m",
    )
    table = "\n".join(str(r) for r in [header, *report])
    print(table)
    assert not problems, f"{problems}\n{table}"


# --- recidivism_effects ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def effects(built_demo) -> list[dict]:
    cols = (
        "programme",
        "cohort",
        "window_months",
        "measure",
        "n_participants",
        "n_events_participants",
        "rate_participants",
        "ci_low_participants",
        "ci_high_participants",
        "n_comparison",
        "n_events_comparison",
        "rate_comparison",
        "ci_low_comparison",
        "ci_high_comparison",
        "difference",
        "difference_ci_low",
        "difference_ci_high",
        "standardised_rate_comparison",
        "standardised_ci_low_comparison",
        "standardised_ci_high_comparison",
        "standardised_difference",
        "standardisation_coverage",
    )
    rows = query(built_demo["db"], f"select {', '.join(cols)} from marts.recidivism_effects")
    return [dict(zip(cols, r, strict=True)) for r in rows]


def test_effects_counts_match_the_window_rates(inputs, effects) -> None:
    mine = recomputed_rates(inputs)
    assert len(effects) == 2 * 5 * len(WINDOWS) * len(MEASURES)
    bad = []
    for e in effects:
        base = (e["programme"], e["cohort"], "all", "all", "all")
        p = mine[(*base, "participant", e["window_months"], e["measure"])]
        c = mine[(*base, "comparison", e["window_months"], e["measure"])]
        got = (
            e["n_participants"],
            e["n_events_participants"],
            e["n_comparison"],
            e["n_events_comparison"],
        )
        if got != (p[1], p[2], c[1], c[2]):
            bad.append((base, e["window_months"], e["measure"], got, (p[1:], c[1:])))
    assert not bad, bad[:5]


def _differing(row: dict, expected: dict) -> list[tuple]:
    """The columns of an effect row that differ from their recomputed values."""
    keys = (row["programme"], row["cohort"], row["window_months"], row["measure"])
    return [
        (*keys, col, row[col], value)
        for col, value in expected.items()
        if not close(row[col], value, 1e-9)
    ]


def test_newcombe_interval_from_wilson_limits(effects) -> None:
    bad = []
    for e in effects:
        n1, k1, n2, k2 = (
            e["n_participants"],
            e["n_events_participants"],
            e["n_comparison"],
            e["n_events_comparison"],
        )
        if n1 == 0 or n2 == 0:
            if e["difference_ci_low"] is not None or e["difference_ci_high"] is not None:
                bad.append((e, "interval without both groups"))
            continue
        p1, p2 = k1 / n1, k2 / n2
        (l1, u1), (l2, u2) = wilson(k1, n1), wilson(k2, n2)
        expected = {
            "rate_participants": p1,
            "ci_low_participants": l1,
            "ci_high_participants": u1,
            "rate_comparison": p2,
            "ci_low_comparison": l2,
            "ci_high_comparison": u2,
            "difference": p1 - p2,
            "difference_ci_low": p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            "difference_ci_high": p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
        }
        bad += _differing(e, expected)
    assert not bad, f"{len(bad)} values differ, e.g. {bad[:5]}"


def test_directly_standardised_comparison_rate(built_demo, effects) -> None:
    releases = {
        rid: (programme, str(cohort), sex, age_band(age), prior_band(prior), is_part)
        for rid, programme, cohort, sex, age, band, prior, pband, is_part in query(
            built_demo["db"],
            """
            select release_id, programme, cohort_year, sex, age_at_release, age_band,
                   prior_spells, prior_spells_band, is_participant
            from marts.releases where is_index_year and is_programme_period""",
        )
    }
    bands = query(
        built_demo["db"],
        """
        select count(*) filter (where age_band is distinct from
                   case when age_at_release is null then 'unknown'
                        when age_at_release < 21 then 'under_21'
                        when age_at_release < 25 then '21_24'
                        when age_at_release < 30 then '25_29'
                        when age_at_release < 40 then '30_39' else '40_plus' end),
               count(*) filter (where prior_spells_band is distinct from
                   case when prior_spells = 0 then '0' when prior_spells = 1 then '1'
                        else '2+' end)
        from marts.releases""",
    )
    assert bands == [(0, 0)]
    # (programme, cohort, window, measure) -> stratum -> [n_p, k_p, n_c, k_c]
    cells: dict[tuple, dict[tuple, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    for rid, window, measure, event in query(
        built_demo["db"],
        """
            select release_id, window_months, measure, has_event from marts.recidivism
            where has_full_follow_up""",
    ):
        if rid not in releases:
            continue
        programme, cohort, sex, band, pband, is_part = releases[rid]
        for c in (cohort, "all"):
            cell = cells[(programme, c, window, measure)][(sex, band, pband)]
            offset = 0 if is_part else 2
            cell[offset] += 1
            cell[offset + 1] += bool(event)
    bad = []
    for e in effects:
        strata = cells[(e["programme"], e["cohort"], e["window_months"], e["measure"])]
        covered = [v for v in strata.values() if v[2] > 0 and v[0] > 0]
        n_p = sum(v[0] for v in strata.values())
        n_cov = sum(v[0] for v in covered)
        if n_cov == 0:
            continue
        p_adj = sum(v[0] * v[3] / v[2] for v in covered) / n_cov
        var = sum((v[0] / n_cov) ** 2 * (v[3] / v[2]) * (1 - v[3] / v[2]) / v[2] for v in covered)
        p_p_cov = sum(v[1] for v in covered) / n_cov
        expected = {
            "standardised_rate_comparison": p_adj,
            "standardised_ci_low_comparison": max(p_adj - Z * math.sqrt(var), 0.0),
            "standardised_ci_high_comparison": min(p_adj + Z * math.sqrt(var), 1.0),
            "standardised_difference": p_p_cov - p_adj,
            "standardisation_coverage": n_cov / n_p,
        }
        bad += _differing(e, expected)
    assert not bad, f"{len(bad)} values differ, e.g. {bad[:5]}"


# --- an earlier data cut: partial follow-up and censoring at the as-of date ------------------

EARLY_AS_OF = date(2005, 9, 30)
EARLY_MODELS = (
    "intermediate/int_parameters",
    "intermediate/int_releases_cohorts",
    "intermediate/int_releases_joined_to_participation",
    "intermediate/int_recidivism_events",
    "intermediate/int_recidivism_time_to_event",
    "intermediate/int_recidivism_outcomes",
    "marts/releases",
    "marts/recidivism",
    "marts/recidivism_rates",
    "marts/survival",
)


@pytest.fixture(scope="module")
def early_cut(built_demo, tmp_path_factory) -> Inputs:
    """The built demo rebuilt (a copy) with as-of 2005-09-30: in the demo's own cut
    (2009-12-31) every release has full follow-up, so the follow-up rule and the censoring
    at the as-of date are only exercised here."""
    import shutil

    from dagster import AssetKey, AssetSelection

    from reentry.settings import Settings

    from .conftest import materialise

    settings = Settings(workdir=tmp_path_factory.mktemp("early_cut"), as_of=EARLY_AS_OF)
    db = settings.paths.work_db
    db.parent.mkdir(parents=True)
    shutil.copyfile(built_demo["db"], db)
    models = [AssetKey.from_user_string(name) for name in EARLY_MODELS]
    materialise(settings, AssetSelection.assets(*models).without_checks())
    return load_inputs(db)


def test_early_cut_window_rates_with_partial_follow_up(early_cut) -> None:
    assert early_cut.as_of == EARLY_AS_OF
    mine = recomputed_rates(early_cut)
    rows = query(
        early_cut.db,
        """
        select programme, cohort, prison_id, sex, age_band, "group", window_months, measure,
               n_releases, n_full_follow_up, n_events, rate, ci_low, ci_high
        from marts.recidivism_rates""",
    )
    mart = {tuple(r[:8]): tuple(r[8:]) for r in rows}
    assert set(mart) == set(mine)
    partial = [k for k, (n, n_full, _) in mine.items() if 0 < n_full < n]
    empty = [k for k, (_, n_full, _) in mine.items() if n_full == 0]
    assert partial and empty, "the early cut should leave some releases without follow-up"
    bad = []
    for key, (n, n_full, k) in mine.items():
        expected = (n, n_full, k) + (
            (None, None, None) if n_full == 0 else (k / n_full, *wilson(k, n_full))
        )
        if mart[key][:3] != expected[:3] or not all(
            close(a, b, 1e-9) for a, b in zip(mart[key][3:], expected[3:], strict=True)
        ):
            bad.append((key, mart[key], expected))
    assert not bad, f"{len(bad)} cells differ, e.g. {bad[:5]}"


@pytest.mark.parametrize(
    ("programme", "group", "measure"),
    [
        ("mabis", "comparison", "reconviction"),
        ("mabis", "participant", "reincarceration"),
        ("exodus", "comparison", "serious_reconviction"),
        ("exodus", "comparison", "reincarceration"),
    ],
)
def test_early_cut_survival_censors_at_the_as_of_date_less_the_lag(
    early_cut, programme, group, measure
) -> None:
    from lifelines import KaplanMeierFitter

    days, observed = durations(early_cut, programme, "all", group, measure)
    left_out = sum(
        1
        for r in early_cut.releases
        if (r.programme, r.group) == (programme, group)
        and add_months(early_cut.as_of, -early_cut.lags[measure]) < r.release_date
    )
    if measure != "reincarceration":
        assert left_out > 0, "releases after the censoring date are left out"
    kmf = KaplanMeierFitter().fit(days, event_observed=observed)
    sf = kmf.survival_function_.iloc[:, 0]
    rows = query(
        early_cut.db,
        """
        select day, n_at_risk, survival, ci_low, ci_high from marts.survival
        where programme = ? and cohort = 'all' and "group" = ? and measure = ? order by day""",
        [programme, group, measure],
    )
    assert [r[0] for r in rows] == [int(t) for t in sf.index]
    assert rows[0][1] == len(days)
    lows = kmf.confidence_interval_.iloc[:, 0]
    highs = kmf.confidence_interval_.iloc[:, 1]
    bad = [
        (day, s, float(sf.at[float(day)]))
        for day, _, s, low, high in rows
        if not (
            close(s, float(sf.at[float(day)]), 1e-9)
            and close(low, float(lows.at[float(day)]), 1e-6)
            and close(high, float(highs.at[float(day)]), 1e-6)
        )
    ]
    assert not bad, bad[:5]


# --- rules checked against a literal reimplementation -----------------------------------------


def strict_spells(db: Path) -> Counter:
    """Spells by the letter of indicators.md: episodes follow each other with at most one day
    between a release and the next admission (or overlap), or an episode ending transfer_out
    is followed by one beginning transfer_in. Returns (person, start, end) counts."""
    episodes = query(
        db,
        """
        select i.person_key, e.admission_date, e.admission_type,
               coalesce(e.release_date, date '9999-12-31'), e.release_type, e.prison_id,
               e.episode_id
        from staging.stg_prison__custody_episodes e
        join staging.stg_prison__inmates i using (prison_id, inmate_id)
        join staging.stg_ingest__sources s on s.source_id = e.prison_id
        order by 1, 2, 4, 6, 7""",
    )
    spells: Counter = Counter()
    current = None  # [person, start, end, end_type]
    for pk, adm, adm_type, end, rel_type, _, _ in episodes:
        if (
            current is not None
            and current[0] == pk
            and (
                adm <= current[2] + timedelta(days=1)
                or (current[3] == "transfer_out" and adm_type == "transfer_in")
            )
        ):
            if end >= current[2]:
                current[2], current[3] = end, rel_type
            continue
        if current is not None:
            spells[tuple(current[:3])] += 1
        current = [pk, adm, end, rel_type]
    if current is not None:
        spells[tuple(current[:3])] += 1
    return spells


def test_spells_follow_the_stitching_rule(built_demo) -> None:
    mine = strict_spells(built_demo["db"])
    mart = Counter(
        (pk, start, end)
        for pk, start, end in query(
            built_demo["db"],
            """
            select person_key, spell_start_date, coalesce(spell_end_date, date '9999-12-31')
            from intermediate.int_custody_spells_stitched""",
        )
    )
    only_mart, only_mine = mart - mine, mine - mart
    assert not only_mart and not only_mine, (
        f"{sum(only_mart.values())} spells only in the model, e.g. {list(only_mart)[:3]}; "
        f"{sum(only_mine.values())} only by the rule, e.g. {list(only_mine)[:3]}"
    )


def test_every_person_of_a_cohort_counts_once_in_the_programme_period(built_demo) -> None:
    rows = query(
        built_demo["db"],
        """
        select programme, cohort_year, person_key,
               count(*) filter (where is_index_year) as n_index
        from marts.releases where is_programme_period
        group by all having n_index <> 1""",
    )
    assert not rows, f"{len(rows)} person-cohorts without exactly one index release: {rows[:5]}"
