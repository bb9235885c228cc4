-- Dropouts of started placements (indicators.md) by placement type, sector, partner and
-- releasing prison ('all' = total): started placements, dropouts, share with a Wilson interval.
with placements as (
    select * from {{ ref('placements') }}
    where has_started
),

long as (
    select programme, 'all' as breakdown, 'all' as breakdown_value, is_dropout from placements
    union all
    select programme, 'placement_type', placement_type, is_dropout from placements
    union all
    select programme, 'sector', coalesce(sector, 'unknown'), is_dropout from placements
    union all
    select programme, 'partner', partner_id, is_dropout from placements
    union all
    select programme, 'prison', coalesce(prison_id, 'unknown'), is_dropout from placements
),

aggregated as (
    select
        programme,
        breakdown,
        breakdown_value,
        count(*) as n_started,
        count(*) filter (where is_dropout) as n_dropouts
    from long
    group by all
)

select
    programme,
    breakdown,
    breakdown_value,
    cast(n_started as integer) as n_started,
    cast(n_dropouts as integer) as n_dropouts,
    {{ share_with_interval('n_dropouts', 'n_started', share='dropout_share') }}
from aggregated
