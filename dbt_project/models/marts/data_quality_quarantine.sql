-- Quarantined rows per source x entity x reason x column (no row content).
with quarantine as (select * from {{ ref('stg_ingest__quarantine') }})

select
    source_id,
    entity,
    reason,
    coalesce(column_name, '') as column_name,
    cast(count(*) as integer) as n_rows,
    cast(count(distinct load_id) as integer) as n_files
from quarantine
group by all
