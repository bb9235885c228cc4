"""Every estimator x cohort x outcome of every programme with bootstrap intervals and
E-values (reentry.evaluation.effects)."""

from reentry.evaluation.effects import (
    OUTCOME_COMBINATIONS_QUERY,
    OUTCOME_RELEASES_QUERY,
    OUTCOME_VALUES_QUERY,
    all_programme_effects,
)
from reentry.evaluation.settings import Settings


def model(dbt, session):
    dbt.config(materialized="table")
    settings = Settings.from_config(dbt.config.get)
    population = dbt.ref("int_effect_population")
    recidivism = dbt.ref("int_recidivism_outcomes")
    # Only the evaluated releases' outcomes leave DuckDB, as numbers.
    evaluated = recidivism.join(population.select("release_id"), "release_id", how="semi")
    rows = evaluated.query("r", OUTCOME_VALUES_QUERY).pl()
    releases = evaluated.query("r", OUTCOME_RELEASES_QUERY).pl().get_column("release_id")
    combinations = evaluated.query("r", OUTCOME_COMBINATIONS_QUERY).fetchall()
    return all_programme_effects(population.pl(), rows, releases, combinations, settings).to_arrow()
