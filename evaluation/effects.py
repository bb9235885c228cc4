"""The programme effect on the participants (ATT) with bootstrap intervals.

Per programme: the propensity score, then three estimators of every outcome, for all cohorts
together and per release year:
- `raw`: participants against every comparison release (descriptive, not an effect);
- `weighted`: comparison releases weighted by the trimmed odds of the score;
- `matched`: each participant against its nearest comparison releases (same release year,
  within the caliper), participants without a match dropped (common support).

Intervals come from a bootstrap of the whole estimation: persons are resampled within
participants and within the comparison group, the score is fitted again, weights trimmed and
matches found again, so the intervals carry the uncertainty of the estimated score and of
matching with replacement. The interval is the estimate +- 1.96 bootstrap standard errors
(of the difference, and of the log risk ratio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from .design import Design, build_design
from .propensity import att_weights, fit_scores, logit, match, matched_weights
from .sensitivity import e_value, e_value_of_interval
from .settings import Z95, Settings

ESTIMATORS = ("matched", "weighted", "raw")
ALL = "all"


@dataclass
class Outcomes:
    """Per person and outcome: numerator, denominator contribution and availability.

    A rate outcome has value 0/1 and denominator 1; a frequency outcome has the number of
    events and the years at liberty. `available` is full follow-up for that window."""

    names: list[tuple[str, str, int]]  # (measure, outcome, window_months)
    value: np.ndarray  # n x J
    exposure: np.ndarray  # n x J
    available: np.ndarray  # n x J bool

    def __post_init__(self) -> None:
        # What every replicate multiplies, computed once.
        self.available_float = self.available.astype(np.float64)
        self.value_available = self.value * self.available
        self.exposure_available = self.exposure * self.available


def outcome_arrays(population: pl.DataFrame, recidivism: pl.DataFrame,
                   frequency_measures: tuple[str, ...] = ("reconviction",)) -> Outcomes:
    """Arrange the mart `recidivism` (release x window x measure) as arrays aligned with the
    population's rows: a rate per measure and window, and the frequency per person-year at
    liberty of the `frequency_measures`."""
    index = population.select("release_id").with_row_index("row")
    rows = recidivism.join(index, on="release_id", how="inner")
    combos = (rows.select("measure", "window_months").unique()
              .sort("measure", "window_months").rows())
    names: list[tuple[str, str, int]] = [(m, "rate", w) for m, w in combos]
    names += [(m, "frequency", w) for m, w in combos if m in frequency_measures]
    n, j = population.height, len(names)
    value = np.zeros((n, j))
    exposure = np.zeros((n, j))
    available = np.zeros((n, j), dtype=bool)
    position = {key: i for i, key in enumerate(names)}
    for (measure, window), part in rows.group_by(["measure", "window_months"]):
        row = part.get_column("row").to_numpy()
        full = part.get_column("has_full_follow_up").to_numpy().astype(bool)
        c = position[(measure, "rate", window)]
        value[row, c] = part.get_column("has_event").to_numpy().astype(np.float64)
        exposure[row, c] = 1.0
        available[row, c] = full
        f = position.get((measure, "frequency", window))
        if f is not None:
            value[row, f] = part.get_column("n_events").to_numpy().astype(np.float64)
            exposure[row, f] = part.get_column("days_at_liberty").to_numpy() / 365.25
            available[row, f] = full & (exposure[row, f] > 0)
    return Outcomes(names, value, exposure, available)


@dataclass
class Estimate:
    """Sums behind one replicate's estimates: [estimator, cohort, outcome]."""

    num_p: np.ndarray
    den_p: np.ndarray
    num_c: np.ndarray
    den_c: np.ndarray
    n_p: np.ndarray  # participants (counts) entering
    n_c: np.ndarray  # comparison releases entering (counts; matched: distinct used)

    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.num_p / self.den_p, self.num_c / self.den_c


