{#- Rare levels of sex and age band are counted with a neighbour (int_breakdown_levels): the
    level a release is published under. `join_published_levels` joins the levels of each
    dimension to the releases aliased `releases`; `published_level` is the level to select. -#}
{% macro join_published_levels(releases, dimensions=('sex', 'age_band')) -%}
    {%- for dimension in dimensions %}
    left join {{ ref('int_breakdown_levels') }} as level_{{ dimension }}
        on
            level_{{ dimension }}.programme = {{ releases }}.programme
            and level_{{ dimension }}.dimension = '{{ dimension }}'
            and level_{{ dimension }}.level = {{ releases }}.{{ dimension }}
    {%- endfor %}
{%- endmacro %}

{% macro published_level(releases, dimension) -%}
    coalesce(level_{{ dimension }}.published_level, {{ releases }}.{{ dimension }})
{%- endmacro %}
