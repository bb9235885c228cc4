-- Releases (indicators.md): the end of a spell by end of sentence, parole or early release.
-- Deportation, death and escape end a spell but enter no cohort. A person counts once per
-- programme and cohort, with the first release in it (is_index_year / is_index_quarter);
-- the programme period (from the source registry) cuts the first and last cohort, so the
-- index release is the first one inside the period where there is one.
with spells as (select * from {{ ref('int_custody_spells_stitched') }}),

persons as (select * from {{ ref('int_persons') }}),

programmes as (select * from {{ ref('stg_ingest__programmes') }}),

with_later_spells as (
    select
        *,
        lead(spell_start_date) over person_spells as next_spell_start_date,
        -- Follow-up ends for good where a later spell ends in death or deportation.
        min(case when end_type in ('death', 'deportation') then spell_end_date end) over (
            partition by person_key order by spell_seq
            rows between 1 following and unbounded following
        ) as exit_date
    from spells
    window person_spells as (partition by person_key order by spell_seq)
),

releases as (
    select *
    from with_later_spells
    where list_contains({{ code_list('index_release_type') }}, end_type)
),

described as (
    select
        md5(r.person_key || '|' || r.spell_end_date) as release_id,
        r.person_key,
        r.spell_id,
        r.programme,
        r.last_prison_id as prison_id,
        r.spell_end_date as release_date,
        r.end_type as release_type,
        r.spell_start_date,
        year(r.spell_end_date) as cohort_year,
        year(r.spell_end_date) || 'Q' || quarter(r.spell_end_date) as cohort_quarter,
        coalesce(p.sex, 'u') as sex,
        p.birth_year,
        p.nationality,
        year(r.spell_end_date) - p.birth_year as age_at_release,
        r.spell_seq - 1 as prior_spells,
        r.offence_group,
        r.sentence_days,
        r.n_episodes,
        r.next_spell_start_date,
        r.exit_date,
        coalesce(r.spell_end_date between g.period_start_date and g.period_end_date, false)
            as is_programme_period
    from releases as r
    left join persons as p using (person_key)
    left join programmes as g on g.programme = r.programme
)

select
    *,
    {{ age_band('age_at_release') }} as age_band,
    case when prior_spells = 0 then '0' when prior_spells = 1 then '1' else '2+' end
        as prior_spells_band,
    row_number() over (
        partition by person_key, programme, cohort_year, is_programme_period
        order by release_date
    ) = 1 as is_index_year,
    row_number() over (
        partition by person_key, programme, cohort_quarter, is_programme_period
        order by release_date
    ) = 1 as is_index_quarter
from described
