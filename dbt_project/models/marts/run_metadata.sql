-- One row describing the build: the as-of date and the follow-up rules every number uses,
-- and how many releases lie in a programme period (none: only the descriptive marts carry
-- numbers, the evaluation marts are empty and the run summary and dashboards say so).
with params as (select * from {{ ref('int_parameters') }}),

programmes as (select * from {{ ref('stg_ingest__programmes') }}),

releases as (select * from {{ ref('int_releases_cohorts') }})

select
    params.as_of_date,
    params.register_lag_months,
    params.reincarceration_lag_months,
    cast((select count(*) from programmes) as integer) as n_programmes,
    cast((select count(*) from releases) as integer) as n_releases,
    cast((select count(*) filter (where is_programme_period) from releases) as integer)
        as n_programme_period_releases,
    cast(now() as timestamp) as built_at,
    '{{ dbt_version }}' as dbt_version
from params
