-- The recidivism outcomes of every release (int_recidivism_outcomes), published.
select * from {{ ref('int_recidivism_outcomes') }}
