-- One row: the run's as-of date and follow-up rules, joined by every model that needs them.
-- The as-of date is the var `as_of`, else the newest export date of a register (indicators.md).
with files as (select * from {{ ref('stg_ingest__files') }}),

sources as (select * from {{ ref('stg_ingest__sources') }}),

-- Read when var('as_of') is empty (sqlfluff renders the other branch).
newest_register_export as (  -- noqa: ST03
    select max(f.export_date) as export_date
    from files as f
    inner join sources as s using (source_id)
    where s.kind = 'register' and f.status = 'loaded'
)

select
    {% if var('as_of') %}
        cast('{{ var("as_of") }}' as date) as as_of_date,
    {% else %}
        (select export_date from newest_register_export) as as_of_date,
    {% endif %}
    cast({{ var('register_lag_months') }} as integer) as register_lag_months,
    cast({{ var('reincarceration_lag_months') }} as integer) as reincarceration_lag_months
