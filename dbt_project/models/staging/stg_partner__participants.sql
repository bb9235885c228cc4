-- privacy.md: without consent = 'yes' nothing of this person from this partner may reach a
-- mart. The rows are dropped here, and counted in stg_partner__consent_exclusions.
with participants as (select * from {{ source('raw', 'participants__current') }})

select
    _source_id as partner_id,
    client_id,
    person_key,
    birth_year,
    referring_prison as referring_prison_id,
    intake_date,
    selection,
    exit_date,
    exit_reason
from participants
where {{ consent_given() }}
