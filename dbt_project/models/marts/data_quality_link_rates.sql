-- Link rate (indicators.md): the share of participant records and register entries whose
-- pseudonym matches a custody spell, per programme x source x entity, with 'all' rows
-- totalling a source, an entity and the programme. The rows of programme 'all' count every
-- record once (a register serving several programmes is in each of their rows); they are the
-- link rates the run summary shows.
with participants as (select * from {{ ref('stg_partner__participants') }}),

entries as (select * from {{ ref('stg_register__register_entries') }}),

spells as (select distinct person_key from {{ ref('int_custody_spells_stitched') }}),

records as (
    select partner_id as source_id, 'participants' as entity, person_key from participants
    union all
    select register_id, 'register_entries', person_key from entries
),

flagged as (
    select source_id, entity, person_key in (select s.person_key from spells as s) as is_linked
    from records
),

by_programme as (
    {{ rolled_up_by_source('flagged', 'entity', [
        'count(*) as n_records',
        'count(*) filter (where f.is_linked) as n_linked',
    ]) }}
),

over_programmes as (
    select
        'all' as programme,
        case when grouping(source_id) = 1 then 'all' else source_id end as source_id,
        case when grouping(entity) = 1 then 'all' else entity end as entity,
        count(*) as n_records,
        count(*) filter (where is_linked) as n_linked
    from flagged
    group by grouping sets ((source_id, entity), (entity), (source_id), ())
),

aggregated as (
    select * from by_programme
    union all
    select * from over_programmes
)

select
    programme,
    source_id,
    entity,
    cast(n_records as integer) as n_records,
    cast(n_linked as integer) as n_linked,
    n_linked / n_records as link_rate
from aggregated
