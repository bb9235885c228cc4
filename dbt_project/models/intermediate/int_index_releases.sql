-- The releases the recidivism marts evaluate (indicators.md): the index releases (a person's
-- first in the cohort year) of the programme period, with the cohort as text and the group.
-- A view: it only selects.
{{ config(materialized='view') }}

select
    release_id,
    programme,
    cast(cohort_year as varchar) as cohort,
    prison_id,
    sex,
    age_band,
    prior_spells_band,
    is_participant,
    case when is_participant then 'participant' else 'comparison' end as group_name
from {{ ref('int_releases_joined_to_participation') }}
where is_index_year and is_programme_period
