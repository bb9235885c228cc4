{#- Aggregates of a data-quality relation per programme x source x `dimension`, with 'all' rows
    totalling a source, a value of the dimension and the programme. A source's programmes come
    from the registry: a register serving several programmes is counted in each of them.
    `aggregates` are select expressions over the relation (alias f). -#}
{% macro rolled_up_by_source(relation, dimension, aggregates) %}
select
    s.programme,
    case when grouping(f.source_id) = 1 then 'all' else f.source_id end as source_id,
    case when grouping(f.{{ dimension }}) = 1 then 'all' else f.{{ dimension }} end
        as {{ dimension }},
    {{ aggregates | join(',\n    ') }}
from {{ relation }} f
join (
    select source_id, unnest(programmes) as programme from {{ ref('stg_ingest__sources') }}
) s using (source_id)
group by grouping sets (
    (s.programme, f.source_id, f.{{ dimension }}), (s.programme, f.{{ dimension }}),
    (s.programme, f.source_id), (s.programme)
)
{% endmacro %}
