-- Kaplan-Meier estimate of staying free of each event by days since release (indicators.md),
-- per programme x cohort ('all' = every cohort) x group x measure, with the number at risk
-- and Greenwood 95 % bands on the log(-log) scale (macro kaplan_meier). Every index release of the programme period
-- contributes until its first event or its censoring at the as-of date less the lag, or at
-- death or deportation ending a later spell. A step function: the value on a day is that of
-- the last row at or before it; day 0 is always present.
with releases as (select * from {{ ref('releases') }}),

events as (select * from {{ ref('int_recidivism_events') }}),

params as (select * from {{ ref('int_parameters') }}),

first_events as (
    select release_id, measure, min(event_date) as first_event_date
    from events
    group by all
),

subjects as (
    select
        r.programme,
        cast(r.cohort_year as varchar) as cohort,
        case when r.is_participant then 'participant' else 'comparison' end as group_name,
        m.measure,
        r.release_date,
        fe.first_event_date,
        least(
            cast(params.as_of_date - to_months(
                case when m.measure = 'reincarceration' then params.reincarceration_lag_months
                     else params.register_lag_months end) as date),
            coalesce(r.exit_date, date '9999-12-31')
        ) as censor_date
    from releases r
    cross join (select unnest({{ recidivism_measures() }}) as measure) m
    cross join params
    left join first_events fe on fe.release_id = r.release_id and fe.measure = m.measure
    where r.is_index_year and r.is_programme_period
),

timed as (
    select
        programme,
        cohort,
        group_name,
        measure,
        coalesce(first_event_date <= censor_date, false) as is_event,
        case when first_event_date <= censor_date then first_event_date - release_date
             else censor_date - release_date end as day
    from subjects
    where censor_date >= release_date  -- releases after the censoring date add nothing
),

both_cohorts as (
    select * from timed
    union all
    select programme, 'all' as cohort, group_name, measure, is_event, day from timed
)

select
    programme,
    cohort,
    group_name as "group",
    measure,
    day,
    n_at_risk,
    n_events,
    n_censored,
    survival,
    ci_low,
    ci_high
from {{ kaplan_meier('both_cohorts', ['programme', 'cohort', 'group_name', 'measure']) }}
