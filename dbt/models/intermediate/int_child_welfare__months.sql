-- 儿童福利对象名册 by month: 在册 children by category and placement.
with register as (
    select * from {{ ref('stg_child_welfare') }}
),

final as (
    select
        p.person_key,
        register._period as month,
        register._source_unit,
        register._period = max(register._period) over (partition by register._source_unit)
            as is_latest_snapshot,
        register.child_category,
        register.placement,
        register.monthly_allowance,
        register.status = '在册' as is_active,
        {{ district_of('register.division_code') }} as district_code
    from register
    {{ join_person_key('register', 'child_welfare', 'child', 'p') }}
)

select * from final
