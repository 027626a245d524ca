-- What is due, person x programme x month, by SOURCE_FEEDS 5 and the versioned policy
-- table. Nothing is due for a month after the month of death (a payment in the month
-- of death is still due). basis_* columns say which register row grants it.
with persons as (
    select * from {{ ref('int_entitlement__persons') }}
),

assistance as (
    select * from {{ ref('int_entitlement__assistance_months') }}
),

registers as (
    select * from {{ ref('int_entitlement__register_months') }}
    where is_active and person_key is not null
),

policy as (
    select * from {{ ref('policy_standards') }}
),

months as (
    select distinct pay_month as month from {{ ref('int_entitlement__payments') }}
    union
    select distinct month from assistance
    union
    select distinct month from registers
),

-- 高龄津贴: due from the month after the 80th birthday month, tier by age on the 1st
gl_age as (
    select
        persons.person_key,
        months.month,
        {{ month_start('months.month') }} as month_start,
        persons.birth_date,
        year(month_start) - year(persons.birth_date)
        - case when month(persons.birth_date) > month(month_start)
            or (month(persons.birth_date) = month(month_start) and day(persons.birth_date) > 1)
            then 1 else 0 end as age_on_first
    from persons
    cross join months
    -- at most a few per cent of a city is 80+: cut the cross join down first
    where persons.birth_date <= cast((select max(month) from months) || '-01' as date) - interval 80 year
        and persons.in_hukou
        and persons.birth_date is not null
        and (persons.hukou_left_month is null or months.month < persons.hukou_left_month)
        and {{ month_start('months.month') }}
        > date_trunc('month', persons.birth_date + interval 80 year)
),

gl as (
    select
        person_key, 'GL' as program_code, month, month_start,
        case when age_on_first >= 100 then '100岁以上'
            when age_on_first >= 90 then '90-99岁' else '80-89岁' end as standard_key,
        null::decimal(18, 2) as household_amount,
        'hukou_population' as basis_feed, null as basis_delivery_id,
        null as basis_source_file, null::bigint as basis_source_row
    from gl_age
),

households as (
    select
        household_key, month, program_code,
        max(head_key) as head_key,
        max(case when relation_to_head in ('本人', '户主') then member_key end) as self_key,
        max(monthly_amount) as household_amount,
        min(_delivery_id) as basis_delivery_id,
        min(_source_file) as basis_source_file,
        min(_source_row) as basis_source_row
    from assistance
    where is_active
    group by household_key, month, program_code
),

register_due as (
    select
        person_key,
        case when feed_id = 'disability_certs' then 'CJHL'
            when register_key like '孤儿|%' then 'GE' else 'SW' end as program_code,
        month,
        {{ month_start('month') }} as month_start,
        case when feed_id = 'disability_certs' then register_key
            else split_part(register_key, '|', 2) end as standard_key,
        null::decimal(18, 2) as household_amount,
        feed_id as basis_feed, _delivery_id, _source_file, _source_row
    from registers
    where (feed_id = 'disability_certs' and register_key in ('一级', '二级'))
        or (feed_id = 'child_welfare' and split_part(register_key, '|', 1) in ('孤儿', '事实无人抚养儿童'))
),

cjsh as (
    select
        d.person_key, 'CJSH' as program_code, d.month,
        {{ month_start('d.month') }} as month_start,
        '*' as standard_key, null::decimal(18, 2) as household_amount,
        d.feed_id, d._delivery_id, d._source_file, d._source_row
    from registers as d
    where d.feed_id = 'disability_certs'
        and exists (
            select 1 from assistance as a
            where a.member_key = d.person_key and a.month = d.month and a.is_active
                and a.assistance_type in ('低保', '特困')
        )
),

assistance_due as (
    select
        coalesce(head_key, self_key) as person_key, program_code, month,
        {{ month_start('month') }} as month_start,
        null as standard_key, household_amount,
        'assistance_recipients', basis_delivery_id, basis_source_file, basis_source_row
    from households
    where coalesce(head_key, self_key) is not null
),

unioned as (
    select * from gl
    union all select * from register_due
    union all select * from cjsh
    union all select * from assistance_due
),

-- the policy row valid on the 1st of the month for the key, else the '*' row
priced as (
    select
        unioned.*,
        coalesce(
            unioned.household_amount, exact.monthly_standard, fallback.monthly_standard
        ) as due_amount
    from unioned
    left join policy as exact
        on exact.program_code = unioned.program_code
        and exact.standard_key = unioned.standard_key
        and unioned.month_start >= exact.valid_from
        and unioned.month_start <= coalesce(exact.valid_to, date '9999-12-31')
    left join policy as fallback
        on fallback.program_code = unioned.program_code
        and fallback.standard_key = '*'
        and unioned.month_start >= fallback.valid_from
        and unioned.month_start <= coalesce(fallback.valid_to, date '9999-12-31')
),

final as (
    select priced.*
    from priced
    inner join persons on persons.person_key = priced.person_key
    where persons.death_month is null or priced.month <= persons.death_month
)

select * from final
