-- One row describing the build: the as-of date and the follow-up rules every number uses.
with params as (select * from {{ ref('int_parameters') }})

select
    as_of_date,
    register_lag_months,
    reincarceration_lag_months,
    programme_start_date,
    programme_end_date,
    cast(now() as timestamp) as built_at,
    '{{ dbt_version }}' as dbt_version
from params
