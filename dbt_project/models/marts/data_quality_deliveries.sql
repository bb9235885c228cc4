-- Every recorded delivery (indicators.md, data quality): rows received, loaded, quarantined,
-- superseded by a newer file, removed by a newer full snapshot; why a file was not loaded.
with files as (select * from {{ ref('stg_ingest__files') }}),

sources as (select * from {{ ref('stg_ingest__sources') }})

select
    f.load_id,
    f.source_id,
    s.kind as source_kind,
    s.programme,
    f.entity,
    f.file_name,
    f.export_date,
    f.delivery,
    f.status,
    f.error,
    f.n_received,
    f.n_loaded,
    f.n_quarantined,
    f.n_current,
    f.n_superseded,
    f.n_removed,
    f.loaded_at
from files as f
left join sources as s using (source_id)
