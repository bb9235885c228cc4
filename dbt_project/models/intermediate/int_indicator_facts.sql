-- The programme indicators of indicators.md in long form, one row per unit (a release or a
-- placement) and indicator, carrying the release's break-downs. programme_indicators adds
-- them up per period and break-down. kind says how: share = numerator / denominator,
-- per_100 = 100 x that, rate = per unit of the denominator, count, median (of value).
with releases as (
    select * from {{ ref('int_releases_joined_to_participation') }}
    where is_index_year and is_programme_period
),

placements as (select * from {{ ref('int_placements_joined_to_releases') }}),

participants as (select * from {{ ref('stg_partner__participants') }}),

contacts as (
    select c.*, p.person_key
    from {{ ref('stg_partner__aftercare_contacts') }} as c
    inner join participants as p on p.partner_id = c.partner_id and p.client_id = c.client_id
),

measures as (
    select m.*, i.person_key
    from {{ ref('stg_prison__prison_measures') }} as m
    inner join {{ ref('stg_prison__inmates') }} as i
        on i.prison_id = m.prison_id
        and i.inmate_id = m.inmate_id
),

spells as (select * from {{ ref('int_custody_spells_stitched') }}),

recidivism as (select * from {{ ref('int_recidivism_outcomes') }}),

employment as (select * from {{ ref('int_employment_days') }}),

params as (select * from {{ ref('int_parameters') }}),

placement_starts as (
    select
        release_id,
        min(start_date) as first_start_date,
        bool_or(arranged_date <= release_date) as is_placed_before_release,
        bool_or(start_date between release_date and release_date + interval 90 day)
            as is_placed_within_90_days
    from placements
    where release_id is not null
    group by release_id
),

-- Aftercare in the first 6 months after release, for releases with that much follow-up.
first_half_year as (
    select
        r.release_id,
        cast(r.release_date + interval 6 month as date) - r.release_date
        - coalesce(sum(
            least(
                coalesce(s.spell_end_date, params.as_of_date),
                cast(r.release_date + interval 6 month as date)
            )
            - s.spell_start_date
        ), 0) as days_at_liberty
    from releases as r
    cross join params
    left join spells as s
        on s.person_key = r.person_key and s.spell_start_date > r.release_date
        and s.spell_start_date <= r.release_date + interval 6 month
    where r.is_participant and params.as_of_date >= r.release_date + interval 6 month
    group by r.release_id, r.release_date
),

contact_counts as (
    select
        r.release_id,
        bool_or(c.contact_date between r.release_date and r.release_date + interval 14 day)
            as has_contact_14_days,
        count(*) filter (where c.contact_date <= r.release_date + interval 6 month)
            as n_contacts_6m,
        count(*) filter (
            where c.contact_date <= r.release_date + interval 6 month
            and c.contact_with in ('employer', 'both')
        ) as n_employer_contacts_6m,
        count(*) filter (
            where c.contact_date <= r.release_date + interval 6 month and c.is_crisis
        ) as n_crisis_contacts_6m
    from releases as r
    inner join contacts as c on c.person_key = r.person_key and c.contact_date >= r.release_date
    where r.is_participant
    group by r.release_id
),

completed_training as (
    select distinct r.release_id
    from releases as r
    inner join measures as m
        on m.person_key = r.person_key
        and m.outcome = 'completed'
        and list_contains({{ code_list('training_measure_type') }}, m.measure_type)
        and m.start_date between r.spell_start_date and r.release_date
),

dims as (
    select
        r.release_id, r.programme, r.cohort_year, r.cohort_quarter, r.prison_id,
        r.partner_id, {{ published_level('r', 'sex') }} as sex,
        {{ published_level('r', 'age_band') }} as age_band, r.is_participant,
        r.release_date
    from releases as r
    {{ join_published_levels('r') }}
),

