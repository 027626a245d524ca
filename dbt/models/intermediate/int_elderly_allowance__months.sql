-- 高龄津贴名册 by month: each monthly full delivery is the register's state that month.
with register as (
    select * from {{ ref('stg_elderly_allowance') }}
),

final as (
    select
        p.person_key,
        register._period as month,
        register._source_unit,
        register._period = max(register._period) over (partition by register._source_unit)
            as is_latest_snapshot,
        register.birth_date,
        register.tier,
        register.monthly_standard,
        register.status = '正常' as is_active,
        {{ district_of('register.hukou_division_code') }} as district_code
    from register
    {{ join_person_key('register', 'elderly_allowance', 'person', 'p') }}
)

select * from final
