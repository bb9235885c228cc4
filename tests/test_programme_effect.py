"""The programme effect is proven on simulated data whose truth is known.

- Recovery: with selection on observables only (hidden confounding 0), the planted 24-month
  reconviction effect lies inside the matched and the weighted 95 % intervals in at least
  8 of 10 programme x seed cells, and the weighted estimate's mean absolute error is at most
  a quarter of the raw difference's.
- Randomisation: with participation independent of everything, the intervals cover the
  planted effect and raw and adjusted estimates agree within their intervals.
- On the shared demo (default hidden confounding): E-values finite and above 1, the verdict
  says an unmeasured factor could explain part of the effect, every covariate balanced after
  matching and after weighting.

The truth always comes from the simulation run (truth/planted_truth.json), never from
constants here. These runs need only the simulation, ingestion and the dbt models of the
evaluation, not the dashboards.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from dagster import AssetKey, AssetSelection

from reentry.defs.selections import INGESTION, validation_checks
from reentry.settings import Settings
from simulation import generate_demo

from .conftest import TEST_KEY, materialise, query

SEEDS = (101, 202, 303, 404, 505)
PERSONS = 20_000
WINDOW = 24
# The ingestion (one asset: it loads every entity) and every model the effects mart reads,
# with their dbt tests.
EFFECTS = AssetSelection.assets(AssetKey(["marts", "programme_effects"]))
EVALUATION = (INGESTION | EFFECTS.upstream()) - validation_checks()


def evaluate(root: Path, seed: int, **simulation) -> dict:
    """Simulate, ingest and build the evaluation; the estimates (cohort 'all', rate) of every
    programme x estimator x measure x window with the planted truth beside them."""
    generate_demo(
        root / "landing", root / "truth", persons=PERSONS, seed=seed, defect_rate=0.0, **simulation
    )
    key_file = root / "pseudonym.key"
    key_file.write_bytes(TEST_KEY.secret)
    settings = Settings(workdir=root, key_file=key_file)
    materialise(settings, EVALUATION)
    work_db = settings.paths.work_db
    truth = json.loads((root / "truth" / "planted_truth.json").read_text(encoding="utf-8"))
    rows = query(
        work_db,
        """
        select programme, estimator, measure, window_months, difference, difference_ci_low,
               difference_ci_high, is_estimated
        from marts.programme_effects where cohort = 'all' and outcome = 'rate'""",
    )
    out = {}
    for programme, estimator, measure, window, diff, low, high, estimated in rows:
        planted = truth["programmes"][programme]["measures"][measure]["windows_months"][
            str(window)
        ]["effect_on_participants"]
        out[(programme, estimator, measure, window)] = {
            "difference": diff,
            "low": low,
            "high": high,
            "estimated": estimated,
            "truth": planted,
        }
    return out


@pytest.fixture(scope="module")
def recovery(tmp_path_factory) -> dict[int, dict]:
    return {
        seed: evaluate(tmp_path_factory.mktemp(f"recovery_{seed}"), seed, hidden_confounding=0.0)
        for seed in SEEDS
    }


def _cells(runs: dict[int, dict], measure: str = "reconviction") -> list[dict]:
    cells = []
    for seed, result in runs.items():
        for programme in sorted({k[0] for k in result}):
            row = {"seed": seed, "programme": programme}
            for estimator in ("matched", "weighted", "raw"):
                row[estimator] = result[(programme, estimator, measure, WINDOW)]
            row["truth"] = row["weighted"]["truth"]
            cells.append(row)
    return cells


def _table(cells: list[dict]) -> str:
    lines = [
        f"{'seed':>5} {'programme':<9} {'truth':>7} {'raw':>7} "
        f"{'matched [95 % interval]':>26} {'weighted [95 % interval]':>26}"
    ]
    for c in cells:

        def fmt(e):
            return f"{e['difference']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}]"

        lines.append(
            f"{c['seed']:>5} {c['programme']:<9} {c['truth']:+.3f} "
            f"{c['raw']['difference']:+.3f} {fmt(c['matched']):>26} "
            f"{fmt(c['weighted']):>26}"
        )
    return "\n".join(lines)


def _covers(e: dict, value: float) -> bool:
    return e["estimated"] and e["low"] <= value <= e["high"]


def test_recovery_intervals_cover_the_planted_effect(recovery) -> None:
    cells = _cells(recovery)
    print("\n" + _table(cells))
    assert len(cells) == 2 * len(SEEDS)
    for estimator in ("matched", "weighted"):
        covered = sum(_covers(c[estimator], c["truth"]) for c in cells)
        assert covered >= 8, f"{estimator}: {covered} of {len(cells)}\n{_table(cells)}"


def test_recovery_weighting_removes_the_selection_bias(recovery) -> None:
    cells = _cells(recovery)
    mae_weighted = sum(abs(c["weighted"]["difference"] - c["truth"]) for c in cells) / len(cells)
    mae_raw = sum(abs(c["raw"]["difference"] - c["truth"]) for c in cells) / len(cells)
    print(f"\nmean absolute error: weighted {mae_weighted:.4f}, raw {mae_raw:.4f}")
    assert mae_weighted <= 0.25 * mae_raw, _table(cells)


def test_recovery_holds_for_every_measure_on_average(recovery) -> None:
    """Not only reconviction: across all measures and windows the intervals cover the truth
    about as often as a 95 % interval should (at least 85 % of the cells)."""
    for estimator in ("matched", "weighted"):
        hits = [
            _covers(e, e["truth"])
            for result in recovery.values()
            for (p, est, m, w), e in result.items()
            if est == estimator
        ]
        assert sum(hits) >= 0.85 * len(hits), (estimator, sum(hits), len(hits))


def test_random_participation_agrees_with_the_raw_difference(tmp_path) -> None:
    """Participation independent of everything: adjusting changes (almost) nothing, raw and
    adjusted estimates lie in each other's intervals, and the intervals cover the planted
    effect about as often as 95 % intervals should (the cells share their persons, so a run
    may miss a few together)."""
    result = evaluate(tmp_path, 77, random_participation=True)
    adjusted = {k: e for k, e in result.items() if k[1] != "raw"}
    covered = sum(_covers(e, e["truth"]) for e in adjusted.values())
    assert covered >= 0.85 * len(adjusted), (covered, len(adjusted))
    for (programme, estimator, measure, window), e in adjusted.items():
        raw = result[(programme, "raw", measure, window)]
        where = (programme, estimator, measure, window)
        assert raw["low"] <= e["difference"] <= raw["high"], where
        assert e["low"] <= raw["difference"] <= e["high"], where
        if estimator == "weighted":
            assert abs(e["difference"] - raw["difference"]) < 0.01, where


# --------------------------------------------------------------------------------------------
# The shared demo: default hidden confounding.


def test_e_values_are_finite_and_the_verdict_names_unmeasured_factors(built_demo) -> None:
    rows = query(
        built_demo["db"],
        """
        select programme, estimator, measure, window_months, e_value, e_value_ci, verdict,
               verdict_texts['en'], map_keys(verdict_texts), verdict_text
        from marts.programme_effects
        where cohort = 'all' and estimator in ('matched', 'weighted') and is_estimated""",
    )
    assert rows
    languages = dict(query(built_demo["db"], "select programme, languages from marts.programmes"))
    for programme, estimator, measure, _window, e, e_ci, _verdict, en, keys, main in rows:
        assert e is not None and math.isfinite(e) and e > 1, (programme, estimator, measure)
        assert e_ci is not None and 1 <= e_ci <= e
        assert keys == languages[programme]
        english = en[0] if isinstance(en, list) else en
        assert "An unmeasured factor could explain part of this effect" in english
        assert f"{e:.2f}" in english
        assert main is not None and len(main) > 100


def test_the_verdict_follows_the_interval(built_demo) -> None:
    rows = query(
        built_demo["db"],
        """
        select estimator, is_estimated, difference_ci_low, difference_ci_high, verdict
        from marts.programme_effects""",
    )
    for estimator, estimated, low, high, verdict in rows:
        if estimator == "raw":
            assert verdict == "descriptive"
        elif not estimated:
            assert verdict.startswith("not_estimated_")
        elif high < 0:
            assert verdict == "fewer"
        elif low > 0:
            assert verdict == "more"
        else:
            assert verdict == "no_clear_difference"


def test_every_covariate_is_balanced_after_matching_and_weighting(built_demo) -> None:
    rows = query(
        built_demo["db"],
        """
        select programme, stage, covariate, level, smd from marts.covariate_balance
        where stage in ('matched', 'weighted') and (smd is null or abs(smd) >= 0.1)""",
    )
    assert not rows, rows
    before = query(
        built_demo["db"],
        """
        select count(*) from marts.covariate_balance where stage = 'before' and abs(smd) > 0.1""",
    )
    assert before[0][0] > 0, "participants are selected: some covariate differs before"


def test_small_cohorts_are_not_estimated_and_say_why(built_demo) -> None:
    rows = query(
        built_demo["db"],
        """
        select n_participants, is_estimated, verdict, difference, verdict_text
        from marts.programme_effects
        where estimator <> 'raw' and n_participants < 60""",
    )
    for n, estimated, verdict, difference, text in rows:
        assert not estimated and verdict == "not_estimated_few_participants"
        assert difference is None and str(n) in text
