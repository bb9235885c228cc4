-- In work on day N (indicators.md), per participating index release of the programme period
-- and N of the code list in_work_day: observed (follow-up to day N and not in custody on that
-- day) and, if observed, in work (a placement of a type of the list in_work_placement_type
-- running on that day).
with releases as (select * from {{ ref('int_releases_joined_to_participation') }}),

placements as (select * from {{ ref('int_placements_joined_to_releases') }}),

spells as (select * from {{ ref('int_custody_spells_stitched') }}),

params as (select * from {{ ref('int_parameters') }}),

days as (
    select
        r.release_id,
        r.person_key,
        r.programme,
        r.prison_id,
        r.partner_id,
        r.sex,
        r.age_band,
        r.cohort_year,
        r.cohort_quarter,
        cast(r.cohort_year as varchar) as cohort,
        n.day,
        r.release_date + cast(n.day as integer) as day_date,
        params.as_of_date
    from releases as r
    cross join (select unnest({{ code_list('in_work_day', 'integer') }}) as day) as n
    cross join params
    where r.is_participant and r.is_index_year and r.is_programme_period
),

observed as (
    select d.*
    from days as d
    where d.day_date <= d.as_of_date
        -- In custody on day N: a later spell covers that day; such releases are not observed.
        and not exists (
            select 1 from spells as s
            where s.person_key = d.person_key
                and s.spell_start_date <= d.day_date
                and coalesce(s.spell_end_date, d.as_of_date) >= d.day_date
        )
),

in_work as (
    select
        o.*,
        exists(
            select 1 from placements as p
            where p.person_key = o.person_key
                and list_contains({{ code_list('in_work_placement_type') }}, p.placement_type)
                and p.start_date <= o.day_date
                and coalesce(p.end_date, o.as_of_date) >= o.day_date
        ) as is_in_work
    from observed as o
)

select * from in_work
