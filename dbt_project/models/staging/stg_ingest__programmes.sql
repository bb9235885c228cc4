-- The programmes of the registry (exports.md, Programmes) as the last ingestion stored them:
-- releases from a programme's prisons in its period form its evaluation cohorts.
with programmes as (select * from {{ source('ingest', 'programmes') }})

select
    programme_id as programme,
    name as programme_name,
    country,
    start_date as period_start_date,
    end_date as period_end_date,
    languages
from programmes
