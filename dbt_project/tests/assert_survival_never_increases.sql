-- A Kaplan-Meier curve never rises from one day to the next.
select *
from (
    select
        programme, cohort, "group", measure, day, survival,
        lag(survival) over (partition by programme, cohort, "group", measure order by day)
            as previous_survival
    from {{ ref('survival') }}
)
where survival > previous_survival + 1e-12
