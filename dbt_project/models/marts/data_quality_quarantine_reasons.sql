-- Quarantined rows per programme x source x reason, with 'all' rows totalling a source, a
-- reason and the programme (data_quality_quarantine has the entity and column). A register
-- serving several programmes is counted in each of them.
with quarantine as (select * from {{ ref('data_quality_quarantine') }}),

aggregated as (
    {{ rolled_up_by_source('quarantine', 'reason', ['sum(f.n_rows) as n_rows']) }}
)

select programme, source_id, reason, cast(n_rows as bigint) as n_rows
from aggregated
