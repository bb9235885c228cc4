-- Every later event of each release, per measure (indicators.md, recidivism):
-- convictions by offence date (registered by the as-of date), custodial and serious ones,
-- and the start of a later custody spell (not one that begins with a transfer in).
with releases as (select * from {{ ref('int_releases_joined_to_participation') }}),

params as (select * from {{ ref('int_parameters') }}),

convictions as (
    select *
    from {{ ref('stg_register__register_entries') }}
    where decision_type = 'conviction'
),

spells as (select * from {{ ref('int_custody_spells_stitched') }}),

register_events as (
    select
        r.release_id,
        c.entry_id,
        c.offence_date as event_date,
        c.sanction = 'custodial' as is_custodial,
        coalesce(c.max_penalty_years >= 4, false) as is_serious
    from releases as r
    inner join convictions as c on c.person_key = r.person_key and c.offence_date >= r.release_date
    cross join params
    where c.decision_date <= params.as_of_date
),

reincarcerations as (
    select
        r.release_id,
        s.spell_id as event_ref,
        s.spell_start_date as event_date
    from releases as r
    inner join spells as s on s.person_key = r.person_key and s.spell_start_date > r.release_date
    cross join params
    where s.first_admission_type <> 'transfer_in'
        and s.spell_start_date <= params.as_of_date
)

select release_id, 'reconviction' as measure, entry_id as event_ref, event_date
from register_events
union all
select release_id, 'custodial_reconviction', entry_id, event_date
from register_events
where is_custodial
union all
select release_id, 'serious_reconviction', entry_id, event_date
from register_events
where is_serious
union all
select release_id, 'reincarceration', event_ref, event_date
from reincarcerations
