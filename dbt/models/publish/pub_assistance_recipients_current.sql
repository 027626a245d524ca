-- 现行低保、特困对象名单 (有条件共享, person-level): active members in the latest roster
-- month. Agencies match on the ID number, so persons without one are left out; a person
-- in both programmes (a DUP_ASSIST finding) appears once, 特困 first (it is the stronger
-- entitlement for 医保资助).
with membership as (
    select * from {{ ref('fct_assistance_membership') }}
),

persons as (
    select person_key, id_number, name from {{ ref('dim_person') }}
),

latest as (
    select *
    from membership
    where is_active
        and assistance_type in ('低保', '特困')
        and month = (select max(month) from membership)
),

final as (
    select
        persons.id_number,
        persons.name,
        latest.assistance_type,
        latest.division_code,
        latest.family_no as household_id,
        latest.spell_start_month as since_month,
        latest.month as as_of_month
    from latest
    inner join persons on persons.person_key = latest.person_key
    where persons.id_number is not null
    qualify row_number() over (
        partition by persons.id_number
        order by latest.assistance_type = '特困' desc, latest.family_no
    ) = 1
)

select * from final
