-- 低收入人口主题: 低保/特困/低保边缘 households, persons, amounts, age and disability
-- structure by district, month and assistance type. Households and amounts come from
-- the rosters directly (a household counts even if a member is unresolved); person
-- counts from resolved members.
with rosters as (
    select * from {{ ref('stg_assistance_recipients') }}
    where status = '在保'
),

members as (
    select * from {{ ref('fct_assistance_membership') }}
    where is_active
),

persons as (
    select person_key, birth_date from {{ ref('dim_person') }}
),

disabled as (
    select distinct person_key, month, disability_grade_level
    from {{ ref('int_disability__months') }}
    where is_valid and person_key is not null
),

districts as (
    select * from {{ ref('int_districts') }}
),

households as (
    select
        {{ district_of('division_code') }} as district_code,
        _period as month,
        assistance_type,
        count(distinct family_no) as households,
        -- 月保障金额 is the household's total, repeated on every member line.
        sum(household_amount)::decimal(18, 2) as amount
    from (
        select division_code, _period, assistance_type, family_no,
            max(monthly_amount) as household_amount
        from rosters
        group by all
    )
    group by all
),

member_counts as (
    select
        members.district_code,
        members.month,
        members.assistance_type,
        count(distinct members.person_key) as persons,
        count(distinct members.person_key) filter (where age < 18) as persons_age_0_17,
        count(distinct members.person_key) filter (where age between 18 and 59)
            as persons_age_18_59,
        count(distinct members.person_key) filter (where age between 60 and 79)
            as persons_age_60_79,
        count(distinct members.person_key) filter (where age >= 80) as persons_age_80_plus,
        count(distinct members.person_key) filter (where disabled.person_key is not null)
            as disabled_persons,
        count(distinct members.person_key) filter (where disabled.disability_grade_level <= 2)
            as severely_disabled_persons
    from (
        select members.*,
            {{ age_on('persons.birth_date', month_start('members.month')) }} as age
        from members
        left join persons on persons.person_key = members.person_key
    ) as members
    left join disabled
        on disabled.person_key = members.person_key and disabled.month = members.month
    group by all
),

final as (
    select
        households.district_code as division_code,
        districts.division_name,
        households.month,
        households.assistance_type,
        households.households,
        coalesce(member_counts.persons, 0) as persons,
        households.amount,
        coalesce(member_counts.persons_age_0_17, 0) as persons_age_0_17,
        coalesce(member_counts.persons_age_18_59, 0) as persons_age_18_59,
        coalesce(member_counts.persons_age_60_79, 0) as persons_age_60_79,
        coalesce(member_counts.persons_age_80_plus, 0) as persons_age_80_plus,
        coalesce(member_counts.disabled_persons, 0) as disabled_persons,
        coalesce(member_counts.severely_disabled_persons, 0) as severely_disabled_persons
    from households
    left join member_counts
        on member_counts.district_code = households.district_code
        and member_counts.month = households.month
        and member_counts.assistance_type = households.assistance_type
    left join districts on districts.division_code = households.district_code
)

select * from final
