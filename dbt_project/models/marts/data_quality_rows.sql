-- Rows delivered per programme x source x entity over the loaded files (indicators.md, data
-- quality): received, loaded, quarantined, removed by a newer full snapshot, with 'all' rows
-- totalling a source, an entity and the programme. A register serving several programmes is
-- counted in each of them.
with deliveries as (
    select * from {{ ref('data_quality_deliveries') }}
    where status = 'loaded'
),

aggregated as (
    {{ rolled_up_by_source('deliveries', 'entity', [
        'cast(count(*) as bigint) as n_files',
        'cast(sum(f.n_received) as bigint) as n_received',
        'cast(sum(f.n_loaded) as bigint) as n_loaded',
        'cast(sum(f.n_quarantined) as bigint) as n_quarantined',
        'cast(sum(f.n_removed) as bigint) as n_removed',
    ]) }}
)

select programme, source_id, entity, n_files, n_received, n_loaded, n_quarantined, n_removed
from aggregated
