-- One row per release x follow-up window in months x measure (outputs.md; the code lists
-- follow_up_months and measure). A release
-- enters a rate only with full follow-up: the as-of date at least window + lag after release.
with releases as (select * from {{ ref('int_releases_joined_to_participation') }}),

events as (select * from {{ ref('int_recidivism_events') }}),

params as (select * from {{ ref('int_parameters') }}),

spells as (select * from {{ ref('int_custody_spells_stitched') }}),

grid as (
    select
        r.release_id,
        r.person_key,
        r.release_date,
        w.window_months,
        m.measure,
        case when m.measure = 'reincarceration' then params.reincarceration_lag_months
            else params.register_lag_months
        end as lag_months,
        params.as_of_date
    from releases as r
    cross join (select unnest({{ follow_up_windows() }}) as window_months) as w
    cross join (select unnest({{ recidivism_measures() }}) as measure) as m
    cross join params
),

windowed as (
    select
        *,
        cast(release_date + to_months(window_months) as date) as window_end_date,
        as_of_date >= release_date + to_months(window_months + lag_months)
            as has_full_follow_up
    from grid
),

-- Each event once per release and measure (its first date), so that counting is a count.
event_firsts as (
    select release_id, measure, event_ref, min(event_date) as event_date
    from events
    group by all
),

first_events as (
    select
        w.release_id,
        w.window_months,
        w.measure,
        min(e.event_date) as first_event_date,
        count(*) as n_events
    from windowed as w
    inner join event_firsts as e
        on e.release_id = w.release_id
        and e.measure = w.measure
        and e.event_date <= w.window_end_date
    group by all
),

-- Days in custody during the window are not at risk (frequency per year at liberty). A spell
-- still open at the as-of date counts up to it, and none before its start (a spell begun after
-- an as-of date earlier than the newest export counts no day).
release_windows as (
    select
        r.release_id,
        r.person_key,
        r.release_date,
        w.window_months,
        cast(r.release_date + to_months(w.window_months) as date) as window_end_date,
        params.as_of_date
    from releases as r
    cross join (select unnest({{ follow_up_windows() }}) as window_months) as w
    cross join params
),

custody_days as (
    select
        w.release_id,
        w.window_months,
        sum(
            greatest(
                least(coalesce(s.spell_end_date, w.as_of_date), w.window_end_date)
                - greatest(s.spell_start_date, w.release_date),
                0
            )
        ) as days_in_custody
    from release_windows as w
    inner join spells as s
        on s.person_key = w.person_key
        and s.spell_start_date > w.release_date
        and s.spell_start_date <= w.window_end_date
    group by all
)

select
    w.release_id,
    w.window_months,
    w.measure,
    w.window_end_date,
    w.has_full_follow_up,
    fe.first_event_date is not null as has_event,
    fe.first_event_date - w.release_date as days_to_event,
    coalesce(fe.n_events, 0) as n_events,
    cast((w.window_end_date - w.release_date) - coalesce(cd.days_in_custody, 0) as bigint)
        as days_at_liberty
from windowed as w
left join first_events as fe using (release_id, window_months, measure)
left join custody_days as cd using (release_id, window_months)
