-- Kaplan-Meier estimate of staying free of each event by days since release (indicators.md),
-- per programme x cohort ('all' = every cohort) x group x measure, with the number at risk
-- and Greenwood 95 % bands on the log(-log) scale (macro kaplan_meier). Every index release of
-- the programme period contributes until its first event or its censoring at the as-of date
-- less the lag, or at death or deportation ending a later spell
-- (int_recidivism_time_to_event). A step function: the value on a day is that of the last row
-- at or before it; day 0 is always present.
with releases as (select * from {{ ref('int_index_releases') }}),

times as (select * from {{ ref('int_recidivism_time_to_event') }}),

timed as (
    select r.programme, r.cohort, r.group_name, t.measure, t.is_event, t.day
    from times as t
    inner join releases as r using (release_id)
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
