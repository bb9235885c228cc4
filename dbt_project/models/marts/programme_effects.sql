-- The programme's effect on its participants (indicators.md, Programme effect): per
-- programme x cohort ('all' and release years) x estimator x measure x outcome x window (the
-- code lists effect_estimator, measure, effect_outcome, follow_up_months). Estimates and
-- bootstrap intervals come from int_effect_estimates (reentry/evaluation/effects.py); here they
-- get a verdict code from fixed rules and the verdict in words in each of the programme's
-- languages (seed verdict_phrases).
-- Verdict rules: raw rows are descriptive; an effect below the minimum n or without any
-- comparable non-participant is not estimated; otherwise the 95 % interval of the
-- difference decides: below 0 fewer, above 0 more, else no clear difference. Balance (the
-- programme's covariate_balance after the estimator's adjustment) and the E-value follow.
-- The participants' events (rate rows: exact, participants are not weighted) and the
-- participants before matching and without a match are the counts disclosure control protects.
{#- A verdict on an estimate (fewer, more or no clear difference): balance and E-value. -#}
{%- set estimated = "c.estimator <> 'raw' and c.is_estimated is not false" %}
with estimates as (select * from {{ ref('int_effect_estimates') }}),

programmes as (select * from {{ ref('stg_ingest__programmes') }}),

phrases as (select * from {{ ref('verdict_phrases') }}),

balance as (
    select
        programme,
        stage,
        count(*) filter (where abs(smd) > {{ var('smd_threshold') }}) as n_imbalanced
    from {{ ref('int_covariate_balance') }}
    group by all
),

coded as (
    select
        e.*,
        case
            when e.estimator = 'raw' then 'descriptive'
            when not e.is_estimated then 'not_estimated_' || e.not_estimated_reason
            when e.difference_ci_high < 0 then 'fewer'
            when e.difference_ci_low > 0 then 'more'
            else 'no_clear_difference'
        end as verdict,
        coalesce(b.n_imbalanced, 0) as n_imbalanced_characteristics
    from estimates as e
    left join balance as b on b.programme = e.programme and b.stage = e.estimator
),

languages as (
    select
        programme, unnest(languages) as language,
        unnest(generate_series(1, len(languages))) as language_rank
    from programmes
),

composed as (
    select
        c.programme, c.cohort, c.estimator, c.measure, c.outcome, c.window_months,
        l.language,
        l.language_rank,
        concat_ws(
            ' ',
            {{ fill_phrase('main.phrase', {
                'window': 'cast(c.window_months as varchar)',
                'measure': 'm.phrase',
                'rate_p': "case when c.outcome = 'rate' then " ~ verdict_number('100 * c.rate_participants', 1, 'd.phrase') ~ " || ' %' else " ~ verdict_number('c.rate_participants', 2, 'd.phrase') ~ " end",
                'rate_c': "case when c.outcome = 'rate' then " ~ verdict_number('100 * c.rate_comparison', 1, 'd.phrase') ~ " || ' %' else " ~ verdict_number('c.rate_comparison', 2, 'd.phrase') ~ " end",
                'difference': verdict_number('100 * (c.rate_participants - c.rate_comparison)', 1, 'd.phrase'),
                'ci_low': verdict_number('100 * c.difference_ci_low', 1, 'd.phrase'),
                'ci_high': verdict_number('100 * c.difference_ci_high', 1, 'd.phrase'),
                'ratio': verdict_number('c.risk_ratio', 2, 'd.phrase'),
                'ratio_low': verdict_number('c.risk_ratio_ci_low', 2, 'd.phrase'),
                'ratio_high': verdict_number('c.risk_ratio_ci_high', 2, 'd.phrase'),
                'n_participants': 'cast(c.n_participants as varchar)',
                'min_participants': "'" ~ var('min_participants') ~ "'",
            }) }},
            case when {{ estimated }} then
                {{ fill_phrase('bal.phrase', {
                    'n_characteristics': 'cast(c.n_characteristics as varchar)',
                    'n_imbalanced': 'cast(c.n_imbalanced_characteristics as varchar)',
                }) }}
            end,
            case when {{ estimated }} then
                {{ fill_phrase('ev.phrase', {
                    'e_value': verdict_number('c.e_value', 2, 'd.phrase'),
                    'e_value_ci': verdict_number('c.e_value_ci', 2, 'd.phrase'),
                }) }}
            end
        ) as verdict_text
    from coded as c
    inner join languages as l using (programme)
    left join phrases as main
        on main.language = l.language
        and main.phrase_key = case when c.verdict like 'not_estimated%' then c.verdict
            else c.outcome || '.' || c.verdict
        end
    left join phrases as m on m.language = l.language and m.phrase_key = 'measure.' || c.measure
    left join phrases as d on d.language = l.language and d.phrase_key = 'format.decimal'
    left join phrases as bal
        on bal.language = l.language
        and bal.phrase_key = case when c.n_imbalanced_characteristics = 0 then 'balance.balanced'
            else 'balance.imbalanced'
        end
    left join phrases as ev on ev.language = l.language and ev.phrase_key = 'evalue'
),

texts as (
    select
        programme, cohort, estimator, measure, outcome, window_months,
        map_from_entries(list(
            struct_pack(k := language, v := verdict_text)
            order by language_rank
        )) as verdict_texts,
        arg_min(verdict_text, language_rank) as verdict_text
    from composed
    group by all
),

-- The participants with full follow-up of each cohort x measure x outcome x window before
-- matching (the weighted rows count every one of them) and how many of them the matching kept.
followed as (
    select
        programme, cohort, measure, outcome, window_months,
        max(n_participants) filter (where estimator = 'weighted') as n_before_matching,
        max(n_participants) filter (where estimator = 'matched') as n_matched
    from coded
    group by all
)

select
    c.programme,
    c.cohort,
    c.estimator,
    c.measure,
    c.outcome,
    cast(c.window_months as integer) as window_months,
    cast(c.n_participants as integer) as n_participants,
    cast(c.n_comparison as integer) as n_comparison,
    cast(c.n_participants_unmatched as integer) as n_participants_unmatched,
    cast(g.n_before_matching as integer) as n_participants_before_matching,
    cast(g.n_before_matching - g.n_matched as integer) as n_participants_without_match,
    cast(
        case when c.outcome = 'rate' then round(c.rate_participants * c.n_participants) end
        as integer
    ) as n_events_participants,
    c.effective_n_comparison,
    c.rate_participants,
    c.rate_comparison,
    c.difference,
    c.difference_ci_low,
    c.difference_ci_high,
    c.risk_ratio,
    c.risk_ratio_ci_low,
    c.risk_ratio_ci_high,
    c.e_value,
    c.e_value_ci,
    c.is_estimated,
    c.verdict,
    t.verdict_text,
    t.verdict_texts,
    cast(c.n_characteristics as integer) as n_characteristics,
    cast(c.n_imbalanced_characteristics as integer) as n_imbalanced_characteristics,
    cast(c.n_replicates as integer) as n_replicates
from coded as c
left join texts as t using (programme, cohort, estimator, measure, outcome, window_months)
left join followed as g using (programme, cohort, measure, outcome, window_months)
