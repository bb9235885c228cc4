-- Link rate (indicators.md): the share of participant records and register entries whose
-- pseudonym matches a custody spell, per source.
with participants as (select * from {{ ref('stg_partner__participants') }}),

entries as (select * from {{ ref('stg_register__register_entries') }}),

spells as (select distinct person_key from {{ ref('int_custody_spells_stitched') }}),

records as (
    select partner_id as source_id, 'participants' as entity, person_key from participants
    union all
    select register_id, 'register_entries', person_key from entries
)

select
    source_id,
    entity,
    cast(count(*) as integer) as n_records,
    cast(count(*) filter (where person_key in (select person_key from spells)) as integer)
        as n_linked,
    count(*) filter (where person_key in (select person_key from spells)) / count(*)
        as link_rate
from records
group by all