def _by_cohort(weights: np.ndarray, cohort: np.ndarray, values: np.ndarray | None = None
               ) -> np.ndarray:
    """Per cohort ('all' first): the sum of weights x values (n x J), or of the weights alone.

    `cohort` is the n x (1 + n_cohorts) indicator matrix of the cohorts ('all' = every row),
    so the sums are one matrix product."""
    weighted = cohort * weights[:, None]
    return weighted.sum(axis=0) if values is None else weighted.T @ values


def _estimate(treated: np.ndarray, stratum: np.ndarray, cohort: np.ndarray,
              counts: np.ndarray, score: np.ndarray, outcomes: Outcomes,
              settings: Settings) -> tuple[Estimate, dict]:
    """All estimators, cohorts and outcomes of one (re)sample. `stratum` is the release year
    index of every row (exact matching), `cohort` its indicator matrix ('all' first)."""
    n, j = outcomes.value.shape
    n_cohorts = cohort.shape[1] - 1
    shape = (len(ESTIMATORS), n_cohorts + 1, j)
    num_p, den_p, num_c, den_c, n_p, n_c = (np.zeros(shape) for _ in range(6))
    avail = outcomes.available_float
    value = outcomes.value_available
    exposure = outcomes.exposure_available

    ipw = att_weights(score, treated, counts, settings)
    participant = np.where(treated, counts, 0.0)
    for e, comparison in ((ESTIMATORS.index("raw"), np.where(treated, 0.0, counts)),
                          (ESTIMATORS.index("weighted"), np.where(treated, 0.0, counts * ipw))):
        num_p[e] = _by_cohort(participant, cohort, value)
        den_p[e] = _by_cohort(participant, cohort, exposure)
        n_p[e] = _by_cohort(participant, cohort, avail)
        num_c[e] = _by_cohort(comparison, cohort, value)
        den_c[e] = _by_cohort(comparison, cohort, exposure)
        n_c[e] = _by_cohort((comparison > 0) * counts, cohort, avail)

    # Matching: per outcome, a pair counts where both have full follow-up; a participant's
    # counterfactual is the mean over its counting matches (pair weights renormalised).
    matches = match(logit(score), treated, stratum, counts, settings)
    e = ESTIMATORS.index("matched")
    pi, pm, pw = matches.participant, matches.comparison, matches.weight
    for c in range(j):
        ok = outcomes.available[pi, c] & outcomes.available[pm, c]
        den_i = np.bincount(pi, weights=pw * ok, minlength=n)
        included = den_i > 0
        share = np.divide(pw * ok, den_i[pi], out=np.zeros_like(pw), where=den_i[pi] > 0)
        cf_value = np.bincount(pi, weights=share * outcomes.value[pm, c], minlength=n)
        cf_exposure = np.bincount(pi, weights=share * outcomes.exposure[pm, c], minlength=n)
        w = np.where(included, counts, 0.0)
        cols = np.column_stack([w * outcomes.value[:, c], w * outcomes.exposure[:, c], w,
                                w * cf_value, w * cf_exposure])
        sums = cohort.T @ cols
        num_p[e, :, c], den_p[e, :, c], n_p[e, :, c] = sums[:, 0], sums[:, 1], sums[:, 2]
        num_c[e, :, c], den_c[e, :, c] = sums[:, 3], sums[:, 4]
        used = np.zeros(n, dtype=bool)
        used[pm[ok & included[pi]]] = True
        n_c[e, :, c] = _by_cohort(used.astype(np.float64), cohort)
    _, matched_comparison = matched_weights(matches, n, counts)
    matched_participant = np.zeros(n, dtype=bool)
    matched_participant[matches.participant] = True
    comparison_ipw = np.where(treated, 0.0, counts * ipw)
    diagnostics = {
        "caliper": matches.caliper,
        "unmatched": _by_cohort(np.where(treated & (counts > 0) & ~matched_participant,
                                         counts, 0.0), cohort),
        "ess_weighted": _ess(comparison_ipw, cohort),
        "ess_matched": _ess(matched_comparison, cohort),
        "ess_raw": _ess(np.where(treated, 0.0, counts), cohort),
    }
    return Estimate(num_p, den_p, num_c, den_c, n_p, n_c), diagnostics


