-- 免申即享闭环主题: the unclaimed-entitlement candidates (名单生成) by district, rule and
-- candidate month, how many the districts confirmed or dismissed (审核确认), and how many
-- the payments have closed since (财政支付): first paid, amounts paid against the monthly
-- amount due, days from detection to the first payment. No person key, ID or name.
with candidates as (
    select * from {{ ref('int_verify__candidates_closed') }}
),

districts as (
    select * from {{ ref('int_districts') }}
),

final as (
    select
        candidates.district_code as division_code,
        districts.division_name,
        candidates.rule_code,
        candidates.program_code,
        candidates.candidate_month as month,
        count(*) as candidates,
        count(*) filter (where candidates.is_confirmed) as confirmed,
        count(*) filter (where candidates.is_dismissed) as dismissed,
        count(*) filter (where candidates.is_paid) as paid,
        count(*) filter (where not candidates.is_paid) as unpaid,
        cast(sum(candidates.amount_due) as decimal(18, 2)) as amount_due,
        cast(coalesce(sum(candidates.amount_due) filter (where not candidates.is_paid), 0)
            as decimal(18, 2)) as amount_due_unpaid,
        cast(sum(candidates.first_paid_amount) as decimal(18, 2)) as first_paid_amount,
        cast(sum(candidates.amount_paid) as decimal(18, 2)) as amount_paid,
        cast(sum(candidates.days_to_first_payment) as bigint) as days_to_first_payment_sum,
        cast(avg(candidates.days_to_first_payment) as decimal(18, 2))
            as avg_days_to_first_payment
    from candidates
    left join districts on districts.division_code = candidates.district_code
    group by
        candidates.district_code, districts.division_name, candidates.rule_code,
        candidates.program_code, candidates.candidate_month
)

select * from final
