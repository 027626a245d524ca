-- Each 免申即享 candidate against the district's review and the payments (名单→审核→
-- 支付): confirmed if a caseworker ever found it 属实 (finding_status), dismissed while
-- its current status is dismissed; a successful payment of the same programme to the
-- same person for the candidate month or later closes it (a back-paid candidate month
-- counts). First paid month, what was paid that month and since, and whole days from
-- detection to the first payment's paid_at.
with candidates as (
    select * from {{ ref('entitlement_candidates') }}
),

statuses as (
    select
        finding_id,
        max(case when status = 'confirmed' then 1 else 0 end) = 1 as is_confirmed,
        max(case when is_current and status = 'dismissed' then 1 else 0 end) = 1
            as is_dismissed
    from {{ ref('finding_status') }}
    group by finding_id
),

payments as (
    select person_key, program_code, pay_month, amount, paid_at
    from {{ ref('fct_payment') }}
    where is_paid and person_key is not null
),

matched as (
    select
        candidates.finding_id,
        payments.pay_month,
        payments.amount,
        payments.paid_at
    from candidates
    inner join payments
        on payments.person_key = candidates.person_key
        and payments.program_code = candidates.program_code
        and payments.pay_month >= candidates.candidate_month
),

first_month as (
    select finding_id, min(pay_month) as first_paid_month
    from matched
    group by finding_id
),

paid as (
    select
        matched.finding_id,
        first_month.first_paid_month,
        sum(case when matched.pay_month = first_month.first_paid_month then matched.amount end)
            as first_paid_amount,
        sum(matched.amount) as amount_paid,
        min(case when matched.pay_month = first_month.first_paid_month then matched.paid_at end)
            as first_paid_at
    from matched
    inner join first_month on first_month.finding_id = matched.finding_id
    group by matched.finding_id, first_month.first_paid_month
),

final as (
    select
        candidates.finding_id,
        candidates.rule_code,
        candidates.program_code,
        candidates.district_code,
        candidates.candidate_month,
        candidates.amount_due,
        candidates.first_detected_at,
        coalesce(statuses.is_confirmed, false) as is_confirmed,
        coalesce(statuses.is_dismissed, false) as is_dismissed,
        paid.first_paid_month is not null as is_paid,
        paid.first_paid_month,
        cast(coalesce(paid.first_paid_amount, 0) as decimal(18, 2)) as first_paid_amount,
        cast(coalesce(paid.amount_paid, 0) as decimal(18, 2)) as amount_paid,
        cast(floor({{ seconds_between('candidates.first_detected_at', 'paid.first_paid_at') }} / 86400)
            as bigint) as days_to_first_payment
    from candidates
    left join statuses on statuses.finding_id = candidates.finding_id
    left join paid on paid.finding_id = candidates.finding_id
)

select * from final
