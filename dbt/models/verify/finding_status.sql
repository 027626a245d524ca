-- verify.finding_status (核查状态, SCD2): each finding's lifecycle, one row per status
-- spell. valid_to null and is_current true on the spell in force. Built from this table's
-- previous state (read before it is replaced, as findings reads first_detected_at), the
-- findings detected now and the latest review per finding (finding_reviews):
--   a new review sets its status (属实 confirmed, 不属实 dismissed with the note as reason,
--   已整改 resolved, 无法核实 open);
--   a finding first seen is open;
--   an open, confirmed or reopened finding no longer detected is resolved (the data shows
--   the fix: the payment stopped, the entitlement paid);
--   a dismissed or resolved finding detected with changed facts (a larger amount, a later
--   period_end), or resolved by the data and detected again, is reopened.
-- Facts (amount_at_risk, period_end) are those when the spell began. A rerun on the same
-- inputs changes nothing: only a status change or a new review opens a spell.
{%- set previous = adapter.get_relation(this.database, this.schema, this.identifier) %}
{%- set now = "cast('" ~ run_started_at ~ "' as " ~ type_tstz() ~ ")" %}

with findings as (
    select finding_id, rule_code, district_code, amount_at_risk, period_end
    from {{ ref('findings') }}
),

reviews as (
    select * from {{ ref('finding_reviews') }}
),

history as (
    {% if previous is not none %}
    select
        finding_id, rule_code, district_code, status, reason, changed_by, reviewer,
        reviewed_on, review_id, amount_at_risk, period_end, valid_from, valid_to, is_current
    from {{ previous }}
    {% else %}
    select
        cast(null as string) as finding_id, cast(null as string) as rule_code,
        cast(null as string) as district_code, cast(null as string) as status,
        cast(null as string) as reason, cast(null as string) as changed_by,
        cast(null as string) as reviewer, cast(null as date) as reviewed_on,
        cast(null as string) as review_id, cast(null as decimal(18, 2)) as amount_at_risk,
        cast(null as string) as period_end, cast(null as {{ type_tstz() }}) as valid_from,
        cast(null as {{ type_tstz() }}) as valid_to, cast(null as boolean) as is_current
    where 1 = 0
    {% endif %}
),

latest_review as (
    select * from (
        select
            reviews.*,
            row_number() over (
                partition by reviews.finding_id
                order by reviews.reviewed_on desc nulls last, reviews.produced_at desc,
                    reviews.review_id desc
            ) as rank_in_finding
        from reviews
    ) as ranked
    where rank_in_finding = 1
),

current_spell as (
    select * from history where is_current
),

candidates as (
    select
        coalesce(findings.finding_id, current_spell.finding_id) as finding_id,
        coalesce(findings.rule_code, current_spell.rule_code) as rule_code,
        coalesce(findings.district_code, current_spell.district_code) as district_code,
        findings.finding_id is not null as is_detected,
        findings.amount_at_risk as amount_now,
        findings.period_end as period_end_now,
        current_spell.status as prev_status,
        current_spell.changed_by as prev_changed_by,
        current_spell.review_id as prev_review_id,
        current_spell.amount_at_risk as prev_amount,
        current_spell.period_end as prev_period_end
    from findings
    full outer join current_spell on current_spell.finding_id = findings.finding_id
),

with_review as (
    select
        candidates.*,
        latest_review.review_id as new_review_id,
        latest_review.review_status,
        latest_review.decision,
        latest_review.note,
        latest_review.reviewer,
        latest_review.reviewed_on
    from candidates
    left join latest_review
        on latest_review.finding_id = candidates.finding_id
        and (candidates.prev_review_id is null or latest_review.review_id <> candidates.prev_review_id)
),

decided as (
    select
        with_review.*,
        case
            when new_review_id is not null then review_status
            when prev_status is null then 'open'
            when not is_detected and prev_status in ('open', 'confirmed', 'reopened') then 'resolved'
            when is_detected and prev_status = 'resolved' and prev_changed_by = 'data' then 'reopened'
            when is_detected and prev_status in ('dismissed', 'resolved')
                and (coalesce(amount_now, 0) > coalesce(prev_amount, 0)
                    or coalesce(period_end_now, '') > coalesce(prev_period_end, ''))
                then 'reopened'
            else prev_status
        end as status
    from with_review
),

changed as (
    select
        finding_id,
        rule_code,
        district_code,
        status,
        case
            when new_review_id is not null and decision = '无法核实'
                then '无法核实' || coalesce('：' || note, '')
            when new_review_id is not null then note
            when prev_status is null then '比对发现'
            when status = 'resolved' then '后续数据未再发现（已纠正）'
            else '再次发现（金额或月份变化）'
        end as reason,
        case when new_review_id is not null then 'review' else 'data' end as changed_by,
        case when new_review_id is not null then reviewer end as reviewer,
        case when new_review_id is not null then reviewed_on end as reviewed_on,
        coalesce(new_review_id, prev_review_id) as review_id,
        case when is_detected then amount_now else prev_amount end as amount_at_risk,
        case when is_detected then period_end_now else prev_period_end end as period_end
    from decided
    where prev_status is null or new_review_id is not null or status <> prev_status
),

final as (
    select
        history.finding_id, history.rule_code, history.district_code, history.status,
        history.reason, history.changed_by, history.reviewer, history.reviewed_on,
        history.review_id, history.amount_at_risk, history.period_end, history.valid_from,
        case when changed.finding_id is not null and history.is_current
            then {{ now }} else history.valid_to end as valid_to,
        history.is_current and changed.finding_id is null as is_current
    from history
    left join changed on changed.finding_id = history.finding_id
    union all
    select
        finding_id, rule_code, district_code, status, reason, changed_by, reviewer,
        reviewed_on, review_id, cast(amount_at_risk as decimal(18, 2)) as amount_at_risk,
        period_end, {{ now }} as valid_from,
        cast(null as {{ type_tstz() }}) as valid_to, true as is_current
    from changed
)

select * from final
