"""Time to the first event: the hazard ratio of participation from a weighted Cox model with
a robust (sandwich) variance.

A fit on a million rows with lifelines' own robust variance takes minutes, and the model has
one binary covariate: persons with the same day, event status and group are exchangeable in
the partial likelihood and have the same score residual. So the model is fitted on those
cells (day, event, group) with their summed weights, and the sandwich is assembled from the
cells' score residuals with the sum of the squared weights of the persons in each cell,
which is what the per-person sandwich sums. Ties are handled as lifelines does (Efron) on
the cells; tests/test_effect_crosscheck.py holds it against lifelines' robust fit per person.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import polars as pl
from lifelines import CoxPHFitter

from reentry.contract import CODE_LISTS

from .settings import Z95

# lifelines warns that the model-based variance of a weighted fit is biased: the variance here
# is the sandwich assembled below, never that one. Filtered for the process, as dbt runs models
# in threads and catch_warnings() in one thread can restore the filters under another.
warnings.filterwarnings("ignore", message="It appears your weights are not integers")


def exact_sum(expression: str) -> str:
    """SQL summing a double `expression` in an order-free way: each term as an exact decimal,
    the sum exact, then a double. A plain sum of doubles in parallel threads rounds in another
    order on every run, and the fit then differs in the last bits."""
    return f"cast(sum(cast({expression} as decimal(38, 18))) as double)"


# Cells of the Cox model, made in DuckDB from the evaluation population's times to event
# (relation `t`: programme, measure, day, is_event, is_participant, weight_weighted,
# weight_matched): per programme x estimator x measure x day x event x group, the summed
# weights and squared weights of the persons with positive weight.
CELLS_QUERY = f"""
    with weighted as (
        select programme, e.estimator, measure, day, is_event, is_participant,
               case e.estimator when 'matched' then weight_matched
                                when 'weighted' then weight_weighted
                                else 1.0 end as w
        from t
        cross join (select unnest({list(CODE_LISTS["effect_estimator"])}) as estimator) e
    )
    select programme, estimator, measure, day, is_event, is_participant,
           {exact_sum("w")} as w, {exact_sum("w * w")} as w2
    from weighted
    where w > 0
    group by all
    order by all
"""


def hazard_ratio(cells: pd.DataFrame) -> dict:
    """Hazard ratio of participation (participants against comparison) with its 95 % interval
    from the robust variance, from cells (day, event, treated, w = summed weights, w2 = summed
    squared weights); nulls where it cannot be estimated."""
    event = cells["event"].to_numpy().astype(bool)
    treated = cells["treated"].to_numpy().astype(bool)
    empty = {"hazard_ratio": None, "hazard_ratio_ci_low": None, "hazard_ratio_ci_high": None}
    if not (event[treated].any() and event[~treated].any()):
        return empty
    data = cells[["day", "event", "treated", "w"]].astype(
        {"day": np.int64, "event": np.int64, "treated": np.int64, "w": np.float64}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = CoxPHFitter().fit(data, "day", "event", weights_col="w")
        residuals = fitter.compute_residuals(data, kind="score")["treated"].to_numpy()
    beta = float(fitter.params_["treated"])
    # lifelines' weighted score residual of a cell is its summed weight times the residual
    # each of its persons has.
    per_person = residuals / data["w"].to_numpy()
    meat = float((cells["w2"].to_numpy() * per_person**2).sum())
    bread = float(fitter.variance_matrix_.to_numpy()[0, 0])
    se = math.sqrt(bread * meat * bread)
    if not (math.isfinite(beta) and math.isfinite(se)):
        return empty
    return {
        "hazard_ratio": math.exp(beta),
        "hazard_ratio_ci_low": math.exp(beta - Z95 * se),
        "hazard_ratio_ci_high": math.exp(beta + Z95 * se),
    }


HAZARD_SCHEMA = {
    "programme": pl.String,
    "estimator": pl.String,
    "measure": pl.String,
    "hazard_ratio": pl.Float64,
    "hazard_ratio_ci_low": pl.Float64,
    "hazard_ratio_ci_high": pl.Float64,
}


def all_hazard_ratios(cells: pl.DataFrame) -> pl.DataFrame:
    """Hazard ratios per programme x estimator x measure from CELLS_QUERY's cells."""
    records = []
    for (programme, estimator, measure), part in cells.group_by(
        ["programme", "estimator", "measure"], maintain_order=True
    ):
        frame = part.select(
            pl.col("day"),
            pl.col("is_event").alias("event"),
            pl.col("is_participant").alias("treated"),
            "w",
            "w2",
        ).to_pandas()
        records.append(
            {
                "programme": programme,
                "estimator": estimator,
                "measure": measure,
                **hazard_ratio(frame),
            }
        )
    return pl.DataFrame(records, schema=HAZARD_SCHEMA)
