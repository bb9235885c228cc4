-- In work on day N (indicators.md): among participating releases with follow-up to day N
-- and not in custody on day N, the share with an employment, temp work, apprenticeship or
-- work experience placement running on that day. Per programme x cohort ('all' = every
-- cohort of the programme period) x N.
with in_work as (select * from {{ ref('int_employment_days') }}),

aggregated as (
    select
        programme,
        case when grouping(cohort) = 1 then 'all' else cohort end as cohort,
        day,
        count(*) as n_observed,
        count(*) filter (where is_in_work) as n_in_work
    from in_work
    group by grouping sets ((programme, cohort, day), (programme, day))
)

select
    programme,
    cohort,
    cast(day as integer) as day,
    cast(n_observed as integer) as n_observed,
    cast(n_in_work as integer) as n_in_work,
    {{ share_with_interval('n_in_work', 'n_observed') }}
from aggregated
