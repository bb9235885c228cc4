{#- Every non-null value is a code of the named list of contract/codes.yml (stored by the
    ingestion in ingest.code_lists), or one of `also` (such as 'all' on a total row). The lists
    are defined once, in the contract; no model or test restates them. -#}
{% test accepted_codes(model, column_name, list, also=[]) %}
select {{ column_name }} as value
from {{ model }}
where {{ column_name }} is not null
  and cast({{ column_name }} as varchar) not in (
      select code from {{ source('ingest', 'code_lists') }} where list = '{{ list }}'
      {%- for value in also %} union all select '{{ value }}'{% endfor %}
  )
{% endtest %}
