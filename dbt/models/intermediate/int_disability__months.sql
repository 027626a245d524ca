-- 残疾人证 by month: valid (有效, not expired before the 1st of the month) certificates.
with register as (
    select * from {{ ref('stg_disability_certs') }}
),

final as (
    select
        p.person_key,
        register._period as month,
        register._source_unit,
        register._period = max(register._period) over (partition by register._source_unit)
            as is_latest_snapshot,
        register.disability_category,
        register.disability_grade,
        -- 一级 is the most severe; the enum's characters do not sort in grade order.
        case register.disability_grade
            when '一级' then 1 when '二级' then 2 when '三级' then 3 when '四级' then 4
        end as disability_grade_level,
        register.cert_status = '有效'
            and (register.valid_until is null
                or register.valid_until >= {{ month_start('register._period') }}) as is_valid,
        {{ district_of('register.hukou_division_code') }} as district_code
    from register
    {{ join_person_key('register', 'disability_certs', 'person', 'p') }}
)

select * from final
