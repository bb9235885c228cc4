-- Balance of the evaluation's comparison (indicators.md, Diagnostics): per programme x
-- covariate level x stage (before adjustment, after matching, after weighting) the means in
-- both groups and the standardised mean difference, flagged above the threshold. A
-- categorical covariate has one row per level (the share with that level); a continuous one
-- one row with an empty level. The SMD's denominator is always the pooled standard deviation
-- before adjustment (reentry/evaluation/balance.py).
with balance as (select * from {{ ref('int_covariate_balance') }})

select
    programme,
    covariate,
    level,
    stage,
    mean_participants,
    mean_comparison,
    smd,
    coalesce(abs(smd) > {{ var('smd_threshold') }}, false) as is_imbalanced
from balance
