-- 人员维度: one row per resolved person, from the dedupe gate's golden records.
with persons as (
    select * from {{ ref('stg_persons') }}
),

divisions as (
    select * from {{ ref('int_divisions__districts') }}
),

final as (
    select
        persons.person_key,
        persons.id_number,
        persons.name,
        persons.sex,
        persons.birth_date,
        persons.hukou_division_code,
        coalesce(divisions.district_code, {{ district_of('persons.hukou_division_code') }})
            as hukou_district_code,
        persons.is_alive,
        persons.death_date,
        persons.death_date_source,
        persons.source_feeds,
        persons.first_seen,
        persons.last_seen,
        persons.in_hukou,
        persons.hukou_status
    from persons
    left join divisions on divisions.division_code = persons.hukou_division_code
)

select * from final
