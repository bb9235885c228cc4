with measures as (select * from {{ source('raw', 'prison_measures__current') }})

select
    _source_id as prison_id,
    measure_id,
    inmate_id,
    coalesce(measure_type, 'other') as measure_type,
    start_date,
    end_date,
    outcome
from measures
