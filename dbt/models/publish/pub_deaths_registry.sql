-- 死亡人员名单 (有条件共享, person-level) for the social-security agency.
with deaths as (
    select * from {{ ref('fct_death') }}
),

persons as (
    select person_key, id_number, name, hukou_division_code from {{ ref('dim_person') }}
),

final as (
    select
        persons.id_number,
        persons.name,
        deaths.death_date,
        deaths.death_date_source,
        persons.hukou_division_code
    from deaths
    inner join persons on persons.person_key = deaths.person_key
    where persons.id_number is not null and deaths.death_date is not null
    qualify row_number() over (partition by persons.id_number order by deaths.death_date) = 1
)

select * from final
