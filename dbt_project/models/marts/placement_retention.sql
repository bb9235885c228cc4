-- Retention of started placements (indicators.md): the Kaplan-Meier share still running, or
-- ended as completed / transition, N days after the start. Any other end is the event;
-- completed and transition ends never fail (they stay retained until the as-of date).
-- Per programme x partner ('all') x placement type ('all') x day.
with placements as (select * from {{ ref('placements') }}),

params as (select * from {{ ref('int_parameters') }}),

subjects as (
    select
        p.programme,
        p.partner_id,
        p.placement_type,
        p.end_date is not null and p.end_reason not in ('completed', 'transition')
        and p.end_date <= params.as_of_date as is_event,
        case
            when p.end_date is not null and p.end_reason not in ('completed', 'transition')
                and p.end_date <= params.as_of_date
                then p.end_date - p.start_date
            else params.as_of_date - p.start_date
        end as day
    from placements as p
    cross join params
    where p.has_started and p.start_date <= params.as_of_date
),

curves as (
    select programme, partner_id, placement_type, is_event, day from subjects
    union all
    select programme, 'all', placement_type, is_event, day from subjects
    union all
    select programme, partner_id, 'all', is_event, day from subjects
    union all
    select programme, 'all', 'all', is_event, day from subjects
)

select *
from {{ kaplan_meier('curves', ['programme', 'partner_id', 'placement_type']) }}
