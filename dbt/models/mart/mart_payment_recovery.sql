-- 违规发放止付追回 (the improper-payment side of the verification loop): the findings of
-- DEATH_PAID, PAY_NO_BASIS and NOT_IN_HUKOU by district, rule and the month first listed;
-- how many the districts confirmed or dismissed (核查反馈), how many were still being paid
-- when found and have stopped since, the monthly amount that stopped going out and the
-- money the bank returned (停发并追回). The unclaimed side is mart_proactive_entitlement.
-- No person key, ID or name.
with findings as (
    select * from {{ ref('int_verify__payments_stopped') }}
),

districts as (
    select * from {{ ref('int_districts') }}
),

final as (
    select
        findings.district_code as division_code,
        districts.division_name,
        findings.rule_code,
        findings.detected_month as month,
        cast(count(*) as bigint) as findings,
        cast(count(*) filter (where findings.is_confirmed) as bigint) as confirmed,
        cast(count(*) filter (where findings.is_dismissed) as bigint) as dismissed,
        cast(count(*) filter (where findings.is_running_at_detection) as bigint)
            as running_at_detection,
        cast(count(*) filter (where findings.is_stopped) as bigint) as stopped,
        cast(count(*) filter (
            where findings.is_running_at_detection and not findings.is_stopped
        ) as bigint) as still_paid,
        cast(sum(findings.amount_at_risk) as decimal(18, 2)) as amount_at_risk,
        cast(sum(findings.amount_stopped_monthly) as decimal(18, 2)) as amount_stopped_monthly,
        cast(sum(findings.amount_returned) as decimal(18, 2)) as amount_returned
    from findings
    left join districts on districts.division_code = findings.district_code
    group by
        findings.district_code, districts.division_name, findings.rule_code,
        findings.detected_month
)

select * from final
