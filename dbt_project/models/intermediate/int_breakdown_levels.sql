-- The level each release is counted under in the aggregate marts' break-downs by sex and age
-- band, per programme (statistical recoding before disclosure control). A level listed in the
-- seed breakdown_folds is folded into its neighbour when either group of the programme
-- (participants, comparison) has fewer than var('min_category_releases') index releases of it
-- in the programme period: a category that small would be suppressed in every cell and take a
-- larger one (women, say) down with it. Levels not folded count as themselves.
with releases as (
    select * from {{ ref('int_releases_joined_to_participation') }}
    where is_index_year and is_programme_period
),

folds as (select * from {{ ref('breakdown_folds') }}),

levels as (
    select programme, 'sex' as dimension, sex as level, is_participant from releases
    union all
    select programme, 'age_band', age_band, is_participant from releases
),

-- The alias g names the column of the values list (AL05 takes it for unused).
groups as (select * from (values (true), (false)) as g (is_participant)),  -- noqa: AL05

programme_levels as (select distinct programme, dimension, level from levels),

counted as (
    select
        pl.programme, pl.dimension, pl.level, g.is_participant,
        count(l.level) as n_releases
    from programme_levels as pl
    cross join groups as g
    left join levels as l
        on l.programme = pl.programme and l.dimension = pl.dimension
        and l.level = pl.level and l.is_participant = g.is_participant
    group by all
),

smallest as (
    select programme, dimension, level, min(n_releases) as n_smallest_group
    from counted
    group by all
)

select
    s.programme,
    s.dimension,
    s.level,
    coalesce(
        f.fold_into is not null
        and s.n_smallest_group < {{ var('min_category_releases') }}, false
    ) as is_folded,
    case when f.fold_into is not null
            and s.n_smallest_group < {{ var('min_category_releases') }}
            then f.fold_into
        else s.level
    end as published_level
from smallest as s
left join folds as f on f.dimension = s.dimension and f.level = s.level
