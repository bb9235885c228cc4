"""Standardised mean differences of every covariate level before and after matching and
weighting (reentry.evaluation.balance)."""

from reentry.evaluation.scores import all_covariate_balance


def model(dbt, session):
    dbt.config(materialized="table")
    population = dbt.ref("int_effect_population").pl()
    scores = dbt.ref("int_effect_scores").pl()
    return all_covariate_balance(population, scores).to_arrow()
