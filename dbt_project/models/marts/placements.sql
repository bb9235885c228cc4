-- One row per placement of a consenting participant, with the release it belongs to.
with placements as (select * from {{ ref('int_placements_joined_to_releases') }})

select
    placement_id,
    person_key,
    partner_id,
    programme,
    release_id,
    prison_id,
    placement_type,
    sector,
    employer_ref,
    arranged_date,
    start_date,
    planned_end_date,
    end_date,
    end_reason,
    hours_per_week,
    is_paid,
    cast(days_release_to_start as integer) as days_release_to_start,
    arranged_date <= release_date as is_arranged_before_release,
    has_started,
    is_dropout
from placements
