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

from .settings import Z95


def hazard_ratio(day: np.ndarray, event: np.ndarray, treated: np.ndarray,
                 weight: np.ndarray) -> dict:
    """Hazard ratio of participation (participants against comparison) with its 95 % interval
    from the robust variance; nulls where it cannot be estimated."""
    keep = weight > 0
    day, event, treated, weight = day[keep], event[keep], treated[keep], weight[keep]
    empty = {"hazard_ratio": None, "hazard_ratio_ci_low": None, "hazard_ratio_ci_high": None,
             "n_events_participants": int(event[treated].sum()),
             "n_events_comparison": int(event[~treated].sum())}
    if not (event[treated].any() and event[~treated].any()):
        return empty
    cells = pd.DataFrame({"day": day.astype(np.int64), "event": event.astype(np.int64),
                          "treated": treated.astype(np.int64), "w": weight,
                          "w2": weight**2})
    cells = cells.groupby(["day", "event", "treated"], as_index=False, sort=True).agg(
        w=("w", "sum"), w2=("w2", "sum"))
    data = cells[["day", "event", "treated", "w"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = CoxPHFitter().fit(data, "day", "event", weights_col="w")
        residuals = fitter.compute_residuals(data, kind="score")["treated"].to_numpy()
    beta = float(fitter.params_["treated"])
    # lifelines' weighted score residual of a cell is its summed weight times the residual
    # each of its persons has.
    per_person = residuals / cells["w"].to_numpy()
    meat = float((cells["w2"].to_numpy() * per_person**2).sum())
    bread = float(fitter.variance_matrix_.to_numpy()[0, 0])
    se = math.sqrt(bread * meat * bread)
    if not (math.isfinite(beta) and math.isfinite(se)):
        return empty
    return {**empty, "hazard_ratio": math.exp(beta),
            "hazard_ratio_ci_low": math.exp(beta - Z95 * se),
            "hazard_ratio_ci_high": math.exp(beta + Z95 * se)}


HAZARD_SCHEMA = {
    "programme": "String", "estimator": "String", "measure": "String",
    "hazard_ratio": "Float64", "hazard_ratio_ci_low": "Float64",
    "hazard_ratio_ci_high": "Float64", "n_events_participants": "Int64",
    "n_events_comparison": "Int64",
}


def all_hazard_ratios(times: pl.DataFrame) -> pl.DataFrame:
    """Hazard ratios per programme x estimator x measure from the evaluation population's
    times to event (programme, measure, day, is_event, is_participant, weight_weighted,
    weight_matched)."""
    schema = {k: getattr(pl, v) for k, v in HAZARD_SCHEMA.items()}
    records = []
    for (programme, measure), part in times.sort("programme", "measure").group_by(
            ["programme", "measure"], maintain_order=True):
        day = part.get_column("day").to_numpy()
        event = part.get_column("is_event").to_numpy().astype(bool)
        treated = part.get_column("is_participant").to_numpy().astype(bool)
        weights = {
            "matched": part.get_column("weight_matched").to_numpy().astype(np.float64),
            "weighted": part.get_column("weight_weighted").to_numpy().astype(np.float64),
            "raw": np.ones(len(day)),
        }
        for estimator, weight in weights.items():
            records.append({"programme": programme, "estimator": estimator, "measure": measure,
                            **hazard_ratio(day, event, treated, weight)})
    return pl.DataFrame(records, schema=schema)
