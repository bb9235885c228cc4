-- Timeliness (indicators.md): days from the newest export of each source and entity to the
-- as-of date, against the source's expected cadence.
with files as (
    select * from {{ ref('stg_ingest__files') }}
    where status in ('loaded', 'duplicate')
),

sources as (select * from {{ ref('stg_ingest__sources') }}),

params as (select * from {{ ref('int_parameters') }}),

latest as (
    select source_id, entity, max(export_date) as last_export_date, max(loaded_at) as last_loaded_at
    from files
    group by all
)

select
    l.source_id,
    s.kind as source_kind,
    l.entity,
    l.last_export_date,
    l.last_loaded_at,
    cast(params.as_of_date - l.last_export_date as integer) as days_since_last_export,
    s.cadence_days,
    coalesce(params.as_of_date - l.last_export_date > s.cadence_days, false) as is_stale
from latest as l
inner join sources as s using (source_id)
cross join params
