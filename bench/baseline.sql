-- The physical limit: one hand-written DuckDB script over the reference-layout CSVs of a
-- landing folder, computing the headline 24-month reconviction rates (participants and
-- comparison per programme) directly. No quarantine, no pseudonyms, no history, no spell
-- stitching, no tests: what an analyst with DuckDB would write in an afternoon.
-- Variables: landing (folder), sources (CSV of id, kind, programme and the programme's
-- period_start, period_end from sources.yml).

create temp table sources as select * from read_csv(getvariable('sources'));

-- The newest delivery of every record wins (file names carry the export date).
-- Names folded as exports.md says (case, umlauts, accents, spaces and punctuation).
create temp macro fold(name) as
    regexp_replace(upper(strip_accents(replace(replace(replace(replace(lower(name),
        'ä', 'ae'), 'ö', 'oe'), 'ü', 'ue'), 'ß', 'ss'))), '[^A-Z0-9]', '', 'g');
create temp macro person(family, given, birth) as
    fold(family) || '|' || fold(given) || '|' || birth;

-- Every delivery of an entity, with its source (the folder) and export date (the file name).
create temp macro deliveries(entity) as table
    select d.*, split_part(filename, '/', -2) as source_id,
           regexp_extract(filename, '(\d{4}-\d{2}-\d{2})', 1) as export_date,
           -- Breaks ties (a key twice in one file) the same way on every run.
           md5(d::varchar) as row_hash
    from read_csv(getvariable('landing') || '/*/' || entity || '.*.csv', filename = true,
                  all_varchar = true, ignore_errors = true) d;

create temp table inmates as
select source_id, inmate_id, person(family_name, given_name, birth_date) as person
from deliveries('inmates')
qualify row_number() over (partition by source_id, inmate_id order by export_date desc, row_hash) = 1;

create temp table episodes as
select * from deliveries('custody_episodes')
qualify row_number() over (partition by source_id, episode_id order by export_date desc, row_hash) = 1;

create temp table register as
select person(family_name, given_name, birth_date) as person,
       try_cast(offence_date as date) as offence_date,
       try_cast(decision_date as date) as decision_date,
       source_id, export_date
from deliveries('register_entries')
where decision_type = 'conviction'
qualify row_number() over (partition by source_id, entry_id order by export_date desc, row_hash) = 1;

set variable as_of = (select max(export_date)::date from register);

create temp table participants as
select person(family_name, given_name, birth_date) as person,
       try_cast(intake_date as date) as intake_date, s.programme
from (
    select * from deliveries('participants')
    qualify row_number() over (partition by source_id, client_id order by export_date desc, row_hash) = 1
) p
join sources s on s.id = p.source_id
where selection = 'accepted' and consent = 'yes';

create temp table releases as
select i.person, s.programme,
       try_cast(e.admission_date as date) as admission_date,
       try_cast(e.release_date as date) as release_date
from episodes e
join inmates i using (source_id, inmate_id)
join sources s on s.id = e.source_id
where e.release_type in ('end_of_sentence', 'parole', 'early_release')
  and try_cast(e.release_date as date) between s.period_start and s.period_end
-- The index release: a person's first release of a year.
qualify row_number() over (partition by i.person, year(try_cast(e.release_date as date))
                           order by try_cast(e.release_date as date), e.admission_date,
                                    e.source_id, e.episode_id) = 1;

create temp table evaluated as
with followed as (
    select row_number() over () as release, *
    from releases
    where release_date + interval 30 month <= getvariable('as_of')
),
participating as (
    select distinct f.release
    from followed f
    join participants p on p.person = f.person and p.programme = f.programme
    where p.intake_date between f.admission_date and f.release_date + interval 90 day
),
reconvicted as (
    select distinct f.release
    from followed f
    join register g on g.person = f.person
    where g.offence_date between f.release_date and f.release_date + interval 24 month
      and g.decision_date <= getvariable('as_of')
)
select f.*, p.release is not null as is_participant, e.release is not null as has_event
from followed f
left join participating p using (release)
left join reconvicted e using (release);

select programme,
       case when is_participant then 'participant' else 'comparison' end as "group",
       count(*) as n_full_follow_up,
       count(*) filter (where has_event) as n_events,
       count(*) filter (where has_event) / count(*) as rate
from evaluated
group by all
order by all;
