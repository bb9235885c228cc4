{# Age band at release (indicators.md): under 21, 21-24, 25-29, 30-39, 40+. #}
{% macro age_band(age) -%}
    case
        when {{ age }} is null then 'unknown'
        when {{ age }} < 21 then 'under_21'
        when {{ age }} < 25 then '21_24'
        when {{ age }} < 30 then '25_29'
        when {{ age }} < 40 then '30_39'
        else '40_plus'
    end
{%- endmacro %}
