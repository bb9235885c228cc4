-- One row describing the build: the as-of date and the follow-up rules every number uses.
-- It reads no raw entity, so every build writes it afresh (built_at); how many releases lie
-- in each programme's period is in marts.programmes.
with params as (select * from {{ ref('int_parameters') }}),

programmes as (select * from {{ ref('stg_ingest__programmes') }})

select
    params.as_of_date,
    params.register_lag_months,
    params.reincarceration_lag_months,
    cast((select count(*) from programmes) as integer) as n_programmes,
    cast(now() as timestamp) as built_at,
    '{{ dbt_version }}' as dbt_version
from params
