{#- Interval estimates used by the marts. z = 1.959963984540054 for 95 %. -#}

{#- Wilson score interval for a proportion k / n (indicators.md: rates). -#}
{#- Clamped to [0, 1]: at k = 0 or k = n the exact limit is 0 or 1, rounding can step over. -#}
{% macro wilson_low(k, n, z=1.959963984540054) -%}
    case when {{ n }} > 0 and {{ k }} = 0 then 0.0
         when {{ n }} > 0 then greatest(0.0,
        ((cast({{ k }} as double) / {{ n }}) + {{ z }} ^ 2 / (2 * {{ n }})
         - {{ z }} * sqrt((cast({{ k }} as double) / {{ n }}) * (1 - cast({{ k }} as double) / {{ n }})
                          / {{ n }} + {{ z }} ^ 2 / (4 * {{ n }} ^ 2)))
        / (1 + {{ z }} ^ 2 / {{ n }}))
    end
{%- endmacro %}

{% macro wilson_high(k, n, z=1.959963984540054) -%}
    case when {{ n }} > 0 and {{ k }} = {{ n }} then 1.0
         when {{ n }} > 0 then least(1.0,
        ((cast({{ k }} as double) / {{ n }}) + {{ z }} ^ 2 / (2 * {{ n }})
         + {{ z }} * sqrt((cast({{ k }} as double) / {{ n }}) * (1 - cast({{ k }} as double) / {{ n }})
                          / {{ n }} + {{ z }} ^ 2 / (4 * {{ n }} ^ 2)))
        / (1 + {{ z }} ^ 2 / {{ n }}))
    end
{%- endmacro %}

{#- Newcombe's hybrid score interval for p1 - p2 (method 10), from the Wilson limits. -#}
{% macro newcombe_low(p1, l1, u1, p2, l2, u2) -%}
    ({{ p1 }} - {{ p2 }}) - sqrt(({{ p1 }} - {{ l1 }}) ^ 2 + ({{ u2 }} - {{ p2 }}) ^ 2)
{%- endmacro %}

{% macro newcombe_high(p1, l1, u1, p2, l2, u2) -%}
    ({{ p1 }} - {{ p2 }}) + sqrt(({{ u1 }} - {{ p1 }}) ^ 2 + ({{ p2 }} - {{ l2 }}) ^ 2)
{%- endmacro %}

{#- A rate k / n as double, null where n = 0. -#}
{% macro rate(k, n) -%}
    case when {{ n }} > 0 then cast({{ k }} as double) / {{ n }} end
{%- endmacro %}

{#- A share k / n with its Wilson interval: three select targets, named `share`, `low` and
    `high` (indicators.md: every published share carries its 95 % interval). -#}
{% macro share_with_interval(k, n, share='share', low='ci_low', high='ci_high') -%}
    {{ rate(k, n) }} as {{ share }},
    {{ wilson_low(k, n) }} as {{ low }},
    {{ wilson_high(k, n) }} as {{ high }}
{%- endmacro %}

{#- A sum of doubles that does not depend on the order of its terms: each term as an exact
    decimal, the sum exact, then a double (a plain parallel sum rounds in another order on
    every run; reentry.evaluation.survival.exact_sum is the same for the Cox model's cells).
    `where` keeps only the terms where it holds (as a filter would; the others are not even
    computed, so a division by zero there does no harm). -#}
{% macro exact_sum(expression, where=none) -%}
    {%- if where %}
    cast(sum(cast(case when {{ where }} then {{ expression }} end as decimal(38, 18))) as double)
    {%- else %}
    cast(sum(cast({{ expression }} as decimal(38, 18))) as double)
    {%- endif %}
{%- endmacro %}
