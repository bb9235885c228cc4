-- Placements with their person and the release they belong to: the latest release of the
-- same programme whose spell began on or before the day the placement was arranged (so a
-- placement arranged during detention belongs to the coming release).
with placements as (select * from {{ ref('stg_partner__placements') }}),

participants as (select * from {{ ref('stg_partner__participants') }}),

sources as (select * from {{ ref('stg_ingest__sources') }}),

releases as (select * from {{ ref('int_releases_joined_to_participation') }}),

with_person as (
    select
        pl.*,
        pt.person_key,
        s.programme
    from placements as pl
    inner join participants as pt on pt.partner_id = pl.partner_id and pt.client_id = pl.client_id
    inner join sources as s on s.source_id = pl.partner_id
)

select
    p.*,
    r.release_id,
    r.release_date,
    r.prison_id,
    r.is_participant,
    p.start_date - r.release_date as days_release_to_start,
    p.start_date is not null as has_started,
    coalesce(
        p.start_date is not null
        and list_contains({{ code_list('dropout_end_reason') }}, p.end_reason)
        and (p.planned_end_date is null or p.end_date < p.planned_end_date),
        false
    ) as is_dropout
from with_person as p
asof left join releases as r
    on r.person_key = p.person_key
    and r.programme = p.programme
    and r.spell_start_date <= p.arranged_date
