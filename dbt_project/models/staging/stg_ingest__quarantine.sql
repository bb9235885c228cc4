-- Quarantined rows reduced to what data-quality reporting needs: where, which rule, which column.
with quarantine as (select * from {{ source('ingest', 'quarantine') }})

select
    load_id,
    source_id,
    entity,
    file_name,
    line,
    reason,
    column_name
from quarantine