release_facts as (
    select
        d.*, 'releases' as indicator, 'count' as kind, 1.0 as numerator,
        cast(null as double) as denominator, cast(null as double) as value
    from dims as d
    union all
    select d.*, 'participation', 'share', cast(d.is_participant as int), 1, null
    from dims as d
    union all
    select
        d.*, 'placed_before_release', 'share',
        cast(coalesce(ps.is_placed_before_release, false) as int), 1, null
    from dims as d left join placement_starts as ps using (release_id)
    where d.is_participant
    union all
    select
        d.*, 'placed_within_90_days', 'share',
        cast(coalesce(ps.is_placed_within_90_days, false) as int), 1, null
    from dims as d left join placement_starts as ps using (release_id) cross join params
    where d.is_participant and params.as_of_date >= d.release_date + interval 90 day
    union all
    select
        d.*, 'seamless_start', 'share',
        cast(coalesce(ps.first_start_date - d.release_date <= 14, false) as int), 1, null
    from dims as d left join placement_starts as ps using (release_id) cross join params
    where d.is_participant and params.as_of_date >= d.release_date + interval 14 day
    union all
    select
        d.*, 'days_to_first_start', 'median', 1, null,
        ps.first_start_date - d.release_date
    from dims as d inner join placement_starts as ps using (release_id)
    where d.is_participant and ps.first_start_date is not null
    union all
    select
        d.*, 'continuity', 'share',
        cast(exists (
            select 1 from placements as p
            where p.person_key = r.person_key and p.has_started
                and p.start_date between d.release_date and d.release_date + interval 90 day
        ) as int), 1, null
    from dims as d
    inner join releases as r using (release_id)
    semi join completed_training using (release_id)
    cross join params
    where params.as_of_date >= d.release_date + interval 90 day
    union all
    select
        d.*, 'aftercare_contact_14_days', 'share',
        cast(coalesce(cc.has_contact_14_days, false) as int), 1, null
    from dims as d left join contact_counts as cc using (release_id) cross join params
    where d.is_participant and params.as_of_date >= d.release_date + interval 14 day
    union all
    select
        d.*, 'contacts_per_participant_month', 'rate',
        coalesce(cc.n_contacts_6m, 0), h.days_at_liberty / 30.4375, null
    from dims as d inner join first_half_year as h using (release_id)
    left join contact_counts as cc using (release_id)
    union all
    select
        d.*, 'employer_contact_share', 'share',
        cc.n_employer_contacts_6m, cc.n_contacts_6m, null
    from dims as d inner join first_half_year using (release_id)
    inner join contact_counts as cc using (release_id)
    -- contacts only after the first half-year: no contact to share out (a 0/0 share)
    where cc.n_contacts_6m > 0
    union all
    select
        d.*, 'crisis_per_100_participants', 'per_100',
        coalesce(cc.n_crisis_contacts_6m, 0), 1, null
    from dims as d inner join first_half_year using (release_id)
    left join contact_counts as cc using (release_id)
    union all
    select d.*, 'in_work_day_' || e.day, 'share', cast(e.is_in_work as int), 1, null
    from dims as d inner join employment as e using (release_id)
    union all
    select
        d.*,
        x.measure || '_' || x.window_months || 'm_'
        || case when d.is_participant then 'participants' else 'comparison' end,
        'share', cast(x.has_event as int), 1, null
    from dims as d inner join recidivism as x using (release_id)
    where x.has_full_follow_up and x.window_months in (12, 24)
),

placement_facts as (
    select
        d.*, 'dropout_' || n.days || '_days', 'share',
        cast((p.is_dropout and p.end_date - p.start_date <= n.days) as int), 1, null
    from placements as p
    inner join dims as d using (release_id)
    cross join (select unnest([90, 180]) as days) as n
    cross join params
    where p.has_started and params.as_of_date >= p.start_date + cast(n.days as integer)
    union all
    -- Step up (the sports-club route): a paid placement starts within 180 days of the end of a
    -- started work experience (judged once those 180 days have passed).
    select
        d.*, 'step_up', 'share',
        cast(exists (
            select 1 from placements as q
            where q.person_key = p.person_key and q.placement_id <> p.placement_id
                and q.is_paid and q.placement_type <> 'work_experience'
                and q.start_date > p.start_date
                and q.start_date <= p.end_date + interval 180 day
        ) as int), 1, null
    from placements as p
    inner join dims as d using (release_id)
    cross join params
    where p.placement_type = 'work_experience' and p.has_started and p.end_date is not null
        and params.as_of_date >= p.end_date + interval 180 day
)

select * exclude (release_date, is_participant) from release_facts
union all
select * exclude (release_date, is_participant) from placement_facts
