"""Per release of the evaluation population: its propensity score and its weights in the
matched and the weighted comparison (the full-sample fit the estimates start from)."""

from __future__ import annotations

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from .balance import BALANCE_SCHEMA, covariate_balance
from .design import build_design
from .propensity import att_weights, fit_scores, logit, match, matched_weights
from .settings import Settings

SCORE_SCHEMA = {
    "programme": pl.String,
    "release_id": pl.String,
    "cohort": pl.String,
    "is_participant": pl.Boolean,
    "propensity_score": pl.Float64,
    "propensity_logit": pl.Float64,
    "weight_weighted": pl.Float64,
    "weight_matched": pl.Float64,
    "is_matched": pl.Boolean,
}


def programme_scores(population: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Scores and weights of one programme's population (rows in the population's order)."""
    treated = population.get_column("is_participant").to_numpy().astype(bool)
    n = len(treated)
    cohort = population.get_column("cohort").rank("dense").cast(pl.Int64).to_numpy()
    counts = np.ones(n)
    if treated.any() and (~treated).any():
        with threadpool_limits(1):
            score, _ = fit_scores(build_design(population).matrix, treated)
        ipw = att_weights(score, treated, counts, settings)
        matches = match(logit(score), treated, cohort, counts, settings)
        participant_weight, comparison_weight = matched_weights(matches, n, counts)
        matched = np.where(treated, participant_weight, comparison_weight)
    else:
        # One group only: nothing to compare, no weights.
        score = np.full(n, 0.5)
        ipw = np.where(treated, 1.0, 0.0)
        matched = np.zeros(n)
    return population.select("programme", "release_id", "cohort", "is_participant").with_columns(
        pl.Series("propensity_score", score),
        pl.Series("propensity_logit", logit(score)),
        pl.Series("weight_weighted", ipw),
        pl.Series("weight_matched", matched),
        pl.Series("is_matched", treated & (matched > 0)),
    )


def all_programme_scores(population: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    frames = [pl.DataFrame(schema=SCORE_SCHEMA)]
    for _, part in population.sort("release_id").group_by(["programme"], maintain_order=True):
        frames.append(programme_scores(part, settings))
    return pl.concat(frames)


def all_covariate_balance(population: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """covariate_balance of every programme: before, matched and weighted."""
    frames = [pl.DataFrame(schema=BALANCE_SCHEMA)]
    joined = population.join(
        scores.select("release_id", "weight_weighted", "weight_matched"),
        on="release_id",
        how="inner",
    ).sort("release_id")
    for (programme,), part in joined.group_by(["programme"], maintain_order=True):
        treated = part.get_column("is_participant").to_numpy().astype(bool)
        ipw = part.get_column("weight_weighted").to_numpy()
        matched = part.get_column("weight_matched").to_numpy()
        stages = {
            "before": (treated * 1.0, (~treated) * 1.0),
            "matched": (treated * matched, (~treated) * matched),
            "weighted": (treated * 1.0, (~treated) * ipw),
        }
        frames.append(
            covariate_balance(programme, part.drop("weight_weighted", "weight_matched"), stages)
        )
    return pl.concat(frames)
