-- 免申即享 candidate log: every unclaimed-entitlement finding (GL_UNCLAIMED,
-- CJHL_UNCLAIMED, CJSH_UNCLAIMED) ever listed, one row per finding_id. verify.findings
-- holds only the latest month's candidates, so a candidate paid next month drops out of
-- it; this log keeps it (the previous table is read before this one replaces it, as
-- findings does for first_detected_at) so the loop mart can see the payment close it.
-- A candidate keeps its first month, amount and detection time; rerunning on the same
-- data changes nothing.
{%- set previous = adapter.get_relation(this.database, this.schema, this.identifier) %}

with current_candidates as (
    select
        finding_id,
        rule_code,
        program_code,
        person_key,
        coalesce(district_code, '{{ var("city_division_code") }}') as district_code,
        period_start as candidate_month,
        amount_at_risk as amount_due,
        first_detected_at
    from {{ ref('findings') }}
    where rule_code in ('GL_UNCLAIMED', 'CJHL_UNCLAIMED', 'CJSH_UNCLAIMED')
),

{% if previous is not none %}
previous as (
    select * from {{ previous }}
),

merged as (
    select
        coalesce(previous.finding_id, current_candidates.finding_id) as finding_id,
        coalesce(previous.rule_code, current_candidates.rule_code) as rule_code,
        coalesce(previous.program_code, current_candidates.program_code) as program_code,
        coalesce(previous.person_key, current_candidates.person_key) as person_key,
        coalesce(previous.district_code, current_candidates.district_code) as district_code,
        coalesce(previous.candidate_month, current_candidates.candidate_month)
            as candidate_month,
        coalesce(previous.amount_due, current_candidates.amount_due) as amount_due,
        coalesce(previous.first_detected_at, current_candidates.first_detected_at)
            as first_detected_at,
        current_candidates.finding_id is not null as is_listed
    from previous
    full outer join current_candidates
        on current_candidates.finding_id = previous.finding_id
),
{% else %}
merged as (
    select *, true as is_listed from current_candidates
),
{% endif %}

final as (
    select
        finding_id,
        rule_code,
        program_code,
        person_key,
        district_code,
        candidate_month,
        cast(amount_due as decimal(18, 2)) as amount_due,
        first_detected_at,
        is_listed
    from merged
)

select * from final
