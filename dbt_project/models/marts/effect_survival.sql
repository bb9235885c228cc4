-- Time to the first event in the evaluation (indicators.md, Programme effect): per programme
-- x estimator (the list effect_estimator) x measure x group, the Kaplan-Meier curve of staying
-- free of the event with the estimator's weights (participants 1, or 0 when unmatched; the
-- comparison by its match or score weights), the unweighted number at risk, and on every row
-- the hazard ratio of participation from the weighted Cox model with its robust 95 %
-- interval (int_effect_hazard_ratios). A step function with a row at day 0.
with scores as (select * from {{ ref('int_effect_scores') }}),

times as (select * from {{ ref('int_recidivism_time_to_event') }}),

hazard_ratios as (select * from {{ ref('int_effect_hazard_ratios') }}),

weighted as (
    select
        s.programme,
        e.estimator,
        t.measure,
        case when s.is_participant then 'participant' else 'comparison' end as group_name,
        t.day,
        t.is_event,
        case e.estimator when 'matched' then s.weight_matched
            when 'weighted' then s.weight_weighted
            else 1.0
        end as weight
    from times as t
    inner join scores as s using (release_id)
    cross join (select unnest({{ code_list('effect_estimator') }}) as estimator) as e
),

by_day as (
    select
        programme, estimator, measure, group_name, day,
        {{ exact_sum('weight', where='is_event') }} as w_events,
        {{ exact_sum('weight') }} as w_leaving,
        count(*) filter (where is_event and weight > 0) as n_events,
        count(*) filter (where weight > 0) as n_leaving
    from (
        select * from weighted
        where weight > 0
        union all
        select distinct programme, estimator, measure, group_name, 0, null, 0.0
        from weighted
        where weight > 0
    ) as with_day_zero
    group by all
),

at_risk as (
    select
        *,
        sum(w_leaving) over curve_desc as w_at_risk,
        sum(n_leaving) over curve_desc as n_at_risk
    from by_day
    window curve_desc as (
        partition by programme, estimator, measure, group_name
        order by day desc rows unbounded preceding
    )
),

curves as (
    select
        *,
        exp(sum(case when coalesce(w_events, 0) > 0 and w_events < w_at_risk
                then ln(1 - w_events / w_at_risk)
            else 0
        end) over curve) as partial,
        max(case when coalesce(w_events, 0) > 0 and w_events >= w_at_risk then 1 else 0 end)
            over curve as has_ended
    from at_risk
    window curve as (
        partition by programme, estimator, measure, group_name order by day
        rows unbounded preceding
    )
)

select
    c.programme,
    c.estimator,
    c.measure,
    c.group_name as "group",
    cast(c.day as integer) as day,
    cast(c.n_at_risk as integer) as n_at_risk,
    cast(c.n_events as integer) as n_events,
    c.w_at_risk as weighted_at_risk,
    case when c.has_ended = 1 then 0.0 else c.partial end as survival,
    h.hazard_ratio,
    h.hazard_ratio_ci_low,
    h.hazard_ratio_ci_high
from curves as c
left join hazard_ratios as h using (programme, estimator, measure)
where c.n_at_risk > 0
