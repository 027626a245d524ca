-- 志愿服务统计 (open aggregate).
with volunteers as (
    select * from {{ ref('mart_volunteers') }}
),

final as (
    select
        month,
        division_code,
        division_name,
        service_category,
        cast(active_volunteers as bigint) as active_volunteers,
        cast(service_records as bigint) as service_records,
        cast(hours as double) as service_hours
    from volunteers
    where division_code is not null
)

select * from final
