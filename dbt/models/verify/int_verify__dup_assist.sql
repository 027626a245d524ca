-- DUP_ASSIST: a person active (在保) in more than one assistance household or district,
-- or in both 低保 and 特困, in the same month. Grain person x overlapping spell
-- (consecutive months); the spell's first month is part of the key.
with assistance as (
    select * from {{ ref('int_entitlement__assistance_months') }}
    where is_active and member_key is not null
),

-- The person-months that overlap, found on the months alone: the identity of every row
-- (a join to the xref, which grows by a city each month) is read for these rows only
-- (1.3 s at 1,000,000 persons in their next month; 0.09 s this way, the same rows).
overlapping as (
    select member_key, month
    from assistance
    group by member_key, month
    having count(distinct household_key) > 1
        or count(distinct {{ district_of('division_code') }}) > 1
        or (bool_or(assistance_type = '低保') and bool_or(assistance_type = '特困'))
),

active as (
    select assistance.*, {{ record_identity('member') }} as identity
    from assistance
    inner join overlapping
        on overlapping.member_key = assistance.member_key
        and overlapping.month = assistance.month
    {{ join_person_key('assistance', 'assistance_recipients', 'member', 'member') }}
),

per_month as (
    select
        member_key as person_key,
        month,
        {{ ordered_list(struct_of(
            'feed', "'assistance_recipients'", 'delivery', '_delivery_id', 'file', '_source_file',
            'row', '_source_row',
            'values', struct_of(
                'month', 'month', 'family_no', 'family_no', 'division_code', 'division_code',
                'assistance_type', 'assistance_type', 'status', 'status'
            ),
            'identity', 'identity'
        ), ['household_key']) }} as rows
    from active
    group by member_key, month
),

islands as (
    select
        *,
        {{ month_index('month') }}
        - row_number() over (partition by person_key order by month) as island
    from per_month
),

final as (
    select
        'DUP_ASSIST' as rule_code,
        person_key,
        null::string as org_uscc,
        null::string as program_code,
        'assistance_recipients' as feed_id,
        null::string as attribute,
        min(month) as period_start,
        max(month) as period_end,
        null::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of(
            'months', ordered_list(struct_of('month', 'month', 'rows', 'rows'), ['month'])
        )) }} as evidence,
        person_key || '|' || min(month) as grain_key,
        null::string as division_code
    from islands
    group by person_key, island
)

select * from final
