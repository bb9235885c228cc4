-- Custody episodes with the person behind the booking number and the prison's programme.
-- Episodes whose booking number has no inmate record cannot be linked and are left out
-- (counted in the data-quality marts).
with episodes as (select * from {{ ref('stg_prison__custody_episodes') }}),

inmates as (select * from {{ ref('stg_prison__inmates') }}),

sources as (select * from {{ ref('stg_ingest__sources') }})

select
    e.prison_id,
    e.episode_id,
    i.person_key,
    s.programme,
    e.admission_date,
    e.admission_type,
    e.release_date,
    e.release_type,
    e.expected_release_date,
    e.sentence_days,
    e.offence_group
from episodes as e
inner join inmates as i on i.prison_id = e.prison_id and i.inmate_id = e.inmate_id
inner join sources as s on s.source_id = e.prison_id
