-- The source registry as the last ingestion stored it; programme is a list for registers.
with sources as (select * from {{ source('ingest', 'sources') }})

select
    source_id,
    kind,
    programme as programmes,
    case when len(programme) = 1 then programme[1] end as programme,
    name as source_name,
    partner_type,
    layout,
    cadence_days
from sources
