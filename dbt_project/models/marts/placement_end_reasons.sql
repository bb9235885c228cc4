-- How started placements ended, per programme x partner ('all') x end reason ('all': every
-- ended placement of the programme and partner, the total the shares are of).
with placements as (
    select * from {{ ref('placements') }}
    where has_started and end_date is not null
),

aggregated as (
    select
        programme,
        case when grouping(partner_id) = 1 then 'all' else partner_id end as partner_id,
        case when grouping(end_reason) = 1 then 'all' else coalesce(end_reason, 'unknown') end
            as end_reason,
        count(*) as n_ended
    from placements
    group by grouping sets (
        (programme, partner_id, end_reason), (programme, end_reason),
        (programme, partner_id), (programme)
    )
)

select
    programme,
    partner_id,
    end_reason,
    cast(n_ended as integer) as n_ended,
    n_ended
    / max(n_ended) filter (where end_reason = 'all') over (partition by programme, partner_id)
        as share_of_ended
from aggregated
