-- The programme indicators (indicators.md) per programme x period (release cohort: 'all',
-- year or quarter) x break-down (prison, partner, sex, age band; 'all' = total), long form:
-- indicator, numerator, denominator, value, with a Wilson interval for shares. Placement
-- retention at 30/90/180 days (Kaplan-Meier) is read off placement_retention.
with facts as (select * from {{ ref('int_indicator_facts') }}),

retention as (select * from {{ ref('placement_retention') }}),

periods as (
    select *, 'all' as period_type, 'all' as period from facts
    union all
    select *, 'year', cast(cohort_year as varchar) from facts
    union all
    select *, 'quarter', cohort_quarter from facts
),

aggregated as (
    select
        programme,
        period_type,
        period,
        case when grouping(prison_id) = 1 then 'all' else prison_id end as prison_id,
        case when grouping(partner_id) = 1 then 'all' else partner_id end as partner_id,
        case when grouping(sex) = 1 then 'all' else sex end as sex,
        case when grouping(age_band) = 1 then 'all' else age_band end as age_band,
        grouping(partner_id) = 0 and partner_id is null as is_without_partner,
        indicator,
        kind,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        median(value) as median_value,
        count(*) as n_units
    from periods
    group by grouping sets (
        (programme, period_type, period, indicator, kind),
        (programme, period_type, period, indicator, kind, prison_id),
        (programme, period_type, period, indicator, kind, partner_id),
        (programme, period_type, period, indicator, kind, sex),
        (programme, period_type, period, indicator, kind, age_band)
    )
),

valued as (
    select
        programme, period_type, period, prison_id, partner_id, sex, age_band, indicator, kind,
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
        null::double as numerator,
        cast(arg_max(r.n_at_risk, r.day) as double) as denominator,
        cast(arg_min(r.n_at_risk, r.day) as integer) as n_units,
        arg_max(r.survival, r.day) as value,
        arg_max(r.ci_low, r.day) as ci_low,
        arg_max(r.ci_high, r.day) as ci_high
    from retention r
    cross join (select unnest([30, 90, 180]) as days) n
    where r.placement_type = 'all' and r.day <= n.days
    group by all
)

select * from valued
union all
select * from retention_at
