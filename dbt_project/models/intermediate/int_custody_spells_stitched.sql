-- Custody spells (indicators.md): a person's episodes, across all prisons, that follow each
-- other with at most one day between a release and the next admission, that overlap, or
-- that are linked by a transfer: the spell so far ended with transfer_out and the next
-- episode begins with transfer_in. A transfer is never a release.
with episodes as (
    select
        *,
        -- An open episode runs until further notice.
        coalesce(release_date, date '9999-12-31') as end_or_open
    from {{ ref('int_custody_episodes_linked') }}
),

ordered as (
    select
        *,
        -- The spell so far ends with the latest end among the earlier episodes (overlaps).
        max(end_or_open) over preceding_episodes as prev_end,
        arg_max(release_type, end_or_open) over preceding_episodes as prev_end_type
    from episodes
    window preceding_episodes as (
        partition by person_key
        order by admission_date, end_or_open, prison_id, episode_id
        rows between unbounded preceding and 1 preceding
    )
),

flagged as (
    select
        *,
        case
            when prev_end is null then 1
            when admission_date <= prev_end + interval 1 day then 0
            when prev_end_type = 'transfer_out' and admission_type = 'transfer_in' then 0
            else 1
        end as is_new_spell
    from ordered
),

numbered as (
    select
        *,
        sum(is_new_spell) over (
            partition by person_key
            order by admission_date, end_or_open, prison_id, episode_id
            rows unbounded preceding
        ) as spell_seq
    from flagged
),

spells as (
    select
        person_key,
        spell_seq,
        min(admission_date) as spell_start_date,
        max(end_or_open) as end_or_open,
        -- The last episode: the one that ends last (ties: the later admission).
        arg_max(release_type, (end_or_open, admission_date)) as end_type,
        arg_max(prison_id, (end_or_open, admission_date)) as last_prison_id,
        arg_max(programme, (end_or_open, admission_date)) as programme,
        arg_min(admission_type, (admission_date, end_or_open)) as first_admission_type,
        arg_min(prison_id, (admission_date, end_or_open)) as first_prison_id,
        arg_max(offence_group, (end_or_open, admission_date)) as offence_group,
        max(sentence_days) as sentence_days,
        count(*) as n_episodes,
        count(distinct prison_id) as n_prisons
    from numbered
    group by person_key, spell_seq
)

select
    md5(person_key || '|' || spell_start_date) as spell_id,
    person_key,
    cast(spell_seq as integer) as spell_seq,
    programme,
    spell_start_date,
    case when end_or_open < date '9999-12-31' then end_or_open end as spell_end_date,
    case when end_or_open < date '9999-12-31' then end_type end as end_type,
    first_admission_type,
    first_prison_id,
    last_prison_id,
    offence_group,
    sentence_days,
    cast(n_episodes as integer) as n_episodes,
    cast(n_prisons as integer) as n_prisons
from spells
