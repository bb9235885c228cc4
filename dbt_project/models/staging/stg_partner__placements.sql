-- Placements of clients without consent are dropped with them (see stg_partner__participants).
with placements as (select * from {{ source('raw', 'placements__current') }}),

consented as (
    {{ consented_clients() }}
)

select
    p._source_id as partner_id,
    p._source_id || ':' || p.placement_id as placement_id,
    p.client_id,
    p.placement_type,
    p.employer_ref,
    p.sector,
    p.arranged_date,
    p.start_date,
    p.planned_end_date,
    p.end_date,
    p.end_reason,
    p.hours_per_week,
    p.paid = 'yes' as is_paid
from placements as p
semi join consented as c on c._source_id = p._source_id and c.client_id = p.client_id
