-- Rows dropped at staging because the client's consent is not 'yes' (privacy.md): counted.
select partner_id, entity, cast(n_rows_excluded as integer) as n_rows_excluded
from {{ ref('stg_partner__consent_exclusions') }}
