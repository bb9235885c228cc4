"""The programme effect on the participants (ATT) with bootstrap intervals.

Per programme: the propensity score, then three estimators of every outcome, for all cohorts
together and per release year:
- `raw`: participants against every comparison release (descriptive, not an effect);
- `weighted`: comparison releases weighted by the trimmed odds of the score;
- `matched`: each participant against its nearest comparison releases (same release year,
  within the caliper), participants without a match dropped (common support).

Intervals come from a bootstrap of the whole estimation: persons are resampled within
participants and within the comparison group, the score is fitted again (a Newton step from
the full-sample fit: the one-step bootstrap, with the full refit's large-sample distribution),
weights trimmed and matches found again, so the intervals carry the uncertainty of the
estimated score and of matching with replacement. The interval is the estimate +- 1.96
bootstrap standard errors (of the difference, and of the log risk ratio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse
from threadpoolctl import threadpool_limits

from reentry.contract import CODE_LISTS

from .design import Design, build_design
from .propensity import att_weights, fit_scores, logit, match, matched_weights
from .sensitivity import e_value, e_value_of_interval
from .settings import Z95, Settings

ESTIMATORS = CODE_LISTS["effect_estimator"]
ALL = "all"


# The outcomes of the evaluated releases: the mart `recidivism` (release x window x measure,
# every combination present for every release), ordered so that each release's rows follow
# each other in the same order of measure and window. Run by the dbt Python model on the
# relation `r` (the evaluated releases' rows), inside DuckDB.
# Only numbers per row: the release ids come once from their own query, the measure x window
# combinations from theirs (long texts repeated per row would cost memory and time).
OUTCOME_VALUES_QUERY = """
    select has_event, has_full_follow_up, n_events, days_at_liberty
    from r
    order by release_id, measure, window_months
