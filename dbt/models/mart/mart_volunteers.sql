-- 志愿服务主题: service hours, records and active volunteers by district of service,
-- month and service category.
with services as (
    select * from {{ ref('fct_volunteer_service') }}
    where district_code is not null
),

districts as (
    select * from {{ ref('int_districts') }}
),

counts as (
    select
        district_code,
        month,
        coalesce(service_category, '其他') as service_category,
        count(*) as service_records,
        sum(hours)::decimal(18, 2) as hours,
        -- 志愿者编号 is the platform's stable volunteer key; it is counted, never shown.
        count(distinct volunteer_no) as active_volunteers,
        count(distinct org_uscc) as organizations
    from services
    group by all
),

final as (
    select
        counts.district_code as division_code,
        districts.division_name,
        counts.* {{ star_exclude() }} (district_code)
    from counts
    left join districts on districts.division_code = counts.district_code
)

select * from final
