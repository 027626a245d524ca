-- 人员画像: one row per person with service tags as of each register's latest monthly
-- snapshot (per delivering unit, so one late district does not blank its residents);
-- programmes received from the latest paid month.
with persons as (
    select * from {{ ref('dim_person') }}
),

assistance as (
    select
        person_key,
        bool_or(assistance_type = '低保') as is_dibao,
        bool_or(assistance_type = '特困') as is_tekun,
        bool_or(assistance_type = '低保边缘') as is_dibao_edge,
        max(month) as assistance_month
    from (
        -- Each district's latest roster: rosters are delivered per district.
        select *
        from {{ ref('fct_assistance_membership') }}
        qualify month = max(month) over (partition by district_code)
    )
    where is_active
    group by person_key
),

elderly as (
    select person_key, true as receives_elderly_allowance, max(month) as month
    from {{ ref('int_elderly_allowance__months') }}
    where is_latest_snapshot and is_active and person_key is not null
    group by person_key
),

disability as (
    select
        person_key,
        min(disability_grade_level) as disability_grade_level,
        min_by(disability_grade, disability_grade_level) as disability_grade,
        max(month) as month
    from {{ ref('int_disability__months') }}
    where is_latest_snapshot and is_valid and person_key is not null
    group by person_key
),

children as (
    select
        person_key,
        bool_or(child_category = '孤儿') as is_orphan,
        bool_or(child_category = '事实无人抚养儿童') as is_de_facto_unattended,
        bool_or(child_category in ('困境儿童', '事实无人抚养儿童')) as is_child_in_difficulty,
        bool_or(child_category = '留守儿童') as is_left_behind_child,
        max(month) as month
    from {{ ref('int_child_welfare__months') }}
    where is_latest_snapshot and is_active and person_key is not null
    group by person_key
),

payments as (
    select
        person_key,
        {{ sorted_set("program_code") }} as programmes_received,
        max(pay_month) as last_paid_month
    from {{ ref('fct_payment') }}
    where is_paid and person_key is not null
        and pay_month = (select max(pay_month) from {{ ref('fct_payment') }} where is_paid)
    group by person_key
),

as_of as (
    select max(month) as as_of_month
    from (
        select assistance_month as month from assistance
        union all select month from elderly
        union all select month from disability
        union all select month from children
        union all select last_paid_month from payments
    )
),

final as (
    select
        persons.person_key,
        as_of.as_of_month,
        persons.hukou_district_code as district_code,
        {{ age_on('persons.birth_date', month_start('as_of.as_of_month')) }} as age,
        persons.is_alive,
        coalesce(assistance.is_dibao, false) as is_dibao,
        coalesce(assistance.is_tekun, false) as is_tekun,
        coalesce(assistance.is_dibao_edge, false) as is_dibao_edge,
        -- Unknown birth date: not tagged (the tag drives outreach, so it must be sure).
        coalesce(
            coalesce(persons.is_alive, true)
            and {{ age_on('persons.birth_date', month_start('as_of.as_of_month')) }}
            >= {{ var('elderly_age') }},
            false
        ) as is_elderly_80,
        coalesce(elderly.receives_elderly_allowance, false) as receives_elderly_allowance,
        disability.person_key is not null as is_disabled,
        disability.disability_grade,
        coalesce(children.is_orphan, false) as is_orphan,
        coalesce(children.is_de_facto_unattended, false) as is_de_facto_unattended,
        coalesce(children.is_child_in_difficulty, false) as is_child_in_difficulty,
        coalesce(children.is_left_behind_child, false) as is_left_behind_child,
        coalesce(payments.programmes_received, {{ empty_string_list() }}) as programmes_received,
        payments.last_paid_month
    from persons
    cross join as_of
    left join assistance on assistance.person_key = persons.person_key
    left join elderly on elderly.person_key = persons.person_key
    left join disability on disability.person_key = persons.person_key
    left join children on children.person_key = persons.person_key
    left join payments on payments.person_key = persons.person_key
)

select * from final
