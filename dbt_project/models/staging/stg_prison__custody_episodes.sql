with episodes as (select * from {{ source('raw', 'custody_episodes__current') }})

select
    _source_id as prison_id,
    episode_id,
    inmate_id,
    admission_date,
    coalesce(admission_type, 'other') as admission_type,
    expected_release_date,
    release_date,
    -- A release date without a type is an ordinary release of unknown kind.
    case when release_date is not null then coalesce(release_type, 'other') end as release_type,
    sentence_days,
    offence_group,
    _export_date as export_date
from episodes
