{#- The project's own generic tests (no dbt packages can be installed here). Each returns the
    rows that break the rule; dbt counts them (and never shows them in run_results.json). -#}

{#- No two rows share these columns: the grain of a table. columns_of names a code list of
    column names (such as `breakdown`) whose columns join the grain. -#}
{% test unique_combination(model, columns, columns_of=none) %}
{%- set columns = columns + (code_values(columns_of) if columns_of else []) -%}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every non-null value lies in [min_value, max_value]; either bound may be left out. -#}
{% test between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {% if min_value is not none %}{{ column_name }} < {{ min_value }}{% else %}false{% endif %}
   or {% if max_value is not none %}{{ column_name }} > {{ max_value }}{% else %}false{% endif %}
{% endtest %}

{#- An estimate lies inside its interval: low <= value <= high (where all three are known), with
    a tolerance of 1e-12 (Wilson limits at k = 0 and Kaplan-Meier products step over the estimate
    by a few ulps). -#}
{% test inside_interval(model, column_name, low, high) %}
select {{ column_name }}, {{ low }}, {{ high }}
from {{ model }}
where {{ low }} > {{ column_name }} + 1e-12 or {{ column_name }} > {{ high }} + 1e-12
{% endtest %}

{#- Counts nest: column <= other (+ tolerance) on every row where both are known. -#}
{% test not_greater_than(model, column_name, other, tolerance=0) %}
select {{ column_name }}, {{ other }}
from {{ model }}
where {{ column_name }} > {{ other }} + {{ tolerance }}
{% endtest %}

{#- Every non-null value matches the regular expression as a whole. -#}
{% test matches_pattern(model, column_name, pattern) %}
select {{ column_name }}
from {{ model }}
where not regexp_full_match({{ column_name }}, '{{ pattern }}')
{% endtest %}

{#- A condition on the columns of a row holds on every row (a null result passes). -#}
{% test expression_is_true(model, expression) %}
select 1 as broken
from {{ model }}
where not ({{ expression }})
{% endtest %}

{#- The table holds between min_rows and max_rows rows. -#}
{% test row_count_between(model, min_rows, max_rows) %}
select n_rows
from (select count(*) as n_rows from {{ model }})
where n_rows < {{ min_rows }} or n_rows > {{ max_rows }}
{% endtest %}

{#- Totals equal the sum of their parts: the rows with `over` = 'all' against the sum of the
    rows with any other value of `over`, matched on `keys`, with every column of `fixed_all` at
    'all' on both sides. With each_part_of, the parts are summed per value of that column (each
    break-down on its own adds up to the total). A total without parts, or parts without a
    total, fail unless they are zero. fixed_all_of names a code list of column names (such as
    `breakdown`): each of its columns other than `over` is held at 'all' too. -#}
{% test sums_to_total(model, over, keys, measures, fixed_all=[], fixed_all_of=none,
                      each_part_of=none) %}
{%- set fixed_all = fixed_all + (code_values(fixed_all_of) | reject('equalto', over) | list
                                 if fixed_all_of else []) -%}
{%- set part_keys = keys + ([each_part_of] if each_part_of else []) -%}
with base as (
    select * from {{ model }}
    where true {% for column in fixed_all %} and "{{ column }}" = 'all'{% endfor %}
),
totals as (
    select {% for k in keys %}"{{ k }}", {% endfor %}
        {% for m in measures %}"{{ m }}"{{ ", " if not loop.last }}{% endfor %}
    from base where "{{ over }}" = 'all'
),
parts as (
    select {% for k in part_keys %}"{{ k }}", {% endfor %}
        {% for m in measures %}sum("{{ m }}") as "{{ m }}"{{ ", " if not loop.last }}{% endfor %}
    from base where "{{ over }}" is distinct from 'all'
    group by {% for k in part_keys %}"{{ k }}"{{ ", " if not loop.last }}{% endfor %}
)
select {% for k in keys %}coalesce(t."{{ k }}", p."{{ k }}") as "{{ k }}", {% endfor %}
    {% for m in measures %}t."{{ m }}" as "{{ m }}_total", p."{{ m }}" as "{{ m }}_sum_of_parts"
    {{- ", " if not loop.last }}{% endfor %}
from totals t
full join parts p on {% for k in keys %}t."{{ k }}" is not distinct from p."{{ k }}" and {% endfor %}true
where {% for m in measures %}coalesce(cast(t."{{ m }}" as double), 0)
    <> coalesce(cast(p."{{ m }}" as double), 0){{ " or " if not loop.last }}{% endfor %}
{% endtest %}

{#- A step function never rises: within each partition, ordered by order_by, no value exceeds the
    one before it by more than the tolerance. -#}
{% test non_increasing(model, column_name, partition_by, order_by, tolerance=0) %}
select *
from (
    select {{ column_name }} as value,
        lag({{ column_name }}) over (
            partition by {{ partition_by | join(', ') }} order by {{ order_by }}
        ) as previous_value
    from {{ model }}
)
where value > previous_value + {{ tolerance }}
{% endtest %}

{#- Within each group the smallest value of the column is `value` (e.g. every curve has a row at
    day 0). -#}
{% test group_minimum(model, column_name, group_by, value) %}
select {{ group_by | join(', ') }}, min({{ column_name }}) as minimum
from {{ model }}
group by {{ group_by | join(', ') }}
having min({{ column_name }}) <> {{ value }}
{% endtest %}
