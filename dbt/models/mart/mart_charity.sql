-- 慈善捐赠主题: donations by organisation, fundraising project and month, under the
-- organisation's registrar district. No donor appears, not even by name.
with donations as (
    select * from {{ ref('fct_donation') }}
),

organizations as (
    select uscc, org_name from {{ ref('dim_organization') }}
),

districts as (
    select * from {{ ref('int_districts') }}
),

counts as (
    select
        coalesce(donations.district_code, '{{ var("city_division_code") }}') as district_code,
        donations.month,
        donations.org_uscc,
        coalesce(project_no, '') as project_no,
        any_value(donations.org_name) as delivered_org_name,
        any_value(donations.project_name) as project_name,
        count(*) as donations,
        sum(amount)::decimal(18, 2) as amount,
        coalesce(sum(amount) filter (where donor_type = '个人'), 0)::decimal(18, 2)
            as amount_individual,
        coalesce(sum(amount) filter (where donor_type = '企业'), 0)::decimal(18, 2)
            as amount_enterprise,
        coalesce(sum(amount) filter (where donor_type = '社会组织'), 0)::decimal(18, 2)
            as amount_organization,
        coalesce(sum(amount) filter (where is_anonymous), 0)::decimal(18, 2)
            as amount_anonymous,
        count(*) filter (where is_receipt_issued) as receipts_issued
    from donations
    group by all
),

final as (
    select
        counts.district_code as division_code,
        districts.division_name,
        counts.month,
        counts.org_uscc,
        coalesce(organizations.org_name, counts.delivered_org_name) as org_name,
        counts.project_no,
        counts.project_name,
        counts.donations,
        counts.amount,
        counts.amount_individual,
        counts.amount_enterprise,
        counts.amount_organization,
        counts.amount_anonymous,
        counts.receipts_issued
    from counts
    left join organizations on organizations.uscc = counts.org_uscc
    left join districts on districts.division_code = counts.district_code
)

select * from final
