{#- privacy.md: without consent = 'yes' nothing of a client from that partner may reach a mart.
    The rule lives here once; every staging model of partner data applies it. -#}
{% macro consent_given(column='consent') -%}
    coalesce({{ column }} = 'yes', false)
{%- endmacro %}

{#- (partner, client) pairs whose consent is given, from the current participant records. -#}
{% macro consented_clients() -%}
    select _source_id, client_id
    from {{ source('raw', 'participants__current') }}
    where {{ consent_given() }}
{%- endmacro %}
