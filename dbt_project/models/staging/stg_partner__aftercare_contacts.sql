-- Contacts of clients without consent are dropped with them (see stg_partner__participants).
with contacts as (select * from {{ source('raw', 'aftercare_contacts__current') }}),

consented as (
    {{ consented_clients() }}
)

select
    a._source_id as partner_id,
    a._source_id || ':' || a.contact_id as contact_id,
    a.client_id,
    a.contact_date,
    coalesce(a.contact_with, 'participant') as contact_with,
    a.channel,
    a.crisis = 'yes' as is_crisis
from contacts as a
semi join consented as c on c._source_id = a._source_id and c.client_id = a.client_id
