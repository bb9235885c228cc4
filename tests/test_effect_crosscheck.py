"""An independent cross-check of the programme effect: the propensity score again with
statsmodels (the warehouse fits it with scikit-learn), the weighted and the matched comparison
rate recomputed from it (matching with scikit-learn's nearest neighbours), the hazard ratio
with lifelines' own robust variance per person, and the E-value against its published
values (VanderWeele and Ding 2017)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter
from sklearn.neighbors import NearestNeighbors

from reentry.evaluation.propensity import match
from reentry.evaluation.sensitivity import e_value, e_value_of_interval
from reentry.evaluation.settings import Settings

from .conftest import query

PROGRAMME = "exodus"
KEYS = ["programme", "release_id", "person_key", "cohort", "is_participant"]


@pytest.fixture(scope="module")
def population(built_demo) -> pd.DataFrame:
    con_rows = query(
        built_demo["db"],
        f"""
        select p.*, r.has_event, r.has_full_follow_up
        from intermediate.int_effect_population p
        join marts.recidivism r using (release_id)
        where p.programme = '{PROGRAMME}' and r.measure = 'reconviction'
          and r.window_months = 24
        order by p.release_id""",
    )
    columns = [
        c
        for (c,) in query(
            built_demo["db"],
            """
        select column_name from information_schema.columns
        where table_schema = 'intermediate' and table_name = 'int_effect_population'
        order by ordinal_position""",
        )
    ] + ["has_event", "has_full_follow_up"]
    return pd.DataFrame(con_rows, columns=columns)


@pytest.fixture(scope="module")
def scored(population) -> pd.DataFrame:
    """The score by statsmodels' logistic GLM on dummies of every covariate (first level
    dropped)."""
    frame = population.copy()
    covariates = [c for c in frame.columns if c not in KEYS + ["has_event", "has_full_follow_up"]]
    numeric = [c for c in covariates if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in covariates if c not in numeric]
    parts = [pd.get_dummies(frame[categorical].fillna("missing"), drop_first=True, dtype=float)]
    for c in numeric:
        parts.append(frame[c].fillna(frame[c].mean()).rename(c).astype(float))
    x = pd.concat(parts, axis=1)
    x = x.loc[:, x.std() > 0]
    x = sm.add_constant(x)
    # IRLS with a pseudo-inverse: collinear dummies (no prior conviction = no years since the
    # first) change the coefficients, not the fitted scores.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(frame["is_participant"].astype(float), x, family=sm.families.Binomial()).fit(
            tol=1e-10, maxiter=200
        )
    frame["score"] = fit.predict(x)
    return frame


def _published(built_demo, estimator: str) -> float:
    return query(
        built_demo["db"],
        f"""
        select rate_comparison from marts.programme_effects
        where programme = '{PROGRAMME}' and cohort = 'all' and estimator = '{estimator}'
          and measure = 'reconviction' and outcome = 'rate' and window_months = 24""",
    )[0][0]


def test_the_weighted_comparison_rate_matches_an_independent_fit(built_demo, scored) -> None:
    comparison = scored[~scored["is_participant"]]
    odds = comparison["score"] / (1 - comparison["score"])
    cap = np.quantile(odds, Settings().trim_quantile, method="inverted_cdf")
    weights = np.minimum(odds, cap)
    full = comparison["has_full_follow_up"].to_numpy()
    rate = float(np.average(comparison["has_event"][full], weights=weights[full]))
    assert rate == pytest.approx(_published(built_demo, "weighted"), abs=1e-4)


def test_the_matched_comparison_rate_matches_an_independent_matching(built_demo, scored) -> None:
    settings = Settings()
    logit = np.log(scored["score"] / (1 - scored["score"]))
    caliper = settings.caliper_sd * logit.std(ddof=0)
    counterfactual = []
    for _, year in scored.groupby("cohort"):
        treated = year[year["is_participant"]]
        pool = year[~year["is_participant"]]
        if treated.empty or pool.empty:
            continue
        k = min(settings.neighbours, len(pool))
        nn = NearestNeighbors(n_neighbors=k).fit(logit[pool.index].to_numpy()[:, None])
        distance, index = nn.kneighbors(logit[treated.index].to_numpy()[:, None])
        outcome = pool["has_event"].to_numpy().astype(float)
        for d, i in zip(distance, index, strict=True):
            inside = d <= caliper
            if inside.any():
                counterfactual.append(outcome[i[inside]].mean())
    assert np.mean(counterfactual) == pytest.approx(_published(built_demo, "matched"), abs=2e-3)


def test_the_hazard_ratio_matches_lifelines_robust_fit_per_person(built_demo) -> None:
    rows = query(
        built_demo["db"],
        f"""
        select t.day, t.is_event, s.is_participant, s.weight_weighted
        from intermediate.int_recidivism_time_to_event t
        join intermediate.int_effect_scores s using (release_id)
        where s.programme = '{PROGRAMME}' and t.measure = 'reconviction'""",
    )
    frame = pd.DataFrame(rows, columns=["day", "event", "treated", "w"]).astype(float)
    frame = frame[frame["w"] > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CoxPHFitter().fit(frame, "day", "event", weights_col="w", robust=True)
    hr = math.exp(fit.params_["treated"])
    low, high = np.exp(fit.confidence_intervals_.loc["treated"].to_numpy())
    published = query(
        built_demo["db"],
        f"""
        select distinct hazard_ratio, hazard_ratio_ci_low, hazard_ratio_ci_high
        from marts.effect_survival
        where programme = '{PROGRAMME}' and estimator = 'weighted'
          and measure = 'reconviction'""",
    )
    assert len(published) == 1
    assert published[0][0] == pytest.approx(hr, rel=5e-3)
    assert published[0][1] == pytest.approx(low, rel=2e-2)
    assert published[0][2] == pytest.approx(high, rel=2e-2)


def test_e_values_match_the_published_formula() -> None:
    # VanderWeele and Ding (2017): RR = 3.9 gives 7.26; protective ratios are inverted.
    assert e_value(3.9) == pytest.approx(7.26, abs=0.01)
    assert e_value(1 / 3.9) == pytest.approx(7.26, abs=0.01)
    assert e_value(1.0) == 1.0
    assert e_value_of_interval(0.6, 0.9) == pytest.approx(e_value(0.9))
    assert e_value_of_interval(1.2, 1.9) == pytest.approx(e_value(1.2))
    assert e_value_of_interval(0.8, 1.1) == 1.0


def test_matching_respects_caliper_stratum_and_neighbours() -> None:
    logit = np.array([0.0, 0.05, 0.1, 0.12, 3.0, 0.0, 0.01])
    treated = np.array([True, False, False, False, True, True, False])
    stratum = np.array([0, 0, 0, 0, 0, 1, 0])
    counts = np.ones(7)
    m = match(logit, treated, stratum, counts, Settings(caliper_sd=0.2, neighbours=2))
    pairs = sorted(
        zip(m.participant.tolist(), m.comparison.tolist(), m.weight.tolist(), strict=True)
    )
    # Participant 0 takes its two nearest (6 at 0.01, 1 at 0.05); participant 4 lies beyond the
    # caliper; participant 5 has no comparison in its stratum.
    assert pairs == [(0, 1, 0.5), (0, 6, 0.5)]
