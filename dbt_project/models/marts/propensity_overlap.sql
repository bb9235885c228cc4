-- Overlap of the propensity scores (indicators.md, Diagnostics: common support): per
-- programme x group x score bin (twenty bins of 0.05), the releases of the evaluation
-- population and, for participants, how many found a match. Every bin of both groups is
-- present (zeros included), so the table shows where one group has no counterpart; bin 'all'
-- is the group's total (score 0 to 1). An aggregate: dashboards pass it through disclosure
-- control like every table.
with scores as (select * from {{ ref('int_effect_scores') }}),

bins as (
    select unnest(generate_series(0, 19)) as score_bin
),

groups as (
    select distinct s.programme, g.group_name
    from scores as s
    cross join (select unnest({{ code_list('group') }}) as group_name) as g
),

counted as (
    select
        programme,
        case when is_participant then 'participant' else 'comparison' end as group_name,
        least(cast(floor(propensity_score * 20) as integer), 19) as score_bin,
        count(*) as n_releases,
        count(*) filter (where is_matched) as n_matched
    from scores
    group by all
),

binned as (
    select
        g.programme,
        g.group_name,
        b.score_bin,
        coalesce(c.n_releases, 0) as n_releases,
        case when g.group_name = 'participant' then coalesce(c.n_matched, 0) end as n_matched
    from groups as g
    cross join bins as b
    left join counted as c
        on c.programme = g.programme and c.group_name = g.group_name and c.score_bin = b.score_bin
),

aggregated as (
    select
        programme,
        group_name,
        case when grouping(score_bin) = 1 then 'all' else cast(score_bin as varchar) end
            as score_bin,
        case when grouping(score_bin) = 1 then 0 else min(score_bin) / 20.0 end as score_low,
        case when grouping(score_bin) = 1 then 1 else (min(score_bin) + 1) / 20.0 end
            as score_high,
        sum(n_releases) as n_releases,
        sum(n_matched) as n_matched
    from binned
    group by grouping sets ((programme, group_name, score_bin), (programme, group_name))
)

select
    programme,
    group_name as "group",
    score_bin,
    cast(score_low as double) as score_low,
    cast(score_high as double) as score_high,
    cast(n_releases as integer) as n_releases,
    cast(n_matched as integer) as n_matched
from aggregated
