-- GL_TIER_WRONG: an active 高龄津贴 register row whose tier or monthly standard does not
-- match the age-based due (tier by age on the 1st of the month). Grain person x month
-- range; amount_at_risk = (register standard - due standard) summed over the range.
with register as (
    select * from {{ ref('int_entitlement__register_months') }}
    where feed_id = 'elderly_allowance' and is_active and person_key is not null
),

due as (
    select * from {{ ref('int_entitlement__due') }}
    where program_code = 'GL'
),

per_month as (
    select
        register.person_key,
        register.month,
        max(register.register_standard) - max(due.due_amount) as difference,
        list({
            'feed': 'elderly_allowance', 'delivery': register._delivery_id,
            'file': register._source_file, 'row': register._source_row,
            'values': {
                'month': register.month, 'tier': register.register_key,
                'monthly_standard': register.register_standard::varchar,
                'due_tier': due.standard_key, 'due_standard': due.due_amount::varchar
            }
        }) as rows
    from register
    inner join due on due.person_key = register.person_key and due.month = register.month
    where register.register_key is distinct from due.standard_key
        or register.register_standard is distinct from due.due_amount
    group by register.person_key, register.month
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
        'GL_TIER_WRONG' as rule_code,
        person_key,
        null::varchar as org_uscc,
        'GL' as program_code,
        null::varchar as feed_id,
        null::varchar as attribute,
        min(month) as period_start,
        max(month) as period_end,
        sum(difference)::decimal(18, 2) as amount_at_risk,
        to_json({'months': flatten(list(rows order by month))})::varchar as evidence,
        person_key || '|' || min(month) as grain_key,
        null::varchar as division_code
    from islands
    group by person_key, island
)

select * from final
