"""Hazard ratio of participation per programme x estimator x measure from a weighted Cox
model with a robust variance (reentry.evaluation.survival)."""

from reentry.evaluation.survival import CELLS_QUERY, all_hazard_ratios


def model(dbt, session):
    dbt.config(materialized="table")
    scores = dbt.ref("int_effect_scores")
    times = dbt.ref("int_recidivism_time_to_event")
    joined = times.join(scores, "release_id").select(
        "programme, measure, day, is_event, is_participant, weight_weighted, weight_matched"
    )
    return all_hazard_ratios(joined.query("t", CELLS_QUERY).pl()).to_arrow()
