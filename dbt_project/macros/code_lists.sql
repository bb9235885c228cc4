{#- The codes of a list of contract/codes.yml, in its order, for models and tests that need them
    when they are compiled: read from ingest.code_lists, where the ingestion stores the
    contract's lists. Nothing in dbt restates a list. While dbt parses (no database), the list
    is empty. -#}
{% macro code_values(name) -%}
    {%- if model is mapping and model.get('resource_type') == 'unit_test' -%}
        {#- A unit test resolves only its model's given inputs, not this source: the table of
            source('ingest', 'code_lists') in the work database. -#}
        {%- set relation = api.Relation.create(
            database=target.database, schema='ingest', identifier='code_lists') -%}
    {%- else -%}
        {%- set relation = source('ingest', 'code_lists') -%}
    {%- endif -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select code from " ~ relation ~ " where list = '" ~ name ~ "' order by position") -%}
    {%- set codes = rows.columns[0].values() | list -%}
    {%- if codes | length == 0 -%}
        {{ exceptions.raise_compiler_error("code list '" ~ name ~ "' is not in " ~ relation
            ~ ": contract/codes.yml names every list the models use") }}
    {%- endif -%}
    {{ return(codes) }}
{%- endmacro %}

{#- A code list as a SQL list literal, in its order (integer: the codes unquoted). For
    `x in (...)` write `list_contains({{ code_list('name') }}, x)`. -#}
{% macro code_list(name, type='varchar') -%}
    {%- set codes = code_values(name) -%}
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