"""
OUTCOME_RELEASES_QUERY = "select distinct release_id from r order by release_id"
OUTCOME_COMBINATIONS_QUERY = "select distinct measure, window_months from r order by all"


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
        # What every replicate multiplies, computed once: value, exposure and availability
        # side by side, each where the outcome is available (n x 3J).
        self.stacked = np.hstack(
            [
                self.value * self.available,
                self.exposure * self.available,
                self.available.astype(np.float64),
            ]
        )
        # Outcomes with the same availability (a window and a lag) are matched together;
        # per group the participants' own columns (value, exposure, 1) and the columns their
        # matches lend (value, exposure).
        _, inverse = np.unique(self.available.T, axis=0, return_inverse=True)
        self.groups = [
            np.flatnonzero(inverse.reshape(-1) == g)
            for g in range(int(inverse.max()) + 1 if inverse.size else 0)
        ]
        n = self.value.shape[0]
        self.lent = [np.hstack([self.value[:, c], self.exposure[:, c]]) for c in self.groups]
        self.own = [np.hstack([lent, np.ones((n, 1))]) for lent in self.lent]


def outcome_arrays(
    population: pl.DataFrame,
    rows: pl.DataFrame,
    releases: pl.Series,
    combinations: list[tuple[str, int]],
    frequency_measures: tuple[str, ...] = ("reconviction",),
) -> Outcomes:
    """The outcomes aligned with the population's rows: `rows` (OUTCOME_VALUES_QUERY) hold one
    row per release in `releases` (OUTCOME_RELEASES_QUERY) and per measure x window of
    `combinations` (OUTCOME_COMBINATIONS_QUERY), in that order. A rate per measure and window,
    and the frequency per person-year at liberty of the `frequency_measures`."""
    n_all, k = len(releases), len(combinations)
    if rows.height != n_all * k:
        raise ValueError("every evaluated release needs one row per measure and window")
    position = (
        population.select("release_id")
        .join(
            releases.to_frame("release_id").with_row_index("position"),
            on="release_id",
            how="left",
            maintain_order="left",
        )
        .get_column("position")
    )
    if position.null_count():
        raise ValueError("an evaluated release has no outcome rows")
    position = position.to_numpy()
    n = population.height

    def grid(column: str) -> np.ndarray:
        values = rows.get_column(column).fill_null(0).to_numpy().reshape(n_all, k)
        return values[position].astype(np.float64)

    event, followed = grid("has_event"), grid("has_full_follow_up") > 0
    n_events, years = grid("n_events"), grid("days_at_liberty") / 365.25
    freq_cols = [i for i, (m, _) in enumerate(combinations) if m in frequency_measures]
    names = [(m, "rate", int(w)) for m, w in combinations]
    names += [(combinations[i][0], "frequency", int(combinations[i][1])) for i in freq_cols]
    value = np.hstack([event, n_events[:, freq_cols]])
    exposure = np.hstack([np.ones((n, k)), years[:, freq_cols]])
    available = np.hstack([followed, followed[:, freq_cols] & (years[:, freq_cols] > 0)])
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


def _by_cohort(
    weights: np.ndarray, cohort: np.ndarray, values: np.ndarray | None = None
) -> np.ndarray:
    """Per cohort ('all' first): the sum of weights x values (n x J), or of the weights alone.

    `cohort` is the n x (1 + n_cohorts) indicator matrix of the cohorts ('all' = every row),
    so the sums are one matrix product."""
    weighted = cohort * weights[:, None]
    return weighted.sum(axis=0) if values is None else weighted.T @ values


def _estimate(
    treated: np.ndarray,
    stratum: np.ndarray,
    cohort: np.ndarray,
    counts: np.ndarray,
    score: np.ndarray,
    outcomes: Outcomes,
    settings: Settings,
) -> tuple[Estimate, dict]:
    """All estimators, cohorts and outcomes of one (re)sample. `stratum` is the release year
    index of every row (exact matching), `cohort` its indicator matrix ('all' first)."""
    n, j = outcomes.value.shape
    n_groups = cohort.shape[1]
    shape = (len(ESTIMATORS), n_groups, j)
    num_p, den_p, num_c, den_c, n_p, n_c = (np.zeros(shape) for _ in range(6))

    ipw = att_weights(score, treated, counts, settings)
    participant = np.where(treated, counts, 0.0)
    comparison = np.where(treated, 0.0, counts)
    # Raw and weighted in one product: (cohort x weight) against (value | exposure | avail).
    weights = np.column_stack([participant, comparison, comparison * ipw])
    sums = (cohort[:, :, None] * weights[:, None, :]).reshape(n, -1).T @ outcomes.stacked
    sums = sums.reshape(n_groups, 3, 3, j)  # cohort, weight, (value, exposure, available)
    for e, column in ((ESTIMATORS.index("raw"), 1), (ESTIMATORS.index("weighted"), 2)):
        num_p[e], den_p[e], n_p[e] = sums[:, 0, 0], sums[:, 0, 1], sums[:, 0, 2]
        num_c[e], den_c[e] = sums[:, column, 0], sums[:, column, 1]
        n_c[e] = sums[:, 1, 2]  # every comparison release with follow-up takes part

    # Matching: per outcome, a pair counts where both have full follow-up; a participant's
    # counterfactual is the mean over its counting matches (pair weights renormalised).
    # Outcomes sharing their availability (window and lag) share the pairs.
    matches = match(logit(score), treated, stratum, counts, settings)
    e = ESTIMATORS.index("matched")
    pi, pm, pw = matches.participant, matches.comparison, matches.weight
    for cols, own_columns, lent_columns in zip(
        outcomes.groups, outcomes.own, outcomes.lent, strict=True
    ):
        avail = outcomes.available[:, cols[0]]
        ok = avail[pi] & avail[pm]
        den_i = np.bincount(pi, weights=pw * ok, minlength=n)
        share = np.divide(pw * ok, den_i[pi], out=np.zeros_like(pw), where=den_i[pi] > 0)
        pairs = sparse.csr_matrix((share, (pi, pm)), shape=(n, n))
        w = np.where(den_i > 0, counts, 0.0)
        own = _by_cohort(w, cohort, own_columns)
        other = (cohort * w[:, None]).T @ (pairs @ lent_columns)
        k = len(cols)
        num_p[e][:, cols], den_p[e][:, cols] = own[:, :k], own[:, k : 2 * k]
        n_p[e][:, cols] = own[:, 2 * k :]
        num_c[e][:, cols], den_c[e][:, cols] = other[:, :k], other[:, k:]
        used = np.zeros(n)
        used[pm[ok & (den_i[pi] > 0)]] = 1.0
        n_c[e][:, cols] = _by_cohort(used, cohort)[:, None]
    _, matched_comparison = matched_weights(matches, n, counts)
    matched_participant = np.zeros(n, dtype=bool)
    matched_participant[matches.participant] = True
    diagnostics = {
        "caliper": matches.caliper,
        "unmatched": _by_cohort(
            np.where(treated & (counts > 0) & ~matched_participant, counts, 0.0), cohort
        ),
        "ess_weighted": _ess(comparison * ipw, cohort),
        "ess_matched": _ess(matched_comparison, cohort),
        "ess_raw": _ess(comparison, cohort),
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


def programme_effects(
    programme: str, population: pl.DataFrame, outcomes: Outcomes, settings: Settings
) -> pl.DataFrame:
    """Every estimator x cohort x outcome of one programme, with bootstrap intervals."""
    treated = population.get_column("is_participant").to_numpy().astype(bool)
    cohorts = sorted(population.get_column("cohort").unique().to_list())
    cohort = (
        population.get_column("cohort")
        .replace_strict({c: i for i, c in enumerate(cohorts)}, return_dtype=pl.Int64)
        .to_numpy()
    )
    # Row 'all' and one per cohort: every sum per cohort is one product with this matrix.
    indicator = np.column_stack(
        [np.ones(len(cohort)), cohort[:, None] == np.arange(len(cohorts))[None, :]]
    )
    design = build_design(population)
    n = len(treated)
    ones = np.ones(n)
    with threadpool_limits(1):
        score, model = (
            fit_scores(design.matrix, treated)
            if treated.any() and (~treated).any()
            else (np.full(n, treated.mean() if n else 0.5), None)
        )
        point, diagnostics = _estimate(treated, cohort, indicator, ones, score, outcomes, settings)
        replicates = settings.replicates_for(n) if model is not None else 0
        rng = np.random.default_rng([settings.seed, _stable_hash(programme)])
        diffs, log_ratios = [], []
        for _ in range(replicates):
            counts = _resample(treated, rng)
            s, _ = fit_scores(
                design.matrix, treated, counts, start=model, newton_steps=settings.newton_steps
            )
            est, _ = _estimate(treated, cohort, indicator, counts, s, outcomes, settings)
            rp, rc = est.rates()
            diffs.append(rp - rc)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_ratios.append(np.log(rp / rc))
    return _frame(
        programme,
        [ALL, *cohorts],
        design,
        point,
        diagnostics,
        outcomes,
        np.array(diffs),
        np.array(log_ratios),
        replicates,
        settings,
    )


def _stable_hash(text: str) -> int:
    return int.from_bytes(text.encode("utf-8")[:16].ljust(16, b"\0"), "little")


def _frame(
    programme,
    cohorts,
    design: Design,
    point: Estimate,
    diagnostics: dict,
    outcomes: Outcomes,
    diffs: np.ndarray,
    log_ratios: np.ndarray,
    replicates: int,
    settings: Settings,
) -> pl.DataFrame:
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
                estimable = (
                    n_p >= settings.min_participants
                    and n_c > 0
                    and np.isfinite(difference[e, c, j])
                )
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
                records.append(
                    {
                        "programme": programme,
                        "cohort": cohort,
                        "estimator": estimator,
                        "measure": measure,
                        "outcome": outcome,
                        "window_months": int(window),
                        "n_participants": int(round(n_p)),
                        "n_comparison": int(round(n_c)),
                        "n_participants_unmatched": int(round(diagnostics["unmatched"][c]))
                        if estimator == "matched"
                        else 0,
                        "effective_n_comparison": float(ess),
                        "rate_participants": _num(rate_p[e, c, j]),
                        "rate_comparison": _num(rate_c[e, c, j]),
                        "difference": _num(d),
                        "difference_se": _num(se[e, c, j] if estimable else np.nan),
                        "difference_ci_low": _num(low),
                        "difference_ci_high": _num(high),
                        "risk_ratio": _num(r),
                        "risk_ratio_ci_low": _num(r_low),
                        "risk_ratio_ci_high": _num(r_high),
                        "e_value": _num(e_value(r)) if np.isfinite(r) else None,
                        "e_value_ci": _num(e_value_of_interval(r_low, r_high))
                        if np.isfinite(r_low) and np.isfinite(r_high)
                        else None,
                        "is_estimated": bool(estimable),
                        "not_estimated_reason": reason,
                        "n_replicates": int(replicates),
                        "caliper": float(diagnostics["caliper"]),
                        "n_characteristics": design.n_characteristics,
                    }
                )
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
    "programme": pl.String,
    "cohort": pl.String,
    "estimator": pl.String,
    "measure": pl.String,
    "outcome": pl.String,
    "window_months": pl.Int32,
    "n_participants": pl.Int64,
    "n_comparison": pl.Int64,
    "n_participants_unmatched": pl.Int64,
    "effective_n_comparison": pl.Float64,
    "rate_participants": pl.Float64,
    "rate_comparison": pl.Float64,
    "difference": pl.Float64,
    "difference_se": pl.Float64,
    "difference_ci_low": pl.Float64,
    "difference_ci_high": pl.Float64,
    "risk_ratio": pl.Float64,
    "risk_ratio_ci_low": pl.Float64,
    "risk_ratio_ci_high": pl.Float64,
    "e_value": pl.Float64,
    "e_value_ci": pl.Float64,
    "is_estimated": pl.Boolean,
    "not_estimated_reason": pl.String,
    "n_replicates": pl.Int32,
    "caliper": pl.Float64,
    "n_characteristics": pl.Int32,
}


def all_programme_effects(
    population: pl.DataFrame,
    outcome_rows: pl.DataFrame,
    releases: pl.Series,
    combinations: list[tuple[str, int]],
    settings: Settings,
) -> pl.DataFrame:
    """programme_effects of every programme in the population; `outcome_rows`, `releases`
    and `combinations` as OUTCOME_VALUES_QUERY, OUTCOME_RELEASES_QUERY and
    OUTCOME_COMBINATIONS_QUERY return them."""
    frames = [pl.DataFrame(schema=EFFECT_SCHEMA)]
    for (programme,), part in population.sort("release_id").group_by(
        ["programme"], maintain_order=True
    ):
        arrays = outcome_arrays(part, outcome_rows, releases, combinations)
        frames.append(programme_effects(programme, part, arrays, settings))
        del arrays
    return pl.concat(frames).sort(
        "programme", "estimator", "cohort", "measure", "outcome", "window_months"
    )
