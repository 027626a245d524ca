-- 社会组织登记公开字段 (open, reference): registry organisations only, no legal
-- representative or other personal fields.
with organizations as (
    select * from {{ ref('dim_organization') }}
),

final as (
    select
        uscc,
        org_name,
        org_type,
        registrar_division_code,
        founded_on,
        org_status as status,
        status_date,
        cast(last_inspection_year as integer) as last_inspection_year,
        last_inspection_result,
        is_abnormal as abnormal_list,
        is_charity
    from organizations
    where is_registered
)

select * from final
