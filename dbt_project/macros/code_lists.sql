{#- A code list of contract/codes.yml as a SQL list literal, in its order, for models that
    need it when they are compiled (the measures, the follow-up windows): read from
    ingest.code_lists, where the ingestion stores the contract's lists. Nothing in dbt restates
    a list. While dbt parses (no database), the list is empty. -#}
{% macro code_list(name, type='varchar') -%}
    {%- set relation = source('ingest', 'code_lists') -%}
    {%- if execute -%}
        {%- set rows = run_query(
            "select code from " ~ relation ~ " where list = '" ~ name ~ "' order by position") -%}
        {%- set codes = rows.columns[0].values() | list -%}
        {%- if codes | length == 0 -%}
            {{ exceptions.raise_compiler_error("code list '" ~ name ~ "' is not in " ~ relation
                ~ ": contract/codes.yml names every list the models use") }}
        {%- endif -%}
    {%- else -%}
        {%- set codes = [] -%}
    {%- endif -%}
    {%- if type == 'integer' -%}
        [{{ codes | join(', ') }}]
    {%- else -%}
        [{% for code in codes %}'{{ code }}'{{ ', ' if not loop.last }}{% endfor %}]
    {%- endif -%}
{%- endmacro %}

{#- The measures of indicators.md and the follow-up windows in months, in display order (unit
    tests override these two to keep their grids small). -#}
{% macro recidivism_measures() -%}{{ code_list('measure') }}{%- endmacro %}

{% macro follow_up_windows() -%}{{ code_list('follow_up_months', 'integer') }}{%- endmacro %}
