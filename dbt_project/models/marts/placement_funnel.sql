-- The placement funnel per programme x intake year ('all') x partner ('all'), in persons:
-- referred (consented) -> accepted -> placed -> started -> retained 180 days (a started
-- placement still running, or ended as completed / transition, 180 days after its start;
-- only records whose first start lies 180 days before the as-of date count as observed for
-- that step). A person counts once per cell, at the furthest stage any of their records in
-- the cell reached; with several partners or intake years a person is in each of their rows,
-- so partner rows and year rows may add up to more than their total.
with participants as (select * from {{ ref('stg_partner__participants') }}),

placements as (select * from {{ ref('int_placements_joined_to_releases') }}),

sources as (select * from {{ ref('stg_ingest__sources') }}),

params as (select * from {{ ref('int_parameters') }}),

programmes as (select * from {{ ref('stg_ingest__programmes') }}),

per_record as (
    select
        p.partner_id,
        p.person_key,
        s.programme,
        cast(year(p.intake_date) as varchar) as cohort,
        p.selection = 'accepted' as is_accepted,
        count(pl.placement_id) > 0 as is_placed,
        bool_or(pl.has_started) as is_started,
        min(pl.start_date) as first_start_date,
        bool_or(
            pl.has_started
            and pl.start_date + interval 180 day <= params.as_of_date
            and (
                pl.end_date is null or pl.end_date > pl.start_date + interval 180 day
                or pl.end_reason in ('completed', 'transition')
            )
        ) as is_retained_180
    from participants as p
    inner join sources as s on s.source_id = p.partner_id
    inner join programmes as g on g.programme = s.programme
    cross join params
    left join placements as pl on pl.partner_id = p.partner_id and pl.client_id = p.client_id
    where p.intake_date between g.period_start_date and g.period_end_date
    group by p.partner_id, p.client_id, p.person_key, s.programme, p.intake_date, p.selection
),

-- A person's stages per partner and intake year: the furthest any record there reached.
per_person as (
    select
        programme, cohort, partner_id, person_key,
        bool_or(is_accepted) as is_accepted,
        bool_or(is_accepted and is_placed) as is_placed,
        bool_or(is_accepted and is_started) as is_started,
        bool_or(is_accepted and is_retained_180) as is_retained_180
    from per_record
    group by all
),

aggregated as (
    select
        programme,
        case when grouping(cohort) = 1 then 'all' else cohort end as cohort,
        case when grouping(partner_id) = 1 then 'all' else partner_id end as partner_id,
        count(distinct person_key) as n_referred,
        count(distinct person_key) filter (where is_accepted) as n_accepted,
        count(distinct person_key) filter (where is_placed) as n_placed,
        count(distinct person_key) filter (where is_started) as n_started,
        count(distinct person_key) filter (where is_retained_180) as n_retained_180
    from per_person
    group by grouping sets (
        (programme, cohort, partner_id), (programme, cohort), (programme, partner_id),
        (programme)
    )
)

select
    programme,
    cohort,
    partner_id,
    cast(n_referred as integer) as n_referred,
    cast(n_accepted as integer) as n_accepted,
    cast(n_placed as integer) as n_placed,
    cast(n_started as integer) as n_started,
    cast(n_retained_180 as integer) as n_retained_180
from aggregated
