{#- The project's own generic tests (no dbt packages can be installed here). -#}

{#- No two rows share these columns: the grain of a table. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every non-null value lies in [min_value, max_value]. -#}
{% test between(model, column_name, min_value, max_value) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}

{#- An estimate lies inside its interval: low <= value <= high (where all three are known). -#}
{% test inside_interval(model, column_name, low, high) %}
select {{ column_name }}, {{ low }}, {{ high }}
from {{ model }}
where {{ low }} > {{ column_name }} + 1e-12 or {{ column_name }} > {{ high }} + 1e-12
{% endtest %}

{#- Counts nest: smaller <= larger on every row. -#}
{% test not_greater_than(model, column_name, other) %}
select {{ column_name }}, {{ other }}
from {{ model }}
where {{ column_name }} > {{ other }}
{% endtest %}
