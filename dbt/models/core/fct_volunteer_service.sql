-- 志愿服务事实: one row per service record (latest line), with the volunteer's key.
with services as (
    select * from {{ ref('stg_volunteer_service') }}
),

latest as (
    select *
    from services
    qualify row_number() over (partition by record_no order by {{ latest_first() }}) = 1
),

final as (
    select
        latest.record_no,
        volunteer.person_key,
        latest.volunteer_no,
        latest.org_uscc,
        latest.org_uscc_status,
        latest.project_name,
        latest.service_category,
        latest.service_date,
        {{ to_month('latest.service_date') }} as month,
        latest.hours,
        latest.service_division_code,
        {{ district_of('latest.service_division_code') }} as district_code,
        latest._delivery_id,
        latest._source_row
    from latest
    {{ join_person_key('latest', 'volunteer_service', 'volunteer', 'volunteer') }}
)

select * from final
