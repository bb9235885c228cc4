-- Balance of the evaluation's comparison (indicators.md, Diagnostics): per programme x
-- covariate level x stage (before adjustment, after matching, after weighting) the means in
-- both groups and the standardised mean difference, flagged above the threshold. A
-- categorical covariate has one row per level (the share with that level); a continuous one
-- one row with an empty level. The SMD's denominator is always the pooled standard deviation
-- before adjustment (reentry/evaluation/balance.py). Beside the means, the releases they are
-- over: participants (after matching, those with a match) and comparison releases.
with balance as (select * from {{ ref('int_covariate_balance') }}),

scores as (select * from {{ ref('int_effect_scores') }}),

sizes as (
    select
        programme,
        count(*) filter (where is_participant) as n_participants,
        count(*) filter (where is_participant and is_matched) as n_matched,
        count(*) filter (where not is_participant) as n_comparison
    from scores
    group by programme
)

select
    b.programme,
    b.covariate,
    b.level,
    b.stage,
    b.mean_participants,
    b.mean_comparison,
    b.smd,
    coalesce(abs(b.smd) > {{ var('smd_threshold') }}, false) as is_imbalanced,
    cast(case when b.stage = 'matched' then s.n_matched else s.n_participants end as integer)
        as n_participants,
    cast(case when b.stage <> 'matched' then s.n_comparison end as integer) as n_comparison
from balance as b
left join sizes as s using (programme)
