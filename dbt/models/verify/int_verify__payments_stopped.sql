-- Each improper-payment finding (verify.payment_findings) against the payments since
-- (停发并追回): confirmed if a caseworker ever found it 属实, dismissed while currently
-- 不属实 (finding_status, as int_verify__candidates_closed reads it).
-- A finding's payments are the payee's (of the rule's programme, where it has one) for
-- its months, period_start to last_period_end, that it counted: paid now, or returned by
-- the bank in a line that arrived after the finding was first detected (money back; a
-- line returned before detection was never in it).
-- Stopped: the payment was still going out in the month the finding was first listed,
-- and a later complete month has none (last_period_end before the latest month). The
-- monthly amount stopped is what those payments were in their last month.
with findings as (
    select * from {{ ref('payment_findings') }}
),

latest as (
    select latest_month from {{ ref('int_verify__latest_month') }}
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
    select person_key, program_code, pay_month, amount, payment_status, ingested_at
    from {{ ref('fct_payment') }}
    where person_key is not null and payment_status in ('success', 'returned')
),

counted as (
    select
        findings.finding_id,
        payments.pay_month,
        payments.amount,
        payments.payment_status = 'returned' as is_returned,
        max(payments.pay_month) over (partition by findings.finding_id) as last_paid_month
    from findings
    inner join payments
        on payments.person_key = findings.person_key
        and (findings.program_code is null or payments.program_code = findings.program_code)
        and payments.pay_month between findings.period_start and findings.last_period_end
    where payments.payment_status = 'success'
        or payments.ingested_at > findings.first_detected_at
),

amounts as (
    select
        finding_id,
        sum(case when pay_month = last_paid_month then amount else 0 end) as amount_monthly,
        sum(case when is_returned then amount else 0 end) as amount_returned
    from counted
    group by finding_id
),

final as (
    select
        findings.finding_id,
        findings.rule_code,
        findings.program_code,
        findings.district_code,
        findings.detected_month,
        findings.last_period_end,
        findings.amount_at_risk,
        findings.first_detected_at,
        coalesce(statuses.is_confirmed, false) as is_confirmed,
        coalesce(statuses.is_dismissed, false) as is_dismissed,
        findings.detected_period_end >= findings.detected_month as is_running_at_detection,
        findings.detected_period_end >= findings.detected_month
            and findings.last_period_end < latest.latest_month as is_stopped,
        cast(case
            when findings.detected_period_end >= findings.detected_month
                and findings.last_period_end < latest.latest_month
                then coalesce(amounts.amount_monthly, 0)
            else 0
        end as decimal(18, 2)) as amount_stopped_monthly,
        cast(coalesce(amounts.amount_returned, 0) as decimal(18, 2)) as amount_returned
    from findings
    cross join latest
    left join statuses on statuses.finding_id = findings.finding_id
    left join amounts on amounts.finding_id = findings.finding_id
)

select * from final
