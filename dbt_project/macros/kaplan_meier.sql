{#-
  Kaplan-Meier curves from a relation of (partition columns..., day, is_event), one row per
  subject: per curve and day, the number at risk, events, censorings, the survival estimate
  and Greenwood 95 % bands on the log(-log) scale (as lifelines computes them). Censored
  subjects are at risk on their day. Every curve has a row at day 0.
-#}
{% macro kaplan_meier(subjects, partition_by) -%}
{%- set keys = partition_by | join(', ') -%}
(
    with km_by_day as (
        select {{ keys }}, day,
               count(*) filter (where is_event) as n_events,
               count(*) filter (where is_event = false) as n_censored
        from (
            select {{ keys }}, day, is_event from {{ subjects }}
            union all
            select distinct {{ keys }}, 0 as day, null as is_event from {{ subjects }}
        )
        group by all
    ),

    km_at_risk as (
        select *,
               sum(n_events + n_censored) over (
                   partition by {{ keys }} order by day desc rows unbounded preceding
               ) as n_at_risk
        from km_by_day
    ),

    km_estimated as (
        select *,
               -- A day on which everyone at risk has the event ends the curve at 0.
               case
                   when max((n_events = n_at_risk and n_events > 0)::int) over km_curve = 1
                       then 0.0
                   -- (ln(0) is an error: that day is the case above)
                   else exp(sum(case when n_events > 0 and n_events < n_at_risk
                                         then ln(1 - n_events / n_at_risk)
                                     else 0 end) over km_curve)
               end as survival,
               sum(case when n_at_risk > n_events
                        then n_events / (n_at_risk * (n_at_risk - n_events)) else 0 end)
                   over km_curve as greenwood_sum
        from km_at_risk
        window km_curve as (partition by {{ keys }} order by day rows unbounded preceding)
    )

    select
        {{ keys }},
        cast(day as integer) as day,
        cast(n_at_risk as integer) as n_at_risk,
        cast(n_events as integer) as n_events,
        cast(n_censored as integer) as n_censored,
        survival,
        case when survival > 0 and survival < 1
             then exp(-exp(ln(-ln(survival))
                           - 1.959963984540054 * sqrt(greenwood_sum) / ln(survival)))
             else survival end as ci_low,
        case when survival > 0 and survival < 1
             then exp(-exp(ln(-ln(survival))
                           + 1.959963984540054 * sqrt(greenwood_sum) / ln(survival)))
             else survival end as ci_high
    from km_estimated
    where n_at_risk > 0
)
{%- endmacro %}
