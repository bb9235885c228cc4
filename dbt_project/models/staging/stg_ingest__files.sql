-- One row per recorded delivery attempt of a landing file (the manifest).
with files as (select * from {{ source('ingest', 'load_report') }})

select
    load_id,
    file_name,
    source_id,
    entity,
    export_date,
    delivery,
    status,
    error,
    n_received,
    n_loaded,
    n_quarantined,
    n_current,
    n_superseded,
    n_removed,
    loaded_at
from files
