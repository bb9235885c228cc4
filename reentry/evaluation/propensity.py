"""Propensity score, inverse-probability weights for the ATT and nearest-neighbour matching.

The score is a logistic regression of participation on the covariates, fitted by
scikit-learn (Newton-Cholesky, unpenalised), which takes frequency weights: a bootstrap
replicate is the same fit with each person's count in the resample as weight.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from .settings import Settings

# Scores are kept inside (EPS, 1 - EPS): a score of exactly 0 or 1 has no logit.
EPS = 1e-9
# A bootstrap replicate stops after its Newton step(s) on purpose (the one-step bootstrap).
# Filtered for the whole process: dbt runs models in threads, and catch_warnings() in one
# thread can restore the filters under another.
warnings.filterwarnings(
    "ignore", message="Newton solver did not converge", category=ConvergenceWarning
)


@dataclass
class ScoreModel:
    """A fitted propensity model: coefficients to start the next fit from."""

    coef: np.ndarray
    intercept: np.ndarray


def fit_scores(
    matrix: np.ndarray,
    treated: np.ndarray,
    counts: np.ndarray | None = None,
    start: ScoreModel | None = None,
    newton_steps: int | None = None,
) -> tuple[np.ndarray, ScoreModel]:
    """Propensity scores of every row (rows with count 0 are scored but do not fit).

    With `start` and `newton_steps`, the fit takes that many Newton steps from `start`: a
    bootstrap replicate's one-step estimate from the full-sample fit, which has the same
    large-sample distribution as the replicate's full fit (the k-step bootstrap)."""
    model = LogisticRegression(
        C=np.inf,
        solver="newton-cholesky",
        max_iter=newton_steps or 200,
        tol=1e-8,
        warm_start=start is not None,
    )
    if start is not None:
        model.coef_ = start.coef.copy()
        model.intercept_ = start.intercept.copy()
        model.classes_ = np.array([False, True])
    if matrix.shape[1] == 0:
        matrix = np.zeros((len(treated), 1))
    with warnings.catch_warnings():
        # Quasi-separation (a prison without participants) drives a coefficient far out:
        # its scores approach 0 and those persons get no weight, which is the right answer.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(matrix, treated, sample_weight=counts)
    score = np.clip(model.predict_proba(matrix)[:, 1], EPS, 1 - EPS)
    return score, ScoreModel(model.coef_.copy(), model.intercept_.copy())


def logit(score: np.ndarray) -> np.ndarray:
    return np.log(score / (1 - score))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of values under frequency weights (the smallest value reaching q)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    if cum[-1] <= 0:
        return float("nan")
    position = np.searchsorted(cum, q * cum[-1], side="left")
    return float(values[order][min(position, len(values) - 1)])


def att_weights(
    score: np.ndarray, treated: np.ndarray, counts: np.ndarray, settings: Settings
) -> np.ndarray:
    """Weights for the effect on the participants: 1 for participants, the odds p / (1 - p)
    for the comparison, trimmed at their `trim_quantile` (99th percentile)."""
    odds = score / (1 - score)
    comparison = ~treated & (counts > 0)
    cap = (
        weighted_quantile(odds[comparison], counts[comparison], settings.trim_quantile)
        if comparison.any()
        else np.inf
    )
    return np.where(treated, 1.0, np.minimum(odds, cap))


@dataclass
class Matches:
    """Nearest-neighbour matches: pairs (participant row, comparison row, pair weight)."""

    participant: np.ndarray  # row index of the participant
    comparison: np.ndarray  # row index of the matched comparison release
    weight: np.ndarray  # 1 / number of matches of that participant
    caliper: float


def match(
    score_logit: np.ndarray,
    treated: np.ndarray,
    stratum: np.ndarray,
    counts: np.ndarray,
    settings: Settings,
) -> Matches:
    """Nearest-neighbour matching on the logit of the score, with replacement, within a
    caliper of `caliper_sd` standard deviations of the logit, exactly within `stratum` (the
    release year): each participant takes up to `neighbours` nearest comparison releases.
    Participants with none inside the caliper stay unmatched (off common support)."""
    k = settings.neighbours
    present = counts > 0
    mean = np.average(score_logit, weights=counts)
    sd = float(np.sqrt(np.average((score_logit - mean) ** 2, weights=counts)))
    caliper = settings.caliper_sd * sd
    # One sorted axis: strata far apart from each other, the logit within a stratum.
    span = float(score_logit.max() - score_logit.min()) + 10 * caliper + 1.0
    key = stratum.astype(np.float64) * span + score_logit
    pool = np.flatnonzero(~treated & present)
    pool = pool[np.argsort(key[pool], kind="stable")]
    seekers = np.flatnonzero(treated & present)
    if len(pool) == 0 or len(seekers) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Matches(empty, empty, np.zeros(0), caliper)
    pool_keys = key[pool]
    position = np.searchsorted(pool_keys, key[seekers])
    offsets = np.arange(-k, k)
    candidates = position[:, None] + offsets[None, :]
    valid = (candidates >= 0) & (candidates < len(pool))
    candidates = np.clip(candidates, 0, len(pool) - 1)
    rows = pool[candidates]
    distance = np.abs(score_logit[rows] - score_logit[seekers][:, None])
    valid &= (stratum[rows] == stratum[seekers][:, None]) & (distance <= caliper)
    distance = np.where(valid, distance, np.inf)
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(rows, nearest, axis=1)
    ok = np.isfinite(np.take_along_axis(distance, nearest, axis=1))
    n_matches = ok.sum(axis=1)
    participant = np.repeat(seekers, k).reshape(-1, k)[ok]
    weight = np.repeat(1.0 / np.maximum(n_matches, 1), k).reshape(-1, k)[ok]
    return Matches(participant, chosen[ok], weight, caliper)


def matched_weights(matches: Matches, n: int, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the participant's weight (its count if matched, else 0) and the comparison
    release's weight (the participants' counts it stands for, shared among their matches)."""
    participant_weight = np.zeros(n)
    participant_weight[matches.participant] = counts[matches.participant]
    comparison_weight = np.bincount(
        matches.comparison, weights=matches.weight * counts[matches.participant], minlength=n
    )
    return participant_weight, comparison_weight
