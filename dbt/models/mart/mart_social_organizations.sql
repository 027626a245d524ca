-- 社会组织主题: registered organisations by type and status, with charities, abnormal
-- list and annual-inspection pass rate, by registrar district (or the city) and month.
-- The registry is a weekly full snapshot; a month shows its last snapshot.
with registry as (
    select
        *,
        {{ period_month('_period') }} as month
    from {{ ref('stg_social_organizations') }}
),

month_end as (
    select *
    from registry
    qualify _period = max(_period) over (partition by month)
),

districts as (
    select * from {{ ref('int_districts') }}
),

counts as (
    select
        {{ district_of('registrar') }} as district_code,
        month,
        org_type,
        status as org_status,
        count(distinct uscc) as organizations,
        count(distinct uscc) filter (where is_charity) as charities,
        count(distinct uscc) filter (where abnormal_list) as organizations_abnormal,
        count(distinct uscc) filter (
            where last_inspection_result in ('合格', '基本合格', '不合格')
        ) as organizations_inspected,
        -- 基本合格 passes the inspection (with remarks); 未参检 is not inspected at all.
        count(distinct uscc) filter (where last_inspection_result in ('合格', '基本合格'))
            as organizations_passed
    from month_end
    group by all
),

final as (
    select
        counts.district_code as division_code,
        districts.division_name,
        counts.month,
        counts.org_type,
        counts.org_status,
        counts.organizations,
        counts.charities,
        counts.organizations_abnormal,
        counts.organizations_inspected,
        counts.organizations_passed,
        counts.organizations_passed / nullif(counts.organizations_inspected, 0)
            as inspection_pass_rate
    from counts
    left join districts on districts.division_code = counts.district_code
    where counts.district_code is not null
)

select * from final
