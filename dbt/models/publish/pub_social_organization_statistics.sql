-- 社会组织数量统计 (open aggregate), as of the registry's latest month.
with organizations as (
    select * from {{ ref('mart_social_organizations') }}
),

final as (
    select
        division_code,
        division_name,
        org_type,
        org_status as status,
        cast(organizations as bigint) as organizations,
        cast(inspection_pass_rate as double) as inspection_pass_rate
    from organizations
    where month = (select max(month) from organizations)
)

select * from final
