-- Time to the first event of each measure per release (indicators.md, Survival curve): the
-- days from release to the first event, or to the censoring at the as-of date less the lag,
-- or at death or deportation ending a later spell. Releases after their censoring date add
-- nothing and are left out. Read by the survival curves and the programme effect.
with releases as (select * from {{ ref('int_releases_joined_to_participation') }}),

events as (select * from {{ ref('int_recidivism_events') }}),

params as (select * from {{ ref('int_parameters') }}),

first_events as (
    select release_id, measure, min(event_date) as first_event_date
    from events
    group by all
),

subjects as (
    select
        r.release_id,
        m.measure,
        r.release_date,
        fe.first_event_date,
        least(
            cast(params.as_of_date - to_months(
                case when m.measure = 'reincarceration' then params.reincarceration_lag_months
                    else params.register_lag_months
                end
            ) as date),
            coalesce(r.exit_date, date '9999-12-31')
        ) as censor_date
    from releases as r
    cross join (select unnest({{ recidivism_measures() }}) as measure) as m
    cross join params
    left join first_events as fe on fe.release_id = r.release_id and fe.measure = m.measure
)

select
    release_id,
    measure,
    coalesce(first_event_date <= censor_date, false) as is_event,
    cast(case when first_event_date <= censor_date then first_event_date - release_date
        else censor_date - release_date
    end as integer) as day
from subjects
where censor_date >= release_date
