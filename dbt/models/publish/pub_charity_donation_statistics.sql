-- 慈善捐赠统计 by organisation and month (open aggregate; donors are never named).
with charity as (
    select * from {{ ref('mart_charity') }}
),

final as (
    select
        month,
        org_uscc,
        any_value(org_name) as org_name,
        cast(sum(donations) as bigint) as donations,
        cast(sum(amount) as double) as amount_yuan
    from charity
    where org_uscc is not null and month is not null
    group by month, org_uscc
)

select * from final
