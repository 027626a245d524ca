-- 儿童福利对象统计 by district, month and category (open aggregate).
with register as (
    select * from {{ ref('int_child_welfare__months') }}
),

districts as (
    select * from {{ ref('int_districts') }}
),

counts as (
    select
        month,
        district_code,
        child_category,
        count(*) as children,
        sum(monthly_allowance) as amount_yuan
    from register
    where is_active and district_code is not null and child_category is not null
    group by all
),

final as (
    select
        counts.month,
        counts.district_code as division_code,
        districts.division_name,
        counts.child_category,
        cast(counts.children as bigint) as children,
        cast(counts.amount_yuan as double) as amount_yuan
    from counts
    left join districts on districts.division_code = counts.district_code
)

select * from final
