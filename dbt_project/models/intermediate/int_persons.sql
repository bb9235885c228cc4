-- One row per person known to a prison: sex, birth year and nationality as most prisons
-- record them.
with inmates as (select * from {{ ref('stg_prison__inmates') }}),

votes as (
    select
        person_key,
        -- 'u' (unknown) only where no prison knows better.
        mode(sex) filter (where sex <> 'u') as known_sex,
        mode(birth_year) as birth_year,
        -- Empty where no prison knows it (exports.md: empty if unknown).
        mode(nationality) filter (where nationality is not null) as nationality,
        count(distinct prison_id) as n_prisons
    from inmates
    group by person_key
)

select
    person_key,
    coalesce(known_sex, 'u') as sex,
    birth_year,
    nationality,
    n_prisons
from votes
