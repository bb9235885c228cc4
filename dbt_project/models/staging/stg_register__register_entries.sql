with entries as (select * from {{ source('raw', 'register_entries__current') }})

select
    _source_id as register_id,
    _source_id || ':' || entry_id as entry_id,
    person_key,
    birth_year,
    offence_date,
    decision_date,
    decision_type,
    sanction,
    offence_group,
    max_penalty_years
from entries
