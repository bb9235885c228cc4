-- Participation (indicators.md): a partner of the same programme holds an accepted,
-- consented participant record whose intake lies between the spell's start and 90 days
-- after the release. The first such partner (earliest intake) is the release's partner.
with releases as (select * from {{ ref('int_releases_cohorts') }}),

participants as (select * from {{ ref('stg_partner__participants') }}),

sources as (select * from {{ ref('stg_ingest__sources') }}),

matches as (
    select
        r.release_id,
        p.partner_id,
        p.client_id,
        p.intake_date
    from releases as r
    inner join participants as p
        on p.person_key = r.person_key
        and p.selection = 'accepted'
        and p.intake_date between r.spell_start_date and r.release_date + interval 90 day
    inner join sources as s on s.source_id = p.partner_id and s.programme = r.programme
),

per_release as (
    select
        release_id,
        arg_min(partner_id, (intake_date, partner_id)) as partner_id,
        min(intake_date) as first_intake_date,
        count(distinct partner_id) as n_partners
    from matches
    group by release_id
)

select
    r.*,
    pr.release_id is not null as is_participant,
    pr.partner_id,
    pr.first_intake_date,
    coalesce(pr.n_partners, 0) as n_partners
from releases as r
left join per_release as pr using (release_id)
