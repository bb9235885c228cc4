"""Propensity score and matched / weighted comparison weights of every release of the
evaluation population (reentry.evaluation.scores)."""

from reentry.evaluation.scores import all_programme_scores
from reentry.evaluation.settings import Settings


def model(dbt, session):
    dbt.config(materialized="table")
    settings = Settings.from_config(dbt.config.get)
    population = dbt.ref("int_effect_population").pl()
    return all_programme_scores(population, settings).to_arrow()
