-- The programmes of the source registry (exports.md, Programmes) with what the data hold of
-- them: releases in the programme period, the evaluation population and its participants.
-- Dashboards and packs take programme names, periods and languages from here.
with programmes as (select * from {{ ref('stg_ingest__programmes') }}),

releases as (select * from {{ ref('int_releases_cohorts') }}),

population as (select * from {{ ref('int_effect_population') }}),

release_counts as (
    select programme, count(*) filter (where is_programme_period) as n_period_releases
    from releases
    group by programme
),

population_counts as (
    select
        programme, count(*) as n_evaluated, count(*) filter (where is_participant)
            as n_participants
    from population
    group by programme
)

select
    p.programme,
    p.programme_name,
    p.country,
    p.period_start_date,
    p.period_end_date,
    p.languages,
    cast(coalesce(r.n_period_releases, 0) as integer) as n_period_releases,
    cast(coalesce(c.n_evaluated, 0) as integer) as n_evaluated,
    cast(coalesce(c.n_participants, 0) as integer) as n_participants
from programmes as p
left join release_counts as r using (programme)
left join population_counts as c using (programme)
