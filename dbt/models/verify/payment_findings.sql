-- Improper-payment log (违规发放): every DEATH_PAID, PAY_NO_BASIS and NOT_IN_HUKOU finding
-- ever listed, one row per finding_id: the rules whose whole payment should not go out,
-- so stopping it saves the whole monthly amount. verify.findings drops a finding whose
-- payments were all returned; this log keeps it (the previous table is read before this
-- one replaces it, as entitlement_candidates does) so the loop can count the money back.
-- detected_month and detected_period_end are those of the first listing (was the payment
-- still running then?); last_period_end is the largest period_end ever listed (the last
-- month the improper payment went out) and period_start the smallest (a first payment
-- returned moves it later), period_end and amount_at_risk those of the latest listing.
-- Rerunning on the same data changes nothing.
{%- set previous = adapter.get_relation(this.database, this.schema, this.identifier) %}

with current_findings as (
    select
        findings.finding_id,
        findings.rule_code,
        findings.program_code,
        findings.person_key,
        coalesce(findings.district_code, '{{ var("city_division_code") }}') as district_code,
        findings.period_start,
        findings.period_end,
        findings.amount_at_risk,
        findings.first_detected_at,
        latest.latest_month
    from {{ ref('findings') }} as findings
    cross join {{ ref('int_verify__latest_month') }} as latest
    where findings.rule_code in ('DEATH_PAID', 'PAY_NO_BASIS', 'NOT_IN_HUKOU')
),

{% if previous is not none %}
previous as (
    select * from {{ previous }}
),

merged as (
    select
        coalesce(previous.finding_id, current_findings.finding_id) as finding_id,
        coalesce(previous.rule_code, current_findings.rule_code) as rule_code,
        coalesce(previous.program_code, current_findings.program_code) as program_code,
        coalesce(previous.person_key, current_findings.person_key) as person_key,
        coalesce(previous.district_code, current_findings.district_code) as district_code,
        coalesce(previous.detected_month, current_findings.latest_month) as detected_month,
        coalesce(previous.detected_period_end, current_findings.period_end)
            as detected_period_end,
        least(
            coalesce(previous.period_start, current_findings.period_start),
            coalesce(current_findings.period_start, previous.period_start)
        ) as period_start,
        greatest(
            coalesce(previous.last_period_end, current_findings.period_end),
            coalesce(current_findings.period_end, previous.last_period_end)
        ) as last_period_end,
        coalesce(current_findings.period_end, previous.period_end) as period_end,
        coalesce(current_findings.amount_at_risk, previous.amount_at_risk) as amount_at_risk,
        coalesce(previous.first_detected_at, current_findings.first_detected_at)
            as first_detected_at,
        current_findings.finding_id is not null as is_listed
    from previous
    full outer join current_findings
        on current_findings.finding_id = previous.finding_id
),
{% else %}
merged as (
    select
        finding_id, rule_code, program_code, person_key, district_code,
        latest_month as detected_month, period_end as detected_period_end, period_start,
        period_end as last_period_end, period_end, amount_at_risk, first_detected_at,
        true as is_listed
    from current_findings
),
{% endif %}

final as (
    select
        finding_id,
        rule_code,
        program_code,
        person_key,
        district_code,
        detected_month,
        detected_period_end,
        period_start,
        last_period_end,
        period_end,
        cast(amount_at_risk as decimal(18, 2)) as amount_at_risk,
        first_detected_at,
        is_listed
    from merged
)

select * from final
