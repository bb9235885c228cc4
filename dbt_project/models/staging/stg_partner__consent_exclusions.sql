-- How many current rows each partner delivered for clients without consent: counted, not kept.
with participants as (select * from {{ source('raw', 'participants__current') }}),

refused as (
    select _source_id, client_id from participants
    where not {{ consent_given() }}
),

counts as (
    select 'participants' as entity, _source_id, count(*) as n_rows
    from refused
    group by all
    union all
    select 'placements', p._source_id, count(*)
    from {{ source('raw', 'placements__current') }} as p
    semi join refused as r on r._source_id = p._source_id and r.client_id = p.client_id
    group by all
    union all
    select 'aftercare_contacts', a._source_id, count(*)
    from {{ source('raw', 'aftercare_contacts__current') }} as a
    semi join refused as r on r._source_id = a._source_id and r.client_id = a.client_id
    group by all
)

select _source_id as partner_id, entity, n_rows as n_rows_excluded from counts
