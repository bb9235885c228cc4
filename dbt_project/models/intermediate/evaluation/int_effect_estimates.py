"""Every estimator x cohort x outcome of every programme with bootstrap intervals and
E-values (evaluation.effects)."""

from evaluation.effects import all_programme_effects
from evaluation.settings import Settings


def model(dbt, session):
    dbt.config(materialized="table")
    settings = Settings.from_config(dbt.config.get)
    population = dbt.ref("int_effect_population")
    recidivism = dbt.ref("recidivism")
    # Only the evaluated releases' outcomes leave DuckDB.
    outcomes = recidivism.join(population.select("release_id"), "release_id").select(
        "release_id, window_months, measure, has_full_follow_up, has_event, n_events, "
        "days_at_liberty")
    return all_programme_effects(population.pl(), outcomes.pl(), settings).to_arrow()
