"""Covariate balance: the standardised mean difference of every covariate level before
matching or weighting, after matching and after weighting (indicators.md, Diagnostics).

The denominator of every stage is the pooled standard deviation before adjustment, so that a
change of the SMD is a change of the means, not of the yardstick."""

from __future__ import annotations

import numpy as np
import polars as pl

from .design import build_design

BALANCE_SCHEMA = {
    "programme": pl.String,
    "covariate": pl.String,
    "level": pl.String,
    "stage": pl.String,
    "mean_participants": pl.Float64,
    "mean_comparison": pl.Float64,
    "smd": pl.Float64,
}


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float((values * weights).sum() / total) if total > 0 else float("nan")


def covariate_balance(
    programme: str, population: pl.DataFrame, stages: dict[str, tuple[np.ndarray, np.ndarray]]
) -> pl.DataFrame:
    """One row per covariate level (a continuous covariate is one row, level '') and stage.

    stages: name -> (participant weights, comparison weights), each of length n; the first
    stage is the unadjusted one whose variances make the denominators."""
    design = build_design(population)
    columns: list[tuple[str, str, np.ndarray]] = []
    for cat in design.categorical:
        for i, level in enumerate(cat.levels):
            columns.append((cat.name, level, (cat.codes == i).astype(np.float64)))
    for cont in design.continuous:
        columns.append((cont.name, "", cont.values))
    records = []
    first_stage = next(iter(stages))
    for name, level, x in columns:
        wp0, wc0 = stages[first_stage]
        var_p = _weighted_mean((x - _weighted_mean(x, wp0)) ** 2, wp0)
        var_c = _weighted_mean((x - _weighted_mean(x, wc0)) ** 2, wc0)
        pooled = np.sqrt((var_p + var_c) / 2)
        for stage, (wp, wc) in stages.items():
            mp, mc = _weighted_mean(x, wp), _weighted_mean(x, wc)
            if np.isfinite(pooled) and pooled > 0:
                smd = (mp - mc) / pooled
            else:
                smd = 0.0 if np.isfinite(mp) and np.isfinite(mc) and mp == mc else np.nan
            records.append(
                {
                    "programme": programme,
                    "covariate": name,
                    "level": level,
                    "stage": stage,
                    "mean_participants": _num(mp),
                    "mean_comparison": _num(mc),
                    "smd": _num(smd),
                }
            )
    return pl.DataFrame(records, schema=BALANCE_SCHEMA)


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
