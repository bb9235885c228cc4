-- Participants minus comparison per programme x cohort x window x measure (indicators.md),
-- descriptive and not the programme's effect (that is programme_effects):
-- the raw difference with a Newcombe 95 % interval, and the comparison rate standardised
-- (directly) to the participants' mix of sex, age band and prior spells (banded: the list
-- prior_spells_band).
-- Only releases with full follow-up enter; strata without comparison releases are left out
-- of both sides of the standardised difference (standardisation_coverage says how much).
with releases as (select * from {{ ref('int_index_releases') }}),

recidivism as (select * from {{ ref('int_recidivism_outcomes') }}),

base as (
    select
        r.programme, r.cohort, r.sex, r.age_band, r.prior_spells_band, r.is_participant,
        x.window_months, x.measure, x.has_event
    from recidivism as x
    inner join releases as r using (release_id)
    where x.has_full_follow_up
),

strata as (
    select
        programme,
        case when grouping(cohort) = 1 then 'all' else cohort end as cohort,
        window_months,
        measure,
        sex,
        age_band,
        prior_spells_band,
        count(*) filter (where is_participant) as n_p,
        count(*) filter (where is_participant and has_event) as k_p,
        count(*) filter (where not is_participant) as n_c,
        count(*) filter (where not is_participant and has_event) as k_c
    from base
    group by grouping sets (
        (programme, window_months, measure, sex, age_band, prior_spells_band, cohort),
        (programme, window_months, measure, sex, age_band, prior_spells_band)
    )
),

totals as (
    select
        programme,
        cohort,
        window_months,
        measure,
        sum(n_p) as n_p,
        sum(k_p) as k_p,
        sum(n_c) as n_c,
        sum(k_c) as k_c,
        sum(n_p) filter (where n_c > 0) as n_p_covered,
        sum(k_p) filter (where n_c > 0) as k_p_covered,
        {{ exact_sum('n_p * k_c / n_c', where='n_c > 0') }} as weighted_events,
        {{ exact_sum('n_p ^ 2 * (k_c / n_c) * (1 - k_c / n_c) / n_c', where='n_c > 0') }}
            as weighted_variance
    from strata
    group by all
),

rates as (
    select
        *,
        {{ share_with_interval('k_p', 'n_p', 'p_p', 'l_p', 'u_p') }},
        {{ share_with_interval('k_c', 'n_c', 'p_c', 'l_c', 'u_c') }},
        {{ rate('k_p_covered', 'n_p_covered') }} as p_p_covered,
        -- No participant in a stratum with comparison releases: nothing to standardise to
        -- (null, not 0/0). A mean of comparison rates is a rate: a sum of floats can step
        -- over 1 by an ulp.
        case when n_p_covered > 0 then least(weighted_events / n_p_covered, 1.0) end as p_adj,
        case when n_p_covered > 0 then weighted_variance / n_p_covered ^ 2 end as var_adj
    from totals
)

select
    programme,
    cohort,
    cast(window_months as integer) as window_months,
    measure,
    cast(n_p as integer) as n_participants,
    cast(k_p as integer) as n_events_participants,
    p_p as rate_participants,
    l_p as ci_low_participants,
    u_p as ci_high_participants,
    cast(n_c as integer) as n_comparison,
    cast(k_c as integer) as n_events_comparison,
    p_c as rate_comparison,
    l_c as ci_low_comparison,
    u_c as ci_high_comparison,
    p_p - p_c as difference,
    {{ newcombe_low('p_p', 'l_p', 'u_p', 'p_c', 'l_c', 'u_c') }} as difference_ci_low,
    {{ newcombe_high('p_p', 'l_p', 'u_p', 'p_c', 'l_c', 'u_c') }} as difference_ci_high,
    p_adj as standardised_rate_comparison,
    case
        when p_adj is not null then greatest(p_adj - 1.959963984540054 * sqrt(var_adj), 0)
    end as standardised_ci_low_comparison,
    case
        when p_adj is not null then least(p_adj + 1.959963984540054 * sqrt(var_adj), 1)
    end as standardised_ci_high_comparison,
    p_p_covered - p_adj as standardised_difference,
    p_p_covered - p_adj - 1.959963984540054
    * sqrt(var_adj + p_p_covered * (1 - p_p_covered) / n_p_covered)
        as standardised_difference_ci_low,
    p_p_covered - p_adj + 1.959963984540054
    * sqrt(var_adj + p_p_covered * (1 - p_p_covered) / n_p_covered)
        as standardised_difference_ci_high,
    {{ rate('n_p_covered', 'n_p') }} as standardisation_coverage
from rates
