with inmates as (select * from {{ source('raw', 'inmates__current') }})

select
    _source_id as prison_id,
    inmate_id,
    person_key,
    birth_year,
    coalesce(sex, 'u') as sex,
    nationality,
    _export_date as export_date
from inmates
