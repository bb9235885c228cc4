-- The evaluation population (indicators.md, Programme effect): per programme, each person's
-- first release in the programme period from one of the programme's prisons. Participants
-- participate at that release; a person who participates at another release of the same
-- programme is never a comparison and is left out. Each person counts once per programme.
--
-- Every column after is_participant is a covariate of the propensity score, known on the
-- release date: text columns are categorical (missing values have their own level), numeric
-- ones continuous. The evaluation (reentry/evaluation/design.py) reads them by that rule, so a
-- covariate is added here and nowhere else.
with releases as (select * from {{ ref('int_releases_joined_to_participation') }}),

programmes as (select * from {{ ref('stg_ingest__programmes') }}),

convictions as (
    select person_key, decision_date
    from {{ ref('stg_register__register_entries') }}
    where decision_type = 'conviction'
),

inmates as (select * from {{ ref('stg_prison__inmates') }}),

completed_training as (
    select i.person_key, m.end_date
    from {{ ref('stg_prison__prison_measures') }} as m
    inner join inmates as i on i.prison_id = m.prison_id and i.inmate_id = m.inmate_id
    where list_contains({{ code_list('training_measure_type') }}, m.measure_type)
        and m.outcome = 'completed'
),

participation_anywhere as (
    select programme, person_key, bool_or(is_participant) as has_participated
    from releases
    group by all
),

first_in_period as (
    select *
    from releases
    where is_programme_period
    qualify row_number() over (
            partition by programme, person_key order by release_date, release_id
        ) = 1
),

eligible as (
    select f.*
    from first_in_period as f
    inner join participation_anywhere as a using (programme, person_key)
    where f.is_participant or not a.has_participated
),

prior_convictions as (
    select
        e.release_id,
        count(c.decision_date) as n_prior_convictions,
        min(c.decision_date) as first_conviction_date
    from eligible as e
    left join convictions as c
        on c.person_key = e.person_key and c.decision_date <= e.release_date
    group by e.release_id
),

training as (
    select e.release_id, count(t.end_date) > 0 as has_completed_training
    from eligible as e
    left join completed_training as t
        on t.person_key = e.person_key
        and t.end_date between e.spell_start_date and e.release_date
    group by e.release_id
),

described as (
    select
        e.programme,
        e.release_id,
        e.person_key,
        cast(e.cohort_year as varchar) as cohort,
        e.is_participant,
        e.sex,
        cast(e.age_at_release as double) as age_at_release,
        e.age_band,
        case when e.nationality is null then 'unknown'
            when e.nationality = g.country then 'home'
            else 'other'
        end as nationality_group,
        case when e.prior_spells >= 3 then '3+' else cast(e.prior_spells as varchar) end
            as prior_spells_group,
        case when pc.n_prior_convictions >= 5 then '5+'
            when pc.n_prior_convictions >= 3 then '3-4'
            else cast(pc.n_prior_convictions as varchar)
        end as prior_convictions_group,
        case when pc.first_conviction_date is null then 'none'
            when e.release_date - pc.first_conviction_date < 2 * 365.25 then 'under_2'
            when e.release_date - pc.first_conviction_date < 5 * 365.25 then '2_5'
            when e.release_date - pc.first_conviction_date < 10 * 365.25 then '5_10'
            else '10_plus'
        end as years_since_first_conviction,
        coalesce(e.offence_group, 'missing') as offence_group,
        case when e.sentence_days is null then 'missing'
            when e.sentence_days < 183 then 'under_6m'
            when e.sentence_days < 365 then '6_12m'
            when e.sentence_days < 730 then '1_2y'
            when e.sentence_days < 1826 then '2_5y'
            else '5y_plus'
        end as sentence_length,
        case when e.release_date - e.spell_start_date < 91 then 'under_3m'
            when e.release_date - e.spell_start_date < 183 then '3_6m'
            when e.release_date - e.spell_start_date < 365 then '6_12m'
            when e.release_date - e.spell_start_date < 730 then '1_2y'
            else '2y_plus'
        end as spell_length,
        case when t.has_completed_training then 'yes' else 'no' end as completed_training,
        e.release_type,
        e.prison_id as releasing_prison,
        cast(e.cohort_year as varchar) as release_year
    from eligible as e
    inner join programmes as g on g.programme = e.programme
    inner join prior_convictions as pc using (release_id)
    inner join training as t using (release_id)
)

select * from described
