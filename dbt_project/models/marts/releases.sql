-- One row per release (indicators.md): who, when, from where, and whether they participated.
with releases as (select * from {{ ref('int_releases_joined_to_participation') }})

select
    release_id,
    person_key,
    programme,
    prison_id,
    release_date,
    release_type,
    cast(cohort_year as integer) as cohort_year,
    cohort_quarter,
    sex,
    age_band,
    cast(prior_spells as integer) as prior_spells,
    is_participant,
    partner_id,
    spell_start_date,
    cast(age_at_release as integer) as age_at_release,
    prior_spells_band,
    offence_group,
    sentence_days,
    n_episodes,
    first_intake_date,
    cast(n_partners as integer) as n_partners,
    is_index_year,
    is_index_quarter,
    is_programme_period,
    exit_date
from releases
