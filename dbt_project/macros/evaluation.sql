{#- A number as text in a verdict: fixed decimals, the language's decimal mark, a true minus. -#}
{% macro verdict_number(x, decimals, decimal_mark) -%}
    replace(replace(printf('%.{{ decimals }}f', {{ x }}), '-', '−'), '.', {{ decimal_mark }})
{%- endmacro %}

{#- A phrase with its {placeholders} filled: mapping is placeholder -> SQL expression. -#}
{% macro fill_phrase(phrase, mapping) -%}
    {%- set ns = namespace(sql=phrase) -%}
    {%- for key, value in mapping.items() -%}
        {%- set ns.sql = "replace(" ~ ns.sql ~ ", '{" ~ key ~ "}', coalesce("
            ~ value ~ ", '–'))" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}
