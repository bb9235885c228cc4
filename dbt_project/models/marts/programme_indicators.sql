-- The programme indicators (indicators.md) per programme x period (release cohort: 'all',
-- year or quarter) x break-down (the code list breakdown; 'all' = total), long form:
-- indicator, numerator, denominator, value, with a Wilson interval for shares. Placement
-- retention on the days of the code list retention_day (Kaplan-Meier) is read off
-- placement_retention.
{%- set breakdowns = code_values('breakdown') %}
with facts as (select * from {{ ref('int_indicator_facts') }}),

retention as (select * from {{ ref('placement_retention') }}),

periods as (
    -- The arms add the same columns to facts' (sqlfluff cannot count a ref's `*`).
    select *, 'all' as period_type, 'all' as period from facts  -- noqa: AM07
    union all
    select *, 'year', cast(cohort_year as varchar) from facts
    union all
    select *, 'quarter', cohort_quarter from facts
),

-- The loops over the break-downs render one line each: sqlfluff cannot indent them (LT02).
-- noqa: disable=LT02
aggregated as (
    select
        programme,
        period_type,
        period,
        {%- for b in breakdowns %}
        case when grouping({{ b }}) = 1 then 'all' else {{ b }} end as {{ b }},
        {%- endfor %}
        grouping(partner_id) = 0 and partner_id is null as is_without_partner,
        indicator,
        kind,
        sum(numerator) as numerator,
        {{ exact_sum('denominator') }} as denominator,
        median(value) as median_value,
        count(*) as n_units
    from periods
    group by grouping sets (
        (programme, period_type, period, indicator, kind)
        {%- for b in breakdowns %},
        (programme, period_type, period, indicator, kind, {{ b }})
        {%- endfor %}
    )
),
-- noqa: enable=LT02

valued as (
    select
        programme, period_type, period, {{ breakdowns | join(', ') }}, indicator, kind,
        case when kind = 'median' then cast(n_units as double) else numerator end as numerator,
        denominator,
        cast(n_units as integer) as n_units,
        case kind
            when 'count' then numerator
            when 'median' then median_value
            when 'per_100' then 100 * numerator / nullif(denominator, 0)
            else numerator / nullif(denominator, 0)
        end as value,
        case when kind = 'share' then {{ wilson_low('numerator', 'denominator') }} end
            as ci_low,
        case when kind = 'share' then {{ wilson_high('numerator', 'denominator') }} end
            as ci_high
    from aggregated
    -- A partner break-down has no row for the releases without a partner.
    where not is_without_partner
),

retention_at as (
    select
        r.programme,
        'all' as period_type,
        'all' as period,
        'all' as prison_id,
        r.partner_id,
        'all' as sex,
        'all' as age_band,
        'retention_' || n.days || '_days' as indicator,
        'km' as kind,
        cast(null as double) as numerator,
        cast(arg_max(r.n_at_risk, r.day) as double) as denominator,
        cast(arg_min(r.n_at_risk, r.day) as integer) as n_units,
        arg_max(r.survival, r.day) as value,
        arg_max(r.ci_low, r.day) as ci_low,
        arg_max(r.ci_high, r.day) as ci_high
    from retention as r
    cross join (select unnest({{ code_list('retention_day', 'integer') }}) as days) as n
    where r.placement_type = 'all' and r.day <= n.days
    group by all
)

-- valued and retention_rows have the same columns (sqlfluff cannot count `*`).
select * from valued  -- noqa: AM07
union all
select * from retention_at
