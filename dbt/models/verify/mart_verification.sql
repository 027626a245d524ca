{{ config(schema='mart') }}
-- 比对核查主题: findings by rule, district and month with amount at risk. No person
-- key, ID or name: analysts see counts and amounts only. A finding counts in the month
-- it ends in (period_end), or the month first detected when it has no period.
with findings as (
    select * from {{ ref('findings') }}
),

divisions as (
    select division_code, any_value(name) as division_name
    from {{ ref('stg_divisions') }}
    group by division_code
),

final as (
    select
        findings.rule_code,
        any_value(findings.rule_title) as rule_title,
        any_value(findings.severity) as severity,
        findings.district_code as division_code,
        any_value(divisions.division_name) as division_name,
        coalesce(findings.period_end, {{ format_date('findings.first_detected_at', '%Y-%m') }}) as month,
        count(*) as findings,
        count(distinct findings.person_key) as persons,
        count(distinct findings.org_uscc) as organizations,
        sum(findings.amount_at_risk)::decimal(18, 2) as amount_at_risk
    from findings
    left join divisions on divisions.division_code = findings.district_code
    group by all
)

select * from final
