-- In recidivism_rates the 'all' cohort row equals the sum of the cohort rows (per prison,
-- group, window, measure), and the 'all' prison row the sum of the prison rows.
with rates as (select * from {{ ref('recidivism_rates') }} where sex = 'all' and age_band = 'all'),

by_cohort as (
    select programme, prison_id, "group", window_months, measure,
           sum(n_releases) as n_releases, sum(n_full_follow_up) as n_full_follow_up,
           sum(n_events) as n_events
    from rates where cohort <> 'all' group by all
),

by_prison as (
    select programme, cohort, "group", window_months, measure,
           sum(n_releases) as n_releases, sum(n_full_follow_up) as n_full_follow_up,
           sum(n_events) as n_events
    from rates where prison_id <> 'all' group by all
)

select 'cohort' as part, t.programme, t.prison_id as key, t."group", t.window_months, t.measure
from rates t
join by_cohort s using (programme, prison_id, "group", window_months, measure)
where t.cohort = 'all'
  and (t.n_releases, t.n_full_follow_up, t.n_events)
      <> (s.n_releases, s.n_full_follow_up, s.n_events)
union all
select 'prison', t.programme, t.cohort, t."group", t.window_months, t.measure
from rates t
join by_prison s using (programme, cohort, "group", window_months, measure)
where t.prison_id = 'all'
  and (t.n_releases, t.n_full_follow_up, t.n_events)
      <> (s.n_releases, s.n_full_follow_up, s.n_events)
