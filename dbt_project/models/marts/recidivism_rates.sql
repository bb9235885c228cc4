-- Rates per programme x cohort x prison x group x window x measure (outputs.md), with
-- break-downs by sex and age band; 'all' marks the rows that total over a break-down.
-- Population: index releases (first of a person in the cohort year) of the programme period.
-- Rate = events / releases with full follow-up, with a 95 % Wilson interval.
with releases as (select * from {{ ref('int_index_releases') }}),

recidivism as (select * from {{ ref('int_recidivism_outcomes') }}),

base as (
    select
        r.programme,
        r.cohort,
        r.prison_id,
        {{ published_level('r', 'sex') }} as sex,
        {{ published_level('r', 'age_band') }} as age_band,
        r.group_name,
        x.window_months,
        x.measure,
        x.has_full_follow_up,
        x.has_event,
        x.n_events,
        x.days_at_liberty
    from recidivism as x
    inner join releases as r using (release_id)
    {{ join_published_levels('r') }}
),

aggregated as (
    select
        programme,
        case when grouping(cohort) = 1 then 'all' else cohort end as cohort,
        case when grouping(prison_id) = 1 then 'all' else prison_id end as prison_id,
        case when grouping(sex) = 1 then 'all' else sex end as sex,
        case when grouping(age_band) = 1 then 'all' else age_band end as age_band,
        group_name,
        window_months,
        measure,
        count(*) as n_releases,
        count(*) filter (where has_full_follow_up) as n_full_follow_up,
        count(*) filter (where has_full_follow_up and has_event) as n_events,
        sum(n_events) filter (where has_full_follow_up) as n_event_count,
        sum(days_at_liberty) filter (where has_full_follow_up) as days_at_liberty
    from base
    group by grouping sets (
        (programme, group_name, window_months, measure, cohort, prison_id),
        (programme, group_name, window_months, measure, cohort),
        (programme, group_name, window_months, measure, prison_id),
        (programme, group_name, window_months, measure),
        (programme, group_name, window_months, measure, cohort, sex),
        (programme, group_name, window_months, measure, sex),
        (programme, group_name, window_months, measure, cohort, age_band),
        (programme, group_name, window_months, measure, age_band)
    )
)

select
    programme,
    cohort,
    prison_id,
    sex,
    age_band,
    group_name as "group",
    cast(window_months as integer) as window_months,
    measure,
    cast(n_releases as integer) as n_releases,
    cast(n_full_follow_up as integer) as n_full_follow_up,
    cast(n_events as integer) as n_events,
    {{ share_with_interval('n_events', 'n_full_follow_up', share='rate') }},
    -- Frequency: new convictions (or reincarcerations) per person-year at liberty.
    case when days_at_liberty > 0
            then coalesce(n_event_count, 0) / (days_at_liberty / 365.25)
    end as events_per_person_year
from aggregated
