-- 慈善捐赠事实: one row per donation number (latest line). The donor's name is not
-- carried: an individual donor's name is personal data no analysis here needs.
with donations as (
    select * from {{ ref('stg_charity_donations') }}
),

organizations as (
    select uscc, district_code from {{ ref('dim_organization') }}
),

latest as (
    select *
    from donations
    qualify row_number() over (partition by donation_no order by {{ latest_first() }}) = 1
),

final as (
    select
        latest.donation_no,
        latest.org_uscc,
        latest.org_uscc_status,
        latest.org_name,
        latest.project_no,
        latest.project_name,
        latest.donor_type,
        latest.donor_type = '匿名' as is_anonymous,
        latest.amount,
        latest.donated_at,
        {{ beijing_date('latest.donated_at') }} as donated_on,
        {{ to_month(beijing_date('latest.donated_at')) }} as month,
        latest.pay_channel,
        latest.receipt_issued as is_receipt_issued,
        organizations.district_code,
        latest._delivery_id,
        latest._source_row
    from latest
    left join organizations on organizations.uscc = latest.org_uscc
)

select * from final