def _ess(weights: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Kish's effective sample size of the weights, per cohort ('all' first)."""
    total, squares = _by_cohort(weights, cohort), _by_cohort(weights**2, cohort)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(squares > 0, total**2 / squares, 0.0)


def _resample(treated: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Counts of a bootstrap resample, drawn within participants and within the comparison."""
    counts = np.zeros(len(treated))
    for group in (np.flatnonzero(treated), np.flatnonzero(~treated)):
        if len(group):
            draws = rng.integers(0, len(group), len(group))
            counts[group] = np.bincount(draws, minlength=len(group))
    return counts


def programme_effects(programme: str, population: pl.DataFrame, outcomes: Outcomes,
                      settings: Settings) -> pl.DataFrame:
    """Every estimator x cohort x outcome of one programme, with bootstrap intervals."""
    treated = population.get_column("is_participant").to_numpy().astype(bool)
    cohorts = sorted(population.get_column("cohort").unique().to_list())
    cohort = population.get_column("cohort").replace_strict(
        {c: i for i, c in enumerate(cohorts)}, return_dtype=pl.Int64).to_numpy()
    # Row 'all' and one per cohort: every sum per cohort is one product with this matrix.
    indicator = np.column_stack([np.ones(len(cohort)),
                                 cohort[:, None] == np.arange(len(cohorts))[None, :]])
    design = build_design(population)
    n = len(treated)
    ones = np.ones(n)
    with threadpool_limits(1):
        score, model = fit_scores(design.matrix, treated) if treated.any() and (~treated).any() \
            else (np.full(n, treated.mean() if n else 0.5), None)
        point, diagnostics = _estimate(treated, cohort, indicator, ones, score, outcomes,
                                       settings)
        replicates = settings.replicates_for(n) if model is not None else 0
        rng = np.random.default_rng([settings.seed, _stable_hash(programme)])
        diffs, log_ratios = [], []
        for _ in range(replicates):
            counts = _resample(treated, rng)
            s, _ = fit_scores(design.matrix, treated, counts, start=model)
            est, _ = _estimate(treated, cohort, indicator, counts, s, outcomes, settings)
            rp, rc = est.rates()
            diffs.append(rp - rc)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_ratios.append(np.log(rp / rc))
    return _frame(programme, [ALL, *cohorts], design, point, diagnostics, outcomes,
                  np.array(diffs), np.array(log_ratios), replicates, settings)


def _stable_hash(text: str) -> int:
    return int.from_bytes(text.encode("utf-8")[:16].ljust(16, b"\0"), "little")


def _frame(programme, cohorts, design: Design, point: Estimate, diagnostics: dict,
           outcomes: Outcomes, diffs: np.ndarray, log_ratios: np.ndarray, replicates: int,
           settings: Settings) -> pl.DataFrame:
    rate_p, rate_c = point.rates()
    difference = rate_p - rate_c
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = rate_p / rate_c
    if replicates >= 2:
        se = _nan_std(diffs)
        se_log = _nan_std(np.where(np.isfinite(log_ratios), log_ratios, np.nan))
    else:
        se = se_log = np.full(difference.shape, np.nan)
    records = []
    for e, estimator in enumerate(ESTIMATORS):
        for c, cohort in enumerate(cohorts):
            for j, (measure, outcome, window) in enumerate(outcomes.names):
                n_p = float(point.n_p[e, c, j])
                n_c = float(point.n_c[e, c, j])
                estimable = (n_p >= settings.min_participants and n_c > 0
                             and np.isfinite(difference[e, c, j]))
                reason = None
                if n_p < settings.min_participants:
                    reason = "few_participants"
                elif n_c == 0:
                    reason = "no_comparison"
                d = difference[e, c, j] if estimable else np.nan
                r = ratio[e, c, j] if estimable and np.isfinite(ratio[e, c, j]) else np.nan
                low = d - Z95 * se[e, c, j] if estimable else np.nan
                high = d + Z95 * se[e, c, j] if estimable else np.nan
                ok_log = estimable and np.isfinite(se_log[e, c, j]) and np.isfinite(r) and r > 0
                r_low = float(np.exp(np.log(r) - Z95 * se_log[e, c, j])) if ok_log else np.nan
                r_high = float(np.exp(np.log(r) + Z95 * se_log[e, c, j])) if ok_log else np.nan
                ess = diagnostics[f"ess_{estimator}"][c]
                records.append({
                    "programme": programme, "cohort": cohort, "estimator": estimator,
                    "measure": measure, "outcome": outcome, "window_months": int(window),
                    "n_participants": int(round(n_p)), "n_comparison": int(round(n_c)),
                    "n_participants_unmatched": int(round(diagnostics["unmatched"][c]))
                    if estimator == "matched" else 0,
                    "effective_n_comparison": float(ess),
                    "rate_participants": _num(rate_p[e, c, j]),
                    "rate_comparison": _num(rate_c[e, c, j]),
                    "difference": _num(d), "difference_se": _num(se[e, c, j] if estimable
                                                                 else np.nan),
                    "difference_ci_low": _num(low), "difference_ci_high": _num(high),
                    "risk_ratio": _num(r), "risk_ratio_ci_low": _num(r_low),
                    "risk_ratio_ci_high": _num(r_high),
                    "e_value": _num(e_value(r)) if np.isfinite(r) else None,
                    "e_value_ci": _num(e_value_of_interval(r_low, r_high))
                    if np.isfinite(r_low) and np.isfinite(r_high) else None,
                    "is_estimated": bool(estimable),
                    "not_estimated_reason": reason,
                    "n_replicates": int(replicates),
                    "caliper": float(diagnostics["caliper"]),
                    "n_characteristics": design.n_characteristics,
                })
    return pl.DataFrame(records, schema=EFFECT_SCHEMA)


def _nan_std(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(values)
        n = ok.sum(axis=0)
        mean = np.where(ok, values, 0).sum(axis=0) / np.maximum(n, 1)
        var = np.where(ok, (values - mean) ** 2, 0).sum(axis=0) / np.maximum(n - 1, 1)
        return np.where(n >= 2, np.sqrt(var), np.nan)


def _num(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


EFFECT_SCHEMA = {
    "programme": pl.String, "cohort": pl.String, "estimator": pl.String,
    "measure": pl.String, "outcome": pl.String, "window_months": pl.Int32,
    "n_participants": pl.Int64, "n_comparison": pl.Int64,
    "n_participants_unmatched": pl.Int64, "effective_n_comparison": pl.Float64,
    "rate_participants": pl.Float64, "rate_comparison": pl.Float64,
    "difference": pl.Float64, "difference_se": pl.Float64,
    "difference_ci_low": pl.Float64, "difference_ci_high": pl.Float64,
    "risk_ratio": pl.Float64, "risk_ratio_ci_low": pl.Float64,
    "risk_ratio_ci_high": pl.Float64, "e_value": pl.Float64, "e_value_ci": pl.Float64,
    "is_estimated": pl.Boolean, "not_estimated_reason": pl.String,
    "n_replicates": pl.Int32, "caliper": pl.Float64, "n_characteristics": pl.Int32,
}


def all_programme_effects(population: pl.DataFrame, recidivism: pl.DataFrame,
                          settings: Settings) -> pl.DataFrame:
    """programme_effects of every programme in the population."""
    frames = [pl.DataFrame(schema=EFFECT_SCHEMA)]
    for (programme,), part in population.sort("release_id").group_by(["programme"],
                                                                     maintain_order=True):
        outcomes = outcome_arrays(part, recidivism)
        frames.append(programme_effects(programme, part, outcomes, settings))
    return pl.concat(frames).sort("programme", "estimator", "cohort", "measure", "outcome",
                                  "window_months")
