-- 高龄津贴发放统计 by district, month and tier (open aggregate), from the register's
-- active records; the mart has no tier split, so this reads the monthly register.
with register as (
    select * from {{ ref('int_elderly_allowance__months') }}
),

districts as (
    select * from {{ ref('int_districts') }}
),

counts as (
    select
        month,
        district_code,
        tier,
        count(*) as recipients,
        sum(monthly_standard) as amount_yuan
    from register
    where is_active and district_code is not null and tier is not null
    group by all
),

final as (
    select
        counts.month,
        counts.district_code as division_code,
        districts.division_name,
        counts.tier,
        cast(counts.recipients as bigint) as recipients,
        cast(counts.amount_yuan as double) as amount_yuan
    from counts
    left join districts on districts.division_code = counts.district_code
)

select * from final
